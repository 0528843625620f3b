"""Trajectory scorers on hand-built traces; tool-call F1 checked against scikit-learn's F1."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sklearn.metrics import f1_score
from sklearn.preprocessing import MultiLabelBinarizer

from evalkit.errors import UserInputError
from evalkit.scorers.base import build_scorer
from evalkit.spec.suite import ScorerSpec
from evalkit.tools.expect import ExpectedCall, ToolExpectations
from evalkit.types import Score, ScoreInput, Step, ToolCall


def calls(*specs: tuple[str, Any]) -> tuple[ToolCall, ...]:
    return tuple(ToolCall(id=f"c{i}", name=n, arguments=a) for i, (n, a) in enumerate(specs))


def trace(tool_calls: tuple[ToolCall, ...]) -> tuple[Step, ...]:
    """A loop's steps: a model step before each tool step, and a final model step."""
    steps: list[Step] = []
    for call in tool_calls:
        steps.append(Step(id=f"s{len(steps) + 1}", type="llm", name="model"))
        steps.append(Step(id=f"s{len(steps) + 1}", type="tool", name=call.name, input=call.arguments))
    steps.append(Step(id=f"s{len(steps) + 1}", type="llm", name="model"))
    return tuple(steps)


def item(made: tuple[ToolCall, ...], with_steps: bool = True, **expect: Any) -> ScoreInput:
    return ScoreInput(
        output="answer",
        references=(),
        vars={},
        case_id="c",
        tool_calls=made,
        steps=trace(made) if with_steps else (),
        expect=ToolExpectations(**expect) if expect else None,
    )


def score(kind: str, it: ScoreInput, **options: Any) -> list[Score]:
    return build_scorer(ScorerSpec(type=kind, **options), "test").score_one(it)


def sk_f1(expected: list[str], made: list[str]) -> float:
    """scikit-learn's F1 over multisets: the k-th call of a tool is its own label."""

    def labels(names: list[str]) -> list[str]:
        seen: Counter[str] = Counter()
        out = []
        for n in names:
            seen[n] += 1
            out.append(f"{n}#{seen[n]}")
        return out

    binarizer = MultiLabelBinarizer().fit([labels(expected) + labels(made)])
    y_true, y_pred = binarizer.transform([labels(expected)]), binarizer.transform([labels(made)])
    return float(f1_score(y_true, y_pred, average="micro", zero_division=1.0))


@pytest.mark.parametrize(
    ("expected", "made"),
    [
        (["search", "fetch"], ["search", "fetch"]),
        (["search", "fetch"], ["search"]),
        (["search", "fetch"], ["search", "search", "fetch", "delete"]),
        (["search", "search"], ["search"]),
        (["a", "b", "c"], ["d"]),
    ],
)
def test_tool_call_f1_over_names_matches_sklearn(expected: list[str], made: list[str]) -> None:
    (s,) = score("tool_call_f1", item(calls(*((n, {}) for n in made)), expected_tools=expected))
    assert s.name == "tool_call_f1"
    assert s.value == pytest.approx(sk_f1(expected, made))


def test_tool_call_f1_with_arguments_counts_only_matching_calls() -> None:
    expected = [
        ExpectedCall(name="get", arguments={"id": 1}),
        ExpectedCall(name="get", arguments={"id": 2}, match="subset"),
        ExpectedCall(name="put", arguments={"type": "object", "required": ["v"]}, match="schema"),
    ]
    made = calls(("get", {"id": 2, "verbose": True}), ("get", {"id": 3}), ("put", {"v": 1}))
    (s,) = score("tool_call_f1", item(made, expected_tool_calls=expected), arguments=True)
    assert s.name == "tool_call_f1_args"
    # matched: get{id:2} (subset) and put (schema); get{id:3} matches neither get expectation
    assert s.value == pytest.approx(sk_f1(["get", "put", "get-1"], ["get", "put", "get-3"]))
    assert s.reason == "unexpected step s4 (get); missing get"


