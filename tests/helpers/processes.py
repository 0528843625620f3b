"""evalkit as a real process, for the fault tests (kill, resume, concurrent runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import write


def suite(path: Path, n: int, name: str = "rel") -> Path:
    cases = "\n".join(
        f"  - {{id: c{i}, vars: {{q: 'question {i}'}}, reference: 'echo: question {i}'}}" for i in range(n)
    )
    return write(path, f'name: {name}\nprompt: "{{{{ q }}}}"\nscorers: [exact]\ncases:\n{cases}\n')


def config(path: Path, url: str, extra: str = "", variant: str = "") -> Path:
    return write(path, f"providers:\n  api: {{type: openai, base_url: '{url}', model: m{extra}}}\n{variant}")


def evalkit(
    cwd: Path, *args: str, wait: bool = True
) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "evalkit", *args]
    env = {**os.environ, "COLUMNS": "200"}
    if not wait:
        return subprocess.Popen(
            cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def wait_for_lines(path: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {n} lines")
