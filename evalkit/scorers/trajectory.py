"""Trajectory scorers: which tools a model or agent called, with which arguments, in which order,
in how many steps, and whether it went round in circles. They read the case's expectations
(`expected_tools`, `forbidden_tools`, `expected_tool_calls`, `max_steps`; evalkit.tools.expect)
and the result's tool calls and steps. A case without the expectation a scorer needs gets no
score from it (rather than an unmeasured one). Reasons name the offending step."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Literal

from evalkit.plugins import scorer
from evalkit.scorers.base import Scorer
from evalkit.tools.expect import ExpectedCall, arguments_match
from evalkit.types import Score, ScoreInput, ToolCall


def _verdict(name: str, ok: bool, reason: str | None) -> Score:
    return Score(name=name, value=1.0 if ok else 0.0, passed=ok, reason=None if ok else reason)


def where(item: ScoreInput, index: int) -> str:
    """How a reason names the index-th tool call: its trace step when there is one."""
    call = item.tool_calls[index]
    tool_steps = [s for s in item.steps if s.type == "tool"]
    if index < len(tool_steps) and tool_steps[index].name == call.name:
        return f"step {tool_steps[index].id} ({call.name})"
    return f"tool call {index + 1} ({call.name})"


def _args(call: ToolCall) -> Any:
    return call.arguments if call.raw_arguments is None else call.raw_arguments


class _Trajectory(Scorer):
    def __init__(self, name: str):
        self.names = (name,)

    @property
    def name(self) -> str:
        return self.names[0]


class _ToolCalled(_Trajectory):
    def score_one(self, item: ScoreInput) -> list[Score]:
        expected = item.expect.names() if item.expect is not None else None
        if not expected:
            return []
        called = {c.name for c in item.tool_calls}
        missing = [n for n in dict.fromkeys(expected) if n not in called]
        return [_verdict(self.name, not missing, f"never called: {', '.join(missing)}")]


class _ToolNotCalled(_Trajectory):
    def score_one(self, item: ScoreInput) -> list[Score]:
        if item.expect is None or not item.expect.forbidden_tools:
            return []
        forbidden = set(item.expect.forbidden_tools)
        bad = next((i for i, c in enumerate(item.tool_calls) if c.name in forbidden), None)
        return [_verdict(self.name, bad is None, None if bad is None else f"{where(item, bad)} is forbidden")]


class _ToolCallF1(_Trajectory):
    """F1 between the calls made and the calls expected (as multisets): over names, or over
    name and arguments (an actual call counts when some unmatched expected call accepts it)."""

    def __init__(self, name: str, with_arguments: bool):
        super().__init__(name)
        self.with_arguments = with_arguments

    def score_one(self, item: ScoreInput) -> list[Score]:
        if item.expect is None:
            return []
        if self.with_arguments:
            if item.expect.expected_tool_calls is None:
                return []
            expected: list[ExpectedCall] = list(item.expect.expected_tool_calls)
        else:
            names = item.expect.names()
            if names is None:
                return []
            expected = [ExpectedCall(name=n) for n in names]
        unmatched = list(expected)
        extra: list[int] = []
        for i, call in enumerate(item.tool_calls):
            hit = next(
                (e for e in unmatched if e.name == call.name and arguments_match(e, call.arguments) is None),
                None,
            )
            if hit is None or call.raw_arguments is not None:
                extra.append(i)
            else:
                unmatched.remove(hit)
        matched = len(expected) - len(unmatched)
        value = _f1(matched, len(item.tool_calls), len(expected))
        problems = [f"unexpected {where(item, i)}" for i in extra[:2]]
        problems += [f"missing {e.name}" for e in unmatched[:2]]
        return [Score(name=self.name, value=value, reason="; ".join(problems) or None)]


def _f1(matched: int, actual: int, expected: int) -> float:
    if actual == 0 and expected == 0:
        return 1.0
    if matched == 0:
        return 0.0
    precision, recall = matched / actual, matched / expected
    return 2 * precision * recall / (precision + recall)


class _ToolOrder(_Trajectory):
    def __init__(self, name: str, mode: str):
        super().__init__(name)
        self.mode = mode

    def score_one(self, item: ScoreInput) -> list[Score]:
        expected = item.expect.names() if item.expect is not None else None
        if expected is None:
            return []
        called = [c.name for c in item.tool_calls]
        if self.mode == "strict":
            reason = _strict(item, called, list(expected))
        elif self.mode == "in_order":
            reason = _in_order(item, called, list(expected))
        else:
            missing = Counter(expected) - Counter(called)
            reason = f"never called: {', '.join(sorted(missing))}" if missing else None
        return [_verdict(self.name, reason is None, reason)]


def _strict(item: ScoreInput, called: list[str], expected: list[str]) -> str | None:
    for i, (got, want) in enumerate(zip(called, expected, strict=False)):
        if got != want:
            return f"{where(item, i)}: expected {want}"
    if len(called) > len(expected):
        return f"{where(item, len(expected))}: expected no more calls"
    if len(called) < len(expected):
        return f"stopped after {len(called)} call(s): expected {expected[len(called)]} next"
    return None


def _in_order(item: ScoreInput, called: list[str], expected: list[str]) -> str | None:
    """Expected calls must appear in this order; other calls may come in between."""
    position = 0
    previous: int | None = None
    for want in expected:
        while position < len(called) and called[position] != want:
            position += 1
        if position == len(called):
            if previous is None:
                return f"{want} is not called"
            earlier = next((i for i in range(previous) if called[i] == want), None)
            if earlier is not None:
                return f"{where(item, earlier)} comes before {where(item, previous)}"
            return f"{want} is not called after {where(item, previous)}"
        previous = position
        position += 1
    return None


class _ToolArguments(_Trajectory):
    """Each expected call is paired with an unpaired call of that tool whose arguments match
    (order-free, as BFCL pairs parallel calls); when none matches, the reason is the first such
    call's. With `extra_calls: fail`, calls that pair with no expected call count against it."""

    def __init__(self, name: str, extra_calls: str):
        super().__init__(name)
        self.extra_calls = extra_calls

    def score_one(self, item: ScoreInput) -> list[Score]:
        if item.expect is None or not item.expect.expected_tool_calls:
            return []
        checked = [e for e in item.expect.expected_tool_calls if e.arguments is not None]
        if not checked:
            return []
        used: set[int] = set()
        wrong: set[int] = set()
        good, problems = 0, []
        for expected in checked:
            candidates = [
                i for i, c in enumerate(item.tool_calls) if c.name == expected.name and i not in used
            ]
            if not candidates:
                problems.append(f"{expected.name} never called")
                continue
            reasons = {i: _call_problem(expected, item.tool_calls[i]) for i in candidates}
            hit = next((i for i in candidates if reasons[i] is None), None)
            if hit is None:
                wrong.add(candidates[0])
                problems.append(f"{where(item, candidates[0])}: {reasons[candidates[0]]}")
                continue
            used.add(hit)
            good += 1
        total = len(checked)
        if self.extra_calls == "fail":
            extra = [i for i in range(len(item.tool_calls)) if i not in used and i not in wrong]
            total += len(extra)
            problems += [f"unexpected {where(item, i)}" for i in extra]
        value = good / total
        return [
            Score(name=self.name, value=value, passed=value == 1.0, reason="; ".join(problems[:3]) or None)
        ]


