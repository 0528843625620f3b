"""OpenTelemetry out: a run's results as traces with GenAI attributes, received and decoded by an
OTLP/HTTP receiver on 127.0.0.1; a dead endpoint costs one warning and a bounded wait."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.integrations.conftest import OtlpReceiver, attributes

SECRET = "otlp-secret-token-8f3a9c"


@pytest.fixture
def traced_project(workdir: Path) -> Path:
    write(
        workdir / "evalkit.yaml",
        """
        providers:
          sys: {type: python, callable: 'tests.integrations.conftest:traced_system'}
          grader: {type: scripted, default: '{"reasoning": "fine", "verdict": "pass"}', model: grader-model}
        variants:
          v: {provider: sys}
        cache: {enabled: false}
        history: {enabled: false}
        """,
    )
    write(
        workdir / "suites" / "t.yaml",
        """
        name: t
        prompt: "{{ q }}"
        scorers: [{type: judge, provider: grader, mode: pass_fail, criteria: "it answers"}]
        cases:
          - {id: a, vars: {q: first}}
          - {id: b, vars: {q: second}}
        """,
    )
    return workdir


def test_a_run_exports_one_trace_per_case_with_genai_attributes(
    traced_project: Path, otlp: OtlpReceiver, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer {SECRET}")
    got = cli("run", "suites/t.yaml", "--out", "run", "--no-baseline")
    assert got.exit_code == 0, got.output
    assert "OpenTelemetry: 2 trace(s), 12 span(s) sent to" in " ".join(got.output.split())
    headers, _ = otlp.requests[0]
    assert headers["authorization"] == f"Bearer {SECRET}"  # the headers come from the env var
    spans = otlp.spans()
    assert {resource["service.name"] for resource, _ in spans} == {"evalkit"}
    by_trace: dict[bytes, dict[str, Any]] = {}
    for _, span in spans:
        by_trace.setdefault(span.trace_id, {})[span.name] = span
    assert len(by_trace) == 2
    for names in by_trace.values():
        assert sorted(names) == [
            "chat grader-model",
            "chat planner-model",
            "chat sys",
            "evalkit.case",
            "execute_tool lookup",
            "retrieval search",
        ]
        root = names["evalkit.case"]
        assert root.parent_span_id == b"" and all(
            s.parent_span_id == root.span_id for n, s in names.items() if n != "evalkit.case"
        )
        case = attributes(root)
        assert case["evalkit.suite"] == "t" and case["evalkit.variant"] == "v"
        assert case["evalkit.score.judge"] == 1.0 and case["evalkit.passed"] is True
        assert attributes(names["chat sys"]) == {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "python",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.response.finish_reasons": ["stop"],
        }
        tool = attributes(names["execute_tool lookup"])
        assert tool["gen_ai.operation.name"] == "execute_tool" and tool["gen_ai.tool.name"] == "lookup"
        assert tool["gen_ai.tool.call.id"] == "t1"
        judge = attributes(names["chat grader-model"])
        assert judge["evalkit.judge"] == "judge" and judge["gen_ai.request.model"] == "grader-model"
        planner = names["chat planner-model"]
        assert planner.end_time_unix_nano - planner.start_time_unix_nano == 20_000_000  # its latency
    everything = "".join(p.read_text() for p in (traced_project / "run").iterdir() if p.is_file())
    assert SECRET not in everything and SECRET not in got.output


def test_export_otlp_sends_a_finished_run(
    traced_project: Path, otlp: OtlpReceiver, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("run", "suites/t.yaml", "--out", "run", "--no-baseline").exit_code == 0
    assert not otlp.requests  # no endpoint set: the run exported nothing
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{otlp.url}/v1/traces")
    got = cli("export", "run", "--otlp")
    assert got.exit_code == 0, got.output
    assert len({span.trace_id for _, span in otlp.spans()}) == 2


def test_an_unreachable_endpoint_is_one_warning_and_a_bounded_wait(
    traced_project: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    silent = socket.socket()  # accepts connections and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://user:pw@127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    started = time.perf_counter()
    got = cli("run", "suites/t.yaml", "--out", "run", "--no-baseline")
    elapsed = time.perf_counter() - started
    silent.close()
    assert got.exit_code == 0, got.output
    warnings = [line for line in got.output.splitlines() if line.startswith("warning: OpenTelemetry")]
    assert len(warnings) == 1 and "traces not exported" in warnings[0]
    assert "pw" not in got.output  # the endpoint's credentials are masked
    assert elapsed < 10  # one timed-out batch (1 s), not a retry per span or a hang (the run itself ~2 s)
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    port = refused.getsockname()[1]
    refused.close()  # nothing listens there
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    again = cli("export", "run", "--otlp")
    assert again.exit_code == 1 and again.output.count("warning: OpenTelemetry") == 1
