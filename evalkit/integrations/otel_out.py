"""OpenTelemetry out: a run directory's results as traces, one trace per result, sent to an OTLP
endpoint over HTTP (the endpoint, headers and timeout from the `OTEL_EXPORTER_OTLP_*` variables,
as the OpenTelemetry SDK reads them).

Each trace has a root span `evalkit.case` (suite, case, variant, repeat, pass, scores) with
children following the GenAI semantic conventions: `chat MODEL` for the model call
(`gen_ai.operation.name`, `gen_ai.system`, `gen_ai.request.model`, `gen_ai.usage.*`,
`gen_ai.response.finish_reasons`), a span per step of the trace (`execute_tool NAME` for tools,
`chat NAME` for model steps, `retrieval NAME`), `retrieval` for a RAG variant's search, and
`chat MODEL` per judge (`evalkit.judge`). Results carry durations but not clock times, so every
case starts at the run's start and its steps follow one another.

An endpoint that fails costs one warning: exporting stops at the first failed batch, and each
batch waits at most `MAX_TIMEOUT_S`."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit._util import secrets
from evalkit.rundir.dir import RunDir
from evalkit.types import CaseResult, Step

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Span, Tracer

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
MAX_TIMEOUT_S = 3.0  # per batch: an unreachable endpoint never holds a run up longer
BATCH = 512  # spans per export request
MS = 1_000_000  # nanoseconds


def configured() -> bool:
    """An OTLP endpoint is set (and the SDK is not switched off): the run exports its traces."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(os.environ.get(name) for name in ENDPOINT_VARS)


def endpoint() -> str:
    """Where traces go, as the SDK resolves it (credentials in the URL masked)."""
    traces = os.environ.get(ENDPOINT_VARS[0])
    url = traces or os.environ.get(ENDPOINT_VARS[1], "http://localhost:4318").rstrip("/") + "/v1/traces"
    return secrets.redact_url(url)


@dataclass(frozen=True)
class Exported:
    traces: int
    spans: int
    seconds: float
    endpoint: str
    error: str | None = None  # why the export stopped (one line), None when everything was sent


def _keeper() -> Any:
    """A span processor that keeps finished spans for the exporter, in batches."""
    from opentelemetry.sdk.trace import SpanProcessor

    class Keep(SpanProcessor):
        def __init__(self) -> None:
            self.spans: list[ReadableSpan] = []

        def on_end(self, span: ReadableSpan) -> None:
            self.spans.append(span)

    return Keep()


@contextlib.contextmanager
def _quiet_sdk() -> Iterator[None]:
    """The exporter logs each failed attempt; evalkit says it once itself."""
    logger = logging.getLogger("opentelemetry")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _timeout() -> float:
    given = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TIMEOUT"
    )
    try:
        return min(float(given), MAX_TIMEOUT_S) if given else MAX_TIMEOUT_S
    except ValueError:
        return MAX_TIMEOUT_S


def export_run(run_dir: Path) -> Exported:
    """Send every result of a run as a trace; stops at the first batch the endpoint refuses."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult

    started = time.perf_counter()
    rd = RunDir(run_dir)
    parsed = rd.info_or_none()  # through the migrations, like every reader of run.json
    info: dict[str, Any] = parsed.model_dump(mode="json") if parsed is not None else {}
    attributes: dict[str, Any] = {"evalkit.run_id": str(info.get("run_id", run_dir.name))}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "evalkit"
    keep = _keeper()
    tracer_provider = TracerProvider(resource=Resource.create(attributes))
    tracer_provider.add_span_processor(keep)
    tracer = tracer_provider.get_tracer("evalkit")
    exporter = OTLPSpanExporter(timeout=_timeout())
    base_ns = _start_ns(info)
    systems = _systems(info)
    traces = sent = 0
    error = None
    with _quiet_sdk():
        for result in rd.results():
            case_spans(tracer, result, base_ns, systems.get(result.provider, result.provider))
            traces += 1
            if len(keep.spans) >= BATCH:
                error = _send(exporter, keep, SpanExportResult.SUCCESS)
                if error is not None:
                    break
                sent += BATCH
        if error is None and keep.spans:
            n = len(keep.spans)
            error = _send(exporter, keep, SpanExportResult.SUCCESS)
            sent += n if error is None else 0
        exporter.shutdown()  # type: ignore[no-untyped-call]
    return Exported(traces, sent, time.perf_counter() - started, endpoint(), error)


def _send(exporter: Any, keep: Any, success: Any) -> str | None:
    batch, keep.spans = keep.spans, []
    try:
        result = exporter.export(batch)
    except Exception as exc:  # the exporter should not raise; a broken endpoint must not end a run
        return f"{type(exc).__name__}: {secrets.scrub(str(exc))[:200]}"
    return None if result == success else f"the endpoint did not accept the spans ({endpoint()})"


def _start_ns(info: Mapping[str, Any]) -> int:
    try:
        return int(datetime.fromisoformat(str(info["started_at"])).timestamp() * 1e9)
    except (KeyError, ValueError):
        return time.time_ns()


def _systems(info: Mapping[str, Any]) -> dict[str, str]:
    """gen_ai.system per provider name: the provider's type (openai, transformers, vllm, ...)."""
    described = (info.get("plan") or {}).get("providers") or {}
    config = (info.get("config") or {}).get("providers") or {}
    out = {}
    for name in {*described, *config}:
        kind = (config.get(name) or {}).get("type") or (described.get(name) or {}).get("type")
        out[name] = str(kind or name)
    return out


