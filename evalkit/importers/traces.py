"""`evalkit import traces FILE_OR_DIR`: an application's own traces (OTLP JSON exports, with the
OpenTelemetry GenAI or the OpenInference attribute conventions) as evalkit cases with their
recorded outputs and steps, so trajectory scorers, judges and the gate run on real traffic.

One trace is one case: the root span's input is the case's `input` var and its output the answer;
every other span is a step (`evalkit.types.Step`, the trace format the `python` provider returns),
typed llm, tool, retrieval or other. The answers are written as a results file that the `replay`
provider serves, so `evalkit run` scores them without calling anything.

`sample` keeps a deterministic fraction of the traces (by a hash of the trace id); `scrub_pii`
replaces e-mail addresses, phone, card and US social security numbers and API keys (the `pii`
scorer's patterns) in inputs, outputs and steps with `[EMAIL]`, `[PHONE]`, ..."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalkit.errors import UserInputError
from evalkit.importers.otlp_json import Span, read_spans, trace_files
from evalkit.rundir.files import write_jsonl
from evalkit.scorers.safety import PII_PATTERNS
from evalkit.types import CaseResult, Message, Step, ToolCall, Usage

PROVIDER = "production"
KINDS = {  # OpenInference span kinds and GenAI operation names → step types
    "LLM": "llm",
    "TOOL": "tool",
    "RETRIEVER": "retrieval",
    "RERANKER": "retrieval",
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "execute_tool": "tool",
}


@dataclass
class Imported:
    suite: Path
    results: Path
    config: Path | None  # written when the folder had no evalkit.yaml
    traces: int = 0
    cases: int = 0
    skipped: list[str] = field(default_factory=list)  # "trace ID: why", for traces not imported


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _message_text(messages: Any, role: str | None) -> str | None:
    """The text of the last message (of `role`) in GenAI or OpenAI-style message lists."""
    if not isinstance(messages, list):
        return None
    for m in reversed(messages):
        if not isinstance(m, dict) or (role is not None and m.get("role") != role):
            continue
        if isinstance(m.get("content"), str):
            return str(m["content"])
        texts = [
            p.get("content") for p in m.get("parts") or [] if isinstance(p, dict) and p.get("type") == "text"
        ]
        if texts:
            return "\n".join(str(t) for t in texts)
    return None


def _indexed(attrs: dict[str, Any], prefix: str, role: str | None) -> str | None:
    """OpenLLMetry / OpenInference flattened messages: PREFIX.N.(message.)role / content."""
    found: list[tuple[int, str | None, str]] = []
    for key, value in attrs.items():
        if key.startswith(prefix) and key.endswith("content"):
            parts = key[len(prefix) :].split(".")
            if parts[0].isdigit():
                n = int(parts[0])
                who = attrs.get(key[: -len("content")] + "role")
                found.append((n, who, str(value)))
    matching = [f for f in sorted(found) if role is None or f[1] in (role, None)]
    return matching[-1][2] if matching else None


def input_text(span: Span) -> str | None:
    a = span.attributes
    for candidate in (
        a.get("input.value"),
        _message_text(_json(a.get("gen_ai.input.messages")), "user"),
        _indexed(a, "gen_ai.prompt.", "user"),
        _indexed(a, "llm.input_messages.", "user"),
        a.get("gen_ai.prompt"),
        next((e.get("content") for n, e in span.events if n == "gen_ai.user.message"), None),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def output_text(span: Span) -> str | None:
    a = span.attributes
    for candidate in (
        a.get("output.value"),
        _message_text(_json(a.get("gen_ai.output.messages")), None),
        _indexed(a, "gen_ai.completion.", None),
        _indexed(a, "llm.output_messages.", None),
        a.get("gen_ai.completion"),
        a.get("gen_ai.tool.call.result"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _tokens(span: Span) -> tuple[int | None, int | None]:
    a = span.attributes
    inp = a.get("gen_ai.usage.input_tokens", a.get("llm.token_count.prompt"))
    out = a.get("gen_ai.usage.output_tokens", a.get("llm.token_count.completion"))
    return (int(inp) if inp is not None else None, int(out) if out is not None else None)


def step_of(span: Span) -> Step:
    a = span.attributes
    kind = KINDS.get(str(a.get("openinference.span.kind") or a.get("gen_ai.operation.name") or ""), "other")
    if kind == "tool":
        name = a.get("tool.name") or a.get("gen_ai.tool.name") or span.name
        given = a.get("tool.parameters", a.get("gen_ai.tool.call.arguments", a.get("input.value")))
        step_input: Any = _json(given)
    elif kind == "llm":
        name = a.get("llm.model_name") or a.get("gen_ai.request.model") or span.name
        step_input = input_text(span)
    else:
        name, step_input = span.name, _json(a.get("input.value"))
    inp, out = _tokens(span)
    tokens = (inp or 0) + (out or 0) if inp is not None or out is not None else None
    output = (
        _json(a.get("output.value", a.get("gen_ai.tool.call.result"))) if kind != "llm" else output_text(span)
    )
    return Step(
        id=span.span_id,
        type=kind,
        name=str(name),
        input=step_input,
        output=output,
        latency_ms=round(span.latency_ms, 3),
        tokens=tokens,
        error=span.error,
    )


def kept(trace_id: str, fraction: float, seed: str) -> bool:
    """Whether a trace is in the sample: a hash of the seed and its id, below the fraction."""
    if fraction >= 1:
        return True
    digest = hashlib.sha256(f"{seed}:{trace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def scrub(value: Any) -> Any:
    """Personal data in a JSON value replaced by the kind's name ([EMAIL], [PHONE], ...)."""
    if isinstance(value, str):
        for kind, pattern in PII_PATTERNS.items():
            value = pattern.sub(f"[{kind.upper()}]", value)
        return value
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    return value