def _call_problem(expected: ExpectedCall, call: ToolCall) -> str | None:
    if call.raw_arguments is not None:
        return "arguments are not valid JSON"
    return arguments_match(expected, call.arguments)


class _StepBudget(_Trajectory):
    def __init__(self, name: str, max_steps: int | None):
        super().__init__(name)
        self.max_steps = max_steps

    def score_one(self, item: ScoreInput) -> list[Score]:
        budget = (
            item.expect.max_steps if item.expect is not None and item.expect.max_steps else self.max_steps
        )
        if budget is None:
            return []
        steps = len(item.steps) if item.steps else len(item.tool_calls) + 1
        reason = None
        if steps > budget:
            over = item.steps[budget].id if len(item.steps) > budget else None
            reason = f"{steps} steps, budget {budget}" + (f": step {over} is over it" if over else "")
        return [_verdict(self.name, reason is None, reason)]


class _ToolLoop(_Trajectory):
    """Fails when the same call (tool and arguments) is made more than `max_repeats` times."""

    def __init__(self, name: str, max_repeats: int):
        super().__init__(name)
        self.max_repeats = max_repeats

    def score_one(self, item: ScoreInput) -> list[Score]:
        if not item.tool_calls and not item.steps:
            return []
        seen: Counter[str] = Counter()
        for i, call in enumerate(item.tool_calls):
            key = call.name + json.dumps(_args(call), sort_keys=True, default=str)
            seen[key] += 1
            if seen[key] > self.max_repeats:
                return [
                    _verdict(
                        self.name,
                        False,
                        f"{where(item, i)} is call {seen[key]} of the same tool and arguments",
                    )
                ]
        return [_verdict(self.name, True, None)]