def case_spans(tracer: Tracer, r: CaseResult, base_ns: int, system: str) -> None:
    """The trace of one result: its root span and the spans below it."""
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.trace import Status, StatusCode

    total_ms = r.latency_ms or 0.0
    # an empty context: a new trace, whatever span the calling process has open
    root = tracer.start_span(
        "evalkit.case", start_time=base_ns, attributes=_case_attributes(r), context=Context()
    )
    ctx = trace.set_span_in_context(root)
    at = base_ns
    if r.retrieval_query is not None:
        span = tracer.start_span("retrieval", context=ctx, start_time=at, attributes=_retrieval(r))
        span.end(end_time=at)
    if r.steps:
        for step in r.steps:
            at = _step_span(tracer, ctx, step, at, system)
    model = tracer.start_span(
        f"chat {r.model or r.provider}", context=ctx, start_time=base_ns, attributes=_chat(r, system)
    )
    if r.error is not None:
        model.set_status(Status(StatusCode.ERROR, r.error[:500]))
        root.set_status(Status(StatusCode.ERROR, r.error[:500]))
    end = max(at, base_ns + int(total_ms * MS))
    model.end(end_time=end)
    for name, usage in r.judges.items():
        judge = tracer.start_span(f"chat {usage.model or usage.provider}", context=ctx, start_time=end)
        judge.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": usage.provider,
                "gen_ai.request.model": usage.model or "",
                "gen_ai.usage.input_tokens": usage.input_tokens,
                "gen_ai.usage.output_tokens": usage.output_tokens,
                "evalkit.judge": name,
                "evalkit.judge.calls": usage.calls,
            }
        )
        judge.end(end_time=end)
    root.end(end_time=end)


def _case_attributes(r: CaseResult) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "evalkit.suite": r.suite,
        "evalkit.case_id": r.case_id,
        "evalkit.variant": r.variant,
        "evalkit.repeat": r.repeat,
        "evalkit.cached": r.cached,
    }
    passed = r.passed()
    if passed is not None:
        attrs["evalkit.passed"] = passed
    for name, score in r.scores.items():
        if score.value is not None:
            attrs[f"evalkit.score.{name}"] = float(score.value)
    if r.cost_usd is not None:
        attrs["evalkit.cost_usd"] = r.cost_usd
    return attrs


def _chat(r: CaseResult, system: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.system": system}
    if r.model:
        attrs["gen_ai.request.model"] = r.model
    if r.model_version:
        attrs["gen_ai.response.model"] = r.model_version
    if r.usage.input_tokens is not None:
        attrs["gen_ai.usage.input_tokens"] = r.usage.input_tokens
    if r.usage.output_tokens is not None:
        attrs["gen_ai.usage.output_tokens"] = r.usage.output_tokens
    if r.finish_reason:
        attrs["gen_ai.response.finish_reasons"] = [r.finish_reason]
    if r.ttft_ms is not None:
        attrs["evalkit.ttft_ms"] = r.ttft_ms
    return attrs


def _retrieval(r: CaseResult) -> dict[str, Any]:
    return {
        "evalkit.retrieval.query": r.retrieval_query or "",
        "evalkit.retrieval.ids": list(r.retrieval_ids or []),
    }


def _step_span(tracer: Tracer, ctx: Any, step: Step, at: int, system: str) -> int:
    from opentelemetry.trace import Status, StatusCode

    end = at + int((step.latency_ms or 0.0) * MS)
    if step.type == "tool":
        name = f"execute_tool {step.name}"
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": step.name,
            "gen_ai.tool.call.id": step.id,
            "gen_ai.tool.type": "function",
        }
    elif step.type == "llm":
        name = f"chat {step.name}"
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.system": system, "gen_ai.request.model": step.name}
    else:
        name = f"{step.type} {step.name}"
        attrs = {"evalkit.step.type": step.type}
    attrs["evalkit.step.id"] = step.id
    if step.tokens is not None:
        attrs["evalkit.step.tokens"] = step.tokens
    span: Span = tracer.start_span(name, context=ctx, start_time=at, attributes=attrs)
    if step.error is not None:
        span.set_status(Status(StatusCode.ERROR, step.error[:500]))
    span.end(end_time=end)
    return end
