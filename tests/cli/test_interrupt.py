"""Ctrl-C mid-run: finished results are kept whole, a summary is written, exit code 130."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.conftest import slow_run, wait_for_lines
from tests.fake_openai import FakeOpenAI


def test_sigint_keeps_finished_results(tmp_path: Path) -> None:
    results = tmp_path / "out" / "results.jsonl"
    with FakeOpenAI(latency_s=0.3) as server:
        proc = slow_run(tmp_path, server.url)
        wait_for_lines(results, 4)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    lines = [json.loads(x) for x in results.read_text().splitlines()]  # every line complete
    assert 4 <= len(lines) < 40
    assert all(x["scores"]["exact"]["passed"] is True for x in lines)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["results"] == len(lines)
    assert "Interrupted" in stdout