@scorer("tool_called", kind="pass_fail", description="every expected tool was called")
def tool_called(name: str = "tool_called") -> Scorer:
    return _ToolCalled(name)


@scorer("tool_not_called", kind="pass_fail", description="no forbidden tool was called")
def tool_not_called(name: str = "tool_not_called") -> Scorer:
    return _ToolNotCalled(name)


@scorer(
    "tool_call_f1",
    value_range=(0.0, 1.0),
    description="F1 of tool calls made vs expected (names, or names + arguments)",
)
def tool_call_f1(arguments: bool = False, name: str | None = None) -> Scorer:
    return _ToolCallF1(name or ("tool_call_f1_args" if arguments else "tool_call_f1"), arguments)


@scorer(
    "tool_order", kind="pass_fail", description="tool calls in the expected order: strict, in_order or any"
)
def tool_order(mode: Literal["strict", "in_order", "any"] = "strict", name: str = "tool_order") -> Scorer:
    return _ToolOrder(name, mode)


@scorer(
    "tool_arguments",
    verdict=True,  # a case passes when every checked call had the right arguments
    value_range=(0.0, 1.0),
    description="share of expected tool calls made with correct arguments",
)
def tool_arguments(extra_calls: Literal["allow", "fail"] = "allow", name: str = "tool_arguments") -> Scorer:
    return _ToolArguments(name, extra_calls)


@scorer("step_budget", kind="pass_fail", description="the trace took no more steps than allowed")
def step_budget(max_steps: int | None = None, name: str = "step_budget") -> Scorer:
    if max_steps is not None and max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    return _StepBudget(name, max_steps)


@scorer(
    "tool_loop",
    kind="pass_fail",
    description="no tool call (same tool, same arguments) repeated more than allowed",
)
def tool_loop(max_repeats: int = 1, name: str = "tool_loop") -> Scorer:
    if max_repeats < 1:
        raise ValueError("max_repeats must be at least 1")
    return _ToolLoop(name, max_repeats)


class _TraceFigures(Scorer):
    """Per-case sums over the trace, as scores (so thresholds and the baseline gate apply):
    steps, tool errors, step latency, tokens and cost; and the latency of named steps."""

    def __init__(self, steps: list[str]):
        self.step_names = tuple(steps)
        base = ("trace_steps", "trace_tool_errors", "trace_latency_ms", "trace_tokens", "trace_cost_usd")
        self.names = base + tuple(f"step.{n}_ms" for n in self.step_names)

    def score_one(self, item: ScoreInput) -> list[Score]:
        steps = item.steps
        if not steps:
            return []
        out = [
            Score(name="trace_steps", value=float(len(steps))),
            Score(
                name="trace_tool_errors", value=float(sum(1 for s in steps if s.type == "tool" and s.error))
            ),
        ]
        for name, values in (
            ("trace_latency_ms", [s.latency_ms for s in steps]),
            ("trace_tokens", [s.tokens for s in steps]),
            ("trace_cost_usd", [s.cost_usd for s in steps]),
        ):
            known = [float(v) for v in values if v is not None]
            if known:
                out.append(Score(name=name, value=sum(known)))
        for step_name in self.step_names:
            known = [s.latency_ms for s in steps if s.name == step_name and s.latency_ms is not None]
            if known:
                out.append(Score(name=f"step.{step_name}_ms", value=sum(known)))
        return out


@scorer(
    "trace",
    higher_is_better=False,
    description="per-case trace sums: steps, tool errors, latency, tokens, cost",
)
def trace(steps: list[str] | None = None) -> Scorer:
    return _TraceFigures(steps or [])
