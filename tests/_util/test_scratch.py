"""Scratch files: each process's in a folder of its own, removed when it exits, and the folders of
processes that were killed removed by the next process that makes scratch files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import scratch_left, slow_run, wait_for_lines
from tests.fake_openai import FakeOpenAI

MAKE = (
    "import sys; from evalkit._util.scratch import scratch_file; "
    "print(scratch_file('x-', '.bin'), flush=True); "
)


def _python(tmp: Path, code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", MAKE + code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )


def test_a_killed_process_s_files_go_with_the_next_and_a_live_one_s_stay(tmp_path: Path) -> None:
    killed = _python(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    killed_file = Path(killed.communicate(timeout=60)[0].strip())
    assert killed.returncode == -signal.SIGKILL and killed_file.exists()
    assert killed_file.parent.parent == tmp_path / f"evalkit-{os.getuid()}"
    assert (killed_file.parent.parent.stat().st_mode & 0o777) == 0o700

    live = _python(tmp_path, "sys.stdin.read()")  # holds its folder until its input closes
    assert live.stdout is not None
    live_file = Path(live.stdout.readline().strip())
    assert live_file.exists() and not killed_file.parent.exists()  # its first scratch file swept

    later = _python(tmp_path, "")
    later_file = Path(later.communicate(timeout=60)[0].strip())
    assert later.returncode == 0 and live_file.exists()  # a live process's folder is never taken
    assert not later_file.parent.exists()  # an exiting process removes its own
    live.communicate("", timeout=60)
    assert not live_file.parent.exists()
    assert scratch_left(tmp_path) == []


def test_an_evalkit_run_killed_mid_run_leaves_nothing_for_long(tmp_path: Path) -> None:
    """SIGKILL (or the kernel's out-of-memory killer) stops a run with its history's scratch file
    made: the next evalkit process that makes scratch files removes it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with FakeOpenAI(latency_s=0.3) as server:
        proc = slow_run(tmp_path, server.url, TMPDIR=str(tmp))
        wait_for_lines(tmp_path / "out" / "results.jsonl", 4)
        assert [name[:8] for name in scratch_left(tmp)] == ["history-"]
        proc.kill()
        proc.communicate(timeout=60)
    assert [name[:8] for name in scratch_left(tmp)] == ["history-"]  # nothing could remove it
    after = _python(tmp, "")
    after.communicate(timeout=60)
    assert scratch_left(tmp) == []
