"""Faults survived, nothing lost, nothing leaked: kill and resume, shared caches, fallbacks,
deadlines, refused credentials and a secret canary, all through the real CLI."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import write
from tests.fake_openai import FakeOpenAI, Fault
from tests.helpers.processes import config, evalkit, lines, suite, wait_for_lines


def asked(server: FakeOpenAI) -> Counter[str]:
    return Counter(r["messages"][-1]["content"] for r in server.requests)


def test_sigkill_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    suite(tmp_path / "s.yaml", 30)
    with FakeOpenAI(latency_s=0.25) as server:  # ~2.5 s in all: the kill lands well before the end
        config(tmp_path / "evalkit.yaml", server.url, ", concurrency: 3")
        proc = evalkit(tmp_path, "run", "s.yaml", "--out", "out", "--no-cache", wait=False)
        results = tmp_path / "out" / "results.jsonl"
        wait_for_lines(results, 8)
        proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        proc.wait(10)  # type: ignore[union-attr]
        with results.open("a") as fh:
            fh.write('{"suite": "rel", "case_id": "c2')  # as if killed in the middle of a write
        finished_before = {x["case_id"] for x in lines_ignoring_torn(results)}
        assert 8 <= len(finished_before) < 30
        before = asked(server)

        resumed = evalkit(tmp_path, "run", "--resume", "out", "--no-cache")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "resuming" in resumed.stdout
        final = lines(results)  # every line parses: the torn tail was cut before appending
        keys = [x["case_id"] for x in final]
        assert sorted(keys) == sorted(f"c{i}" for i in range(30))  # nothing lost, nothing twice
        after = asked(server)
        for case_id in finished_before:  # finished cases were not requested again
            i = case_id[1:]
            assert after[f"question {i}"] == before[f"question {i}"] == 1

        # the files match an uninterrupted run's
        fresh = evalkit(tmp_path, "run", "s.yaml", "--out", "fresh", "--no-cache")
        assert fresh.returncode == 0
    strip = lambda x: {k: v for k, v in x.items() if k not in ("latency_ms",)}  # noqa: E731
    assert sorted(map(json.dumps, map(strip, final))) == sorted(
        map(json.dumps, map(strip, lines(tmp_path / "fresh" / "results.jsonl")))
    )
    a = json.loads((tmp_path / "out" / "summary.json").read_text())
    b = json.loads((tmp_path / "fresh" / "summary.json").read_text())
    for g, h in zip(a["groups"], b["groups"], strict=True):
        assert (
            g["metrics"] == h["metrics"] and g["pass_rate"] == h["pass_rate"] and g["results"] == h["results"]
        )
    assert a["status"] == b["status"] == "passed"


def lines_ignoring_torn(path: Path) -> list[dict]:
    out = []
    for raw in path.read_text().splitlines(keepends=True):
        if raw.endswith("\n"):
            out.append(json.loads(raw))
    return out


def test_resume_refuses_a_changed_suite(tmp_path: Path) -> None:
    suite(tmp_path / "s.yaml", 4)
    with FakeOpenAI() as server:
        config(tmp_path / "evalkit.yaml", server.url)
        assert evalkit(tmp_path, "run", "s.yaml", "--out", "out").returncode == 0
        suite(tmp_path / "s.yaml", 5)
        again = evalkit(tmp_path, "run", "--resume", "out")
    assert again.returncode == 2
    assert "cannot resume: suite 'rel'" in again.stderr and "Traceback" not in again.stderr


def test_two_concurrent_runs_share_one_cache(tmp_path: Path) -> None:
    suite(tmp_path / "s.yaml", 40)
    with FakeOpenAI(latency_s=0.02) as server:
        config(tmp_path / "evalkit.yaml", server.url)
        procs = [evalkit(tmp_path, "run", "s.yaml", "--out", f"out{i}", wait=False) for i in range(2)]
        for p in procs:
            out, err = p.communicate(timeout=120)  # type: ignore[union-attr]
            assert p.returncode == 0, out + err  # type: ignore[union-attr]
        for i in range(2):
            assert len(lines(tmp_path / f"out{i}" / "results.jsonl")) == 40
        sent = len(server.requests)
        third = evalkit(tmp_path, "run", "s.yaml", "--out", "out3")
        assert third.returncode == 0
        assert len(server.requests) == sent  # everything came from the shared cache
    assert all(x["cached"] for x in lines(tmp_path / "out3" / "results.jsonl"))
    stats = evalkit(tmp_path, "cache", "stats")
    assert "40 entries" in stats.stdout
    cleared = evalkit(tmp_path, "cache", "clear")
    assert "removed 40" in cleared.stdout


def test_errors_are_not_cached(tmp_path: Path) -> None:
    suite(tmp_path / "s.yaml", 3)
    with FakeOpenAI() as server:
        config(tmp_path / "evalkit.yaml", server.url, ", max_attempts: 1")
        server.add_fault(Fault(status=500, match="question 1"))
        first = evalkit(tmp_path, "run", "s.yaml", "--out", "a")
        assert first.returncode == 3  # 1 error in 3 is over the 10% budget
        second = evalkit(tmp_path, "run", "s.yaml", "--out", "b")
        assert second.returncode == 0
    by_id = {x["case_id"]: x for x in lines(tmp_path / "b" / "results.jsonl")}
    assert by_id["c1"]["cached"] is False and by_id["c0"]["cached"] is True
    assert asked(server)["question 1"] == 2 and asked(server)["question 0"] == 1


def test_fallback_provider_answers_when_primary_fails(tmp_path: Path) -> None:
    suite(tmp_path / "s.yaml", 4)
    with FakeOpenAI() as primary, FakeOpenAI() as backup:
        primary.add_fault(Fault(status=503), times=100)
        write(
            tmp_path / "evalkit.yaml",
            f"providers:\n  main: {{type: openai, base_url: '{primary.url}', model: big, max_attempts: 2, backoff_base_s: 0.01}}\n"
            f"  spare: {{type: openai, base_url: '{backup.url}', model: small}}\n"
            "variants:\n  v: {provider: main, model: big-2, fallback: spare}\n",
        )
        result = evalkit(tmp_path, "run", "s.yaml", "--out", "out")
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(primary.requests) == 8 and len(backup.requests) == 4
        assert {r["model"] for r in backup.requests} == {
            "small"
        }  # the variant's model override is not forwarded
    rows = lines(tmp_path / "out" / "results.jsonl")
    assert all(
        x["provider"] == "spare" and x["fallback_from"] == "main" and x["model"] == "small" for x in rows
    )
    assert all(x["scores"]["exact"]["passed"] for x in rows)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["groups"][0]["fallbacks"] == 4


def test_run_deadline_keeps_finished_work(tmp_path: Path) -> None:
    suite(tmp_path / "s.yaml", 20)
    with FakeOpenAI(latency_s=0.4) as server:
        config(tmp_path / "evalkit.yaml", server.url, ", concurrency: 1")
        result = evalkit(tmp_path, "run", "s.yaml", "--out", "out", "--deadline", "1.5", "--no-cache")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "deadline of 1.5s passed" in result.stderr.replace("\n", " ")
    # the last line says the run stopped, not that its errors (none) were over the budget
    assert "ERRORS (the run stopped early)" in result.stdout and "over the error budget" not in result.stdout
    done = lines(tmp_path / "out" / "results.jsonl")
    assert 1 <= len(done) <= 4
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "errors" and "deadline" in summary["aborted"]


def test_refused_credentials_stop_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite(tmp_path / "s.yaml", 30)
    monkeypatch.setenv("WRONG_KEY", "sk-this-is-wrong-0001")
    with FakeOpenAI(api_key="sk-right") as server:
        config(tmp_path / "evalkit.yaml", server.url, ", api_key_env: WRONG_KEY, concurrency: 2")
        result = evalkit(tmp_path, "run", "s.yaml", "--out", "out", "--no-cache")
        assert len(server.requests) <= 2  # at most the requests already in flight (concurrency 2)
    assert result.returncode == 3
    assert "refused the credentials (HTTP 401)" in result.stderr and "Traceback" not in result.stderr
    assert "sk-this-is-wrong" not in result.stdout + result.stderr


def test_secret_canary_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key, header, query = "sk-CANARY-KEY-7f3a9c", "hdr-CANARY-5b1e2d", "qry-CANARY-8c4f6a"
    monkeypatch.setenv("CANARY_KEY", key)
    monkeypatch.setenv("CANARY_HDR", header)
    suite(tmp_path / "s.yaml", 6)
    with FakeOpenAI(api_key=key) as server:
        url = f"{server.url}?api-key={query}"
        write(
            tmp_path / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{url}', model: m, api_key_env: CANARY_KEY, "
            "headers_env: {X-Api-Key: CANARY_HDR}, max_attempts: 1}\nrun: {max_error_rate: 1.0}\n",
        )
        server.add_fault(
            Fault(echo_request=True, match="question 2")
        )  # an error message that repeats everything
        result = evalkit(tmp_path, "run", "s.yaml", "--out", "out")
        assert result.returncode == 0, result.stdout + result.stderr
        seen = server.headers_seen[0]
        assert (
            seen["Authorization"] == f"Bearer {key}" and seen["X-Api-Key"] == header
        )  # the secrets were used
    rows = lines(tmp_path / "out" / "results.jsonl")
    assert any(x["error"] and "bad request to /v1/chat/completions?api-key=" in x["error"] for x in rows)
    blobs = {"stdout": result.stdout, "stderr": result.stderr}
    cache = Path(os.environ["EVALKIT_CACHE_DIR"])
    for path in [*(tmp_path / "out").rglob("*"), *cache.rglob("*")]:  # the report's templates/ too
        if path.is_file():
            blobs[str(path)] = path.read_bytes().decode("utf-8", "replace")
    for name, text in blobs.items():
        for secret in (key, header, query):
            assert secret not in text, f"{secret} leaked into {name}"


def test_resumed_run_is_gated_against_baselines(tmp_path: Path) -> None:
    """A resumed run must reach the same verdict as an uninterrupted one, baselines included."""
    suite(tmp_path / "s.yaml", 30)
    with FakeOpenAI() as good:
        config(tmp_path / "evalkit.yaml", good.url)
        assert evalkit(tmp_path, "run", "s.yaml", "--out", "a", "--no-baseline").returncode == 0
        assert evalkit(tmp_path, "baseline", "save", "a").returncode == 0
    with FakeOpenAI(responder=lambda body: "wrong", latency_s=0.25) as bad:
        config(tmp_path / "evalkit.yaml", bad.url, ", concurrency: 3")
        proc = evalkit(tmp_path, "run", "s.yaml", "--out", "b", "--no-cache", wait=False)
        wait_for_lines(tmp_path / "b" / "results.jsonl", 5)
        proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        proc.wait(10)  # type: ignore[union-attr]
        resumed = evalkit(tmp_path, "run", "--resume", "b", "--no-cache")
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["status"] == "regressed" and summary["baseline"]
    assert (tmp_path / "b" / "diff.json").exists()