def test_tool_called_and_not_called() -> None:
    made = calls(("search", {}), ("delete", {"all": True}))
    (called,) = score("tool_called", item(made, expected_tools=["search", "summarise"]))
    assert called.passed is False and called.reason == "never called: summarise"
    (forbidden,) = score("tool_not_called", item(made, forbidden_tools=["delete"]))
    assert forbidden.passed is False and forbidden.reason == "step s4 (delete) is forbidden"
    (fine,) = score("tool_not_called", item(made[:1], forbidden_tools=["delete"]))
    assert fine.passed is True and fine.value == 1.0
    assert score("tool_not_called", item(made, expected_tools=["x"])) == []  # nothing forbidden: no score


@pytest.mark.parametrize(
    ("mode", "made", "ok", "reason"),
    [
        ("strict", ["a", "b", "c"], True, None),
        ("strict", ["a", "c", "b"], False, "step s4 (c): expected b"),
        ("strict", ["a", "b", "c", "d"], False, "step s8 (d): expected no more calls"),
        ("strict", ["a", "b"], False, "stopped after 2 call(s): expected c next"),
        ("in_order", ["a", "x", "b", "y", "c"], True, None),
        ("in_order", ["a", "c", "b"], False, "step s4 (c) comes before step s6 (b)"),
        ("in_order", ["a", "b"], False, "c is not called after step s4 (b)"),
        ("any", ["c", "b", "a"], True, None),
        ("any", ["c", "a"], False, "never called: b"),
    ],
)
def test_tool_order(mode: str, made: list[str], ok: bool, reason: str | None) -> None:
    (s,) = score(
        "tool_order", item(calls(*((n, {}) for n in made)), expected_tools=["a", "b", "c"]), mode=mode
    )
    assert s.passed is ok and s.reason == reason


def test_tool_order_without_steps_names_the_call() -> None:
    made = calls(("b", {}), ("a", {}))
    (s,) = score("tool_order", item(made, with_steps=False, expected_tools=["a", "b"]))
    assert s.reason == "tool call 1 (b): expected a"


def test_tool_arguments_names_the_wrong_step() -> None:
    expected = [
        ExpectedCall(name="get", arguments={"id": 1}),
        ExpectedCall(name="put", arguments={"v": "x"}, match="subset"),
        ExpectedCall(name="log", arguments=None),
    ]
    made = calls(("get", {"id": 1}), ("put", {"v": "y"}), ("log", {}))
    (s,) = score("tool_arguments", item(made, expected_tool_calls=expected))
    assert s.value == pytest.approx(1 / 2) and s.passed is False
    assert s.reason == 'step s4 (put): argument \'v\' is "y", expected "x"'
    raw = (ToolCall(id="r", name="get", arguments=None, raw_arguments="{bad"),)
    (bad,) = score("tool_arguments", item(raw, expected_tool_calls=expected[:1]))
    assert bad.value == 0.0 and bad.reason == "step s2 (get): arguments are not valid JSON"


def test_schema_match_reports_the_failing_path() -> None:
    expected = [
        ExpectedCall(
            name="f", arguments={"type": "object", "properties": {"n": {"type": "integer"}}}, match="schema"
        )
    ]
    (s,) = score("tool_arguments", item(calls(("f", {"n": "seven"})), expected_tool_calls=expected))
    assert s.passed is False and s.reason == "step s2 (f): arguments at n: 'seven' is not of type 'integer'"


def test_step_budget_from_case_or_option() -> None:
    made = calls(("a", {}), ("b", {}), ("c", {}))  # 7 steps
    (over,) = score("step_budget", item(made, max_steps=5))
    assert over.passed is False and over.reason == "7 steps, budget 5: step s6 is over it"
    (within,) = score("step_budget", item(made, expected_tools=["a"]), max_steps=7)
    assert within.passed is True
    assert score("step_budget", item(made, expected_tools=["a"])) == []


