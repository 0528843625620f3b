"""BFCL's own AST checker (from the bfcl-eval package) and its data, for the agreement tests."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

CHECKER_MODEL = "evalkit"  # the name BFCL's checker is told the outputs came from


@dataclass
class _ModelConfig:
    underscore_to_dot: bool


@pytest.fixture(scope="session")
def bfcl_checker() -> Callable[[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], str], bool]:
    """`bfcl_eval.eval_checker.ast_eval.ast_checker` itself. Its module imports BFCL's model
    registry (every vendor SDK) only to ask whether a model's names had their dots replaced;
    that one module is replaced by a registry holding the outputs' model, which keeps dots
    (evalkit maps `spotify_play` back to `spotify.play` before scoring). The checker's code runs
    unchanged."""
    pytest.importorskip(
        "bfcl_eval", reason="pip install --no-deps bfcl-eval (the README's test command does)"
    )
    registry = types.ModuleType("bfcl_eval.constants.model_config")
    registry.MODEL_CONFIG_MAPPING = {CHECKER_MODEL: _ModelConfig(underscore_to_dot=False)}  # type: ignore[attr-defined]
    saved = sys.modules.get(registry.__name__)
    sys.modules[registry.__name__] = registry
    try:
        from bfcl_eval.constants.enums import Language
        from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    finally:
        if saved is not None:
            sys.modules[registry.__name__] = saved
        else:
            del sys.modules[registry.__name__]

    def check(
        functions: list[dict[str, Any]],
        output: list[dict[str, Any]],
        answer: list[dict[str, Any]],
        category: str,
    ) -> bool:
        return bool(ast_checker(functions, output, answer, Language.PYTHON, category, CHECKER_MODEL)["valid"])

    return check


PROMPTFOO_ANSWERS = {
    "capital of France": "Paris",
    "city as JSON": '{"city": "Paris"}',
    "city in a sentence with JSON": 'Here it is: {"city": "Paris"} - done.',
}


def promptfoo_responder(body: dict[str, Any]) -> str:
    """The model under test answers from PROMPTFOO_ANSWERS; the grader model always passes."""
    if body.get("model") == "grader-model":
        return '{"verdict": "pass", "reason": "consistent with the reference"}'
    question = body["messages"][-1]["content"].split(": ", 1)[-1]
    return PROMPTFOO_ANSWERS.get(question, "I do not know.")


def sdk_trace_export(conventions: str, n: int = 10) -> dict[str, Any]:
    """An OTLP ExportTraceServiceRequest as protobuf's JSON, made by the OpenTelemetry SDK itself:
    n traces of a support bot (a root span, a model call and, for even i, a tool call), with the
    GenAI ("genai") or OpenInference ("openinference") attribute conventions."""
    import json

    from google.protobuf import json_format
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Status, StatusCode

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("support-bot")
    for i in range(n):
        question = f"Where is order {i}? Mail me at user{i}@example.com"
        answer = f"Order {i} ships on Monday."
        with tracer.start_as_current_span("handle_request") as root:
            if conventions == "openinference":
                root.set_attributes(
                    {"openinference.span.kind": "CHAIN", "input.value": question, "output.value": answer}
                )
            with tracer.start_as_current_span("chat support-model") as llm:
                if conventions == "genai":
                    llm.set_attributes(
                        {
                            "gen_ai.operation.name": "chat",
                            "gen_ai.request.model": "support-model",
                            "gen_ai.usage.input_tokens": 30,
                            "gen_ai.usage.output_tokens": 8,
                            "gen_ai.input.messages": json.dumps(
                                [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                            ),
                            "gen_ai.output.messages": json.dumps(
                                [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]
                            ),
                        }
                    )
                else:
                    llm.set_attributes(
                        {
                            "openinference.span.kind": "LLM",
                            "llm.model_name": "support-model",
                            "llm.token_count.prompt": 30,
                            "llm.token_count.completion": 8,
                        }
                    )
            if i % 2 == 0:
                with tracer.start_as_current_span("execute_tool lookup_order") as tool:
                    args = json.dumps({"order": i})
                    if conventions == "genai":
                        tool.set_attributes(
                            {
                                "gen_ai.operation.name": "execute_tool",
                                "gen_ai.tool.name": "lookup_order",
                                "gen_ai.tool.call.arguments": args,
                            }
                        )
                    else:
                        tool.set_attributes(
                            {
                                "openinference.span.kind": "TOOL",
                                "tool.name": "lookup_order",
                                "tool.parameters": args,
                            }
                        )
                    if i == 4:
                        tool.set_status(Status(StatusCode.ERROR, "order service timed out"))
    request = encode_spans(memory.get_finished_spans())
    return dict(json_format.MessageToDict(request))


def to_otlp_json_hex(document: dict[str, Any]) -> dict[str, Any]:
    """protobuf's JSON (base64 ids) as the OTLP/JSON encoding writes it: trace and span ids hex."""
    import base64

    for rs in document["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64decode(span[key]).hex()
    return document
