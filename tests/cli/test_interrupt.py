"""Ctrl-C mid-run: finished results are kept whole, a summary is written, exit code 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import write
from tests.fake_openai import FakeOpenAI


def test_sigint_keeps_finished_results(tmp_path: Path) -> None:
    cases = "\n".join(
        f"  - {{id: c{i}, vars: {{q: 'question {i}'}}, reference: 'echo: question {i}'}}" for i in range(40)
    )
    write(tmp_path / "s.yaml", f'name: slow\nprompt: "{{{{ q }}}}"\nscorers: [exact]\ncases:\n{cases}\n')
    with FakeOpenAI(latency_s=0.3) as server:
        write(
            tmp_path / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m, concurrency: 2}}\n",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "evalkit", "run", "s.yaml", "--out", "out"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        results = tmp_path / "out" / "results.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if results.exists() and len(results.read_text().splitlines()) >= 4:
                break
            time.sleep(0.05)
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