def case_of(spans: list[Span], suite: str, pii: bool) -> tuple[dict[str, Any], CaseResult] | str:
    """A trace's case and its recorded result, or why it cannot be one."""
    ids = {s.span_id for s in spans}
    roots = sorted((s for s in spans if s.parent_id not in ids), key=lambda s: s.start_ns)
    root = roots[0]
    rest = sorted((s for s in spans if s is not root), key=lambda s: (s.start_ns, s.end_ns))
    steps = [step_of(s) for s in rest]
    llm = [
        s
        for s in [root, *rest]
        if KINDS.get(
            str(
                s.attributes.get("openinference.span.kind") or s.attributes.get("gen_ai.operation.name") or ""
            )
        )
        == "llm"
    ]
    question = input_text(root) or next((t for s in llm if (t := input_text(s))), None)
    answer = output_text(root) or next((t for s in reversed(llm) if (t := output_text(s))), None)
    if question is None:
        return "no input found on its root span or model calls"
    if answer is None and root.error is None:
        return "no output found on its root span or model calls"
    if pii:
        question, answer = scrub(question), scrub(answer)
        steps = [s.model_copy(update={"input": scrub(s.input), "output": scrub(s.output)}) for s in steps]
    tokens = [_tokens(s) for s in (llm or [root])]
    model = next(
        (
            str(m)
            for s in [root, *llm]
            if (m := s.attributes.get("gen_ai.request.model") or s.attributes.get("llm.model_name"))
        ),
        None,
    )
    case_id = f"t-{root.trace_id[:16]}"
    case = {
        "id": case_id,
        "vars": {"input": question},
        "metadata": {"trace_id": root.trace_id, "service": root.service},
    }
    result = CaseResult(
        suite=suite,
        case_id=case_id,
        variant=PROVIDER,
        repeat=0,
        provider=PROVIDER,
        model=model,
        messages=[Message(role="user", content=question)],
        output=answer,
        error=root.error if answer is None else None,
        latency_ms=round(root.latency_ms, 3),
        usage=Usage(
            input_tokens=sum(t[0] or 0 for t in tokens) if any(t[0] is not None for t in tokens) else None,
            output_tokens=sum(t[1] or 0 for t in tokens) if any(t[1] is not None for t in tokens) else None,
        ),
        steps=steps or None,
        tool_calls=[ToolCall(id=s.id, name=s.name, arguments=s.input) for s in steps if s.type == "tool"]
        or None,
    )
    return case, result


def import_traces(
    source: Path,
    out: Path,
    *,
    suite: str = "production",
    sample: float = 1.0,
    seed: str = "evalkit",
    scrub_pii: bool = False,
) -> Imported:
    """Write out/suites/SUITE.yaml (the cases), out/traces/SUITE.jsonl (their recorded answers)
    and, when there is none, out/evalkit.yaml with a `production` replay provider and variant."""
    if not 0 < sample <= 1:
        raise UserInputError(f"--sample must be a fraction in (0, 1], not {sample}")
    traces: dict[str, list[Span]] = defaultdict(list)
    for path in trace_files(source):
        for span in read_spans(path):
            traces[span.trace_id].append(span)
    report = Imported(
        out / "suites" / f"{suite}.yaml", out / "traces" / f"{suite}.jsonl", None, traces=len(traces)
    )
    cases: list[dict[str, Any]] = []
    results: list[CaseResult] = []
    for trace_id, spans in traces.items():
        if not kept(trace_id, sample, seed):
            continue
        got = case_of(spans, suite, scrub_pii)
        if isinstance(got, str):
            report.skipped.append(f"trace {trace_id}: {got}")
            continue
        cases.append(got[0])
        results.append(got[1])
    if not cases:
        raise UserInputError(
            "no trace could be turned into a case" + (f" ({report.skipped[0]})" if report.skipped else ""),
            path=source,
        )
    report.cases = len(cases)
    _write(out, suite, source, cases, results, report)
    return report


def _write(
    out: Path,
    suite: str,
    source: Path,
    cases: list[dict[str, Any]],
    results: list[CaseResult],
    report: Imported,
) -> None:
    report.suite.parent.mkdir(parents=True, exist_ok=True)
    report.results.parent.mkdir(parents=True, exist_ok=True)
    spec = {
        "name": suite,
        "description": f"production traces imported from {source.name}",
        "prompt": "{{ input }}",
        "scorers": [],
        "cases": cases,
    }
    report.suite.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    write_jsonl(report.results, results)
    config = out / "evalkit.yaml"
    if not config.exists():
        # the replay provider reads its path from the working directory, as the import was given it
        replay = {"type": "replay", "results": str(report.results), "match": "case"}
        text = yaml.safe_dump(
            {
                "providers": {PROVIDER: replay},
                "variants": {PROVIDER: {"provider": PROVIDER}},
                "suites": ["suites"],
            },
            sort_keys=False,
        )
        config.write_text(text, encoding="utf-8")
        report.config = config
