"""RunDir: every writer needs the lock, the lock names who holds it, and a second writer is
refused (exit 2) while the first holds it, in this process or another."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.errors import UserInputError
from evalkit.rundir.dir import RUN_FILES, RunDir


def test_every_writer_refuses_to_write_without_the_lock(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run").prepare()
    with pytest.raises(RuntimeError, match="without its lock"):
        rd.write_alerts([])
    with pytest.raises(RuntimeError, match="without its lock"):
        rd.rewrite_results([])
    assert not rd.alerts_file.exists() and not rd.results_file.exists()
    with rd.lock("a test"):
        assert rd.locked
        rd.write_alerts([{"message": "m"}])
    assert not rd.locked
    assert rd.alerts() == [{"message": "m"}]


def test_a_second_writer_is_refused_naming_the_directory_and_the_holder(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run").prepare()
    with rd.lock("evalkit score"):
        assert rd.lock_file.read_text() == f"evalkit score (pid {os.getpid()})\n"
        with pytest.raises(UserInputError) as refused:
            RunDir(tmp_path / "run").lock("evalkit labels import").acquire()
    said = str(refused.value)
    assert said.startswith(f"{rd.path}: this run directory is in use by evalkit score (pid {os.getpid()})")
    with rd.lock("evalkit calibrate"):  # released: the next writer gets it
        assert "evalkit calibrate" in rd.lock_file.read_text()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    run = tmp_path / "run"
    RunDir(run).prepare()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom evalkit.rundir.dir import RunDir\n"
            f"RunDir({str(run)!r}).lock('evalkit run').acquire()\nprint('held', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(UserInputError, match="in use by evalkit run"):
        RunDir(run).lock("evalkit score").acquire()
    holder.kill()  # kill -9: the operating system drops its lock
    holder.wait(10)
    deadline = time.monotonic() + 10
    while True:
        try:
            with RunDir(run).lock("evalkit score"):
                break
        except UserInputError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_overwrite_removes_exactly_the_run_files_under_the_lock(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run").prepare()
    for name in RUN_FILES:
        (rd.path / name).write_text("x")
    (rd.path / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="without its lock"):
        rd.prepare(overwrite=True)
    with rd.lock("evalkit run"):
        rd.prepare(overwrite=True)
    assert sorted(p.name for p in rd.path.iterdir()) == [".lock", "notes.txt"]


def test_a_file_or_an_unwritable_folder_given_as_a_run_directory_is_one_clear_error(tmp_path: Path) -> None:
    """`evalkit run --resume FILE`, and `report`/`score`/`--resume` on a read-only run directory,
    ended in a traceback (exit 1, which reads as 'regressed' in CI)."""
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserInputError, match="afile: not a run directory: a file, not a folder"):
        RunDir(tmp_path / "afile").info()
    with pytest.raises(UserInputError, match="afile: not a run directory: a file, not a folder"):
        RunDir(tmp_path / "afile").lock("evalkit score").acquire()
    if not Path("/sys/kernel").is_dir():  # pragma: no cover - Linux's sysfs refuses new files, root too
        pytest.skip("needs Linux's /sys")
    with pytest.raises(UserInputError, match="/sys: this run directory cannot be written: Permission denied"):
        RunDir(Path("/sys")).lock("evalkit score").acquire()


@pytest.mark.parametrize("command", [["run", "--resume", "afile"], ["report", "afile"], ["score", "afile"]])
def test_a_file_given_as_a_run_directory_exits_2(workdir: Path, cli, command: list[str]) -> None:
    (workdir / "afile").write_text("x")
    result = cli(*command)
    assert result.exit_code == 2 and "afile: not a run directory" in result.output, result.output