def test_tool_loop_flags_the_repeated_call() -> None:
    made = calls(("get", {"id": 1}), ("get", {"id": 2}), ("get", {"id": 1}))
    (s,) = score("tool_loop", item(made))
    assert s.passed is False and s.reason == "step s6 (get) is call 2 of the same tool and arguments"
    (allowed,) = score("tool_loop", item(made), max_repeats=2)
    assert allowed.passed is True


def test_bad_options_are_user_errors() -> None:
    with pytest.raises(UserInputError, match="mode"):
        build_scorer(ScorerSpec(type="tool_order", mode="sideways"), "suite.yaml: scorers[0]")
    with pytest.raises(UserInputError, match="max_repeats must be at least 1"):
        build_scorer(ScorerSpec(type="tool_loop", max_repeats=0), "suite.yaml: scorers[0]")


def test_trace_figures_sum_the_steps() -> None:
    steps = (
        Step(id="1", type="llm", name="model", latency_ms=100.0, tokens=40, cost_usd=0.002),
        Step(id="2", type="tool", name="get", latency_ms=5.5, error="TimeoutError"),
        Step(id="3", type="llm", name="model", latency_ms=80.0, tokens=20, cost_usd=0.001),
    )
    it = ScoreInput(output="a", references=(), vars={}, case_id="c", steps=steps)
    scores = {
        s.name: s.value
        for s in build_scorer(ScorerSpec(type="trace", steps=["model", "get"]), "t").score_one(it)
    }
    assert scores == {
        "trace_steps": 3.0,
        "trace_tool_errors": 1.0,
        "trace_latency_ms": pytest.approx(185.5),
        "trace_tokens": 60.0,
        "trace_cost_usd": pytest.approx(0.003),
        "step.model_ms": pytest.approx(180.0),
        "step.get_ms": pytest.approx(5.5),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "tool_called",
        "tool_not_called",
        "tool_call_f1",
        "tool_order",
        "tool_arguments",
        "step_budget",
        "tool_loop",
    ],
)
def test_trajectory_scores_are_bounded_so_their_cis_stay_within_0_and_1(kind: str) -> None:
    from evalkit.stats import mean_ci

    scorer = build_scorer(ScorerSpec(type=kind), "t")
    assert scorer.info.value_range == (0.0, 1.0)
    _, _, low, high = mean_ci([1.0] + [0.0] * 16, bounds=scorer.info.value_range)
    assert 0.0 <= low < high <= 1.0


def test_parallel_calls_of_one_tool_pair_in_any_order() -> None:
    """BFCL pairs parallel calls order-free: the first call of a tool is not forced onto the
    first expected call of that tool."""
    expected = (ExpectedCall(name="f", arguments={"x": 1}), ExpectedCall(name="f", arguments={"x": 2}))
    (s,) = score(
        "tool_arguments", item(calls(("f", {"x": 2}), ("f", {"x": 1})), expected_tool_calls=expected)
    )
    assert s.value == 1.0 and s.passed is True
    (s,) = score(
        "tool_arguments", item(calls(("f", {"x": 2}), ("f", {"x": 3})), expected_tool_calls=expected)
    )
    assert s.value == 0.5 and s.passed is False and "expected 1" in (s.reason or "")


def test_extra_calls_fail_only_when_asked() -> None:
    expected = (ExpectedCall(name="f", arguments={"x": 1}),)
    made = calls(("f", {"x": 1}), ("g", {}))
    (allowed,) = score("tool_arguments", item(made, expected_tool_calls=expected))
    assert allowed.value == 1.0 and allowed.passed is True
    (strict,) = score("tool_arguments", item(made, expected_tool_calls=expected), extra_calls="fail")
    assert strict.value == 0.5 and strict.passed is False
    assert strict.reason == "unexpected step s4 (g)"
