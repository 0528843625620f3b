from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit._util import secrets
from evalkit.errors import UserInputError
from evalkit.rundir.dir import RunDir
from evalkit.rundir.files import ResultWriter, read_results, result_line, write_json
from evalkit.types import CaseResult, Message


def make(i: int, error: str | None = None) -> CaseResult:
    return CaseResult(
        suite="s",
        case_id=f"c{i}",
        variant="v",
        repeat=0,
        provider="p",
        messages=[Message(role="user", content="hi")],
        output="ok",
        error=error,
    )


def test_each_result_is_one_complete_line(tmp_path: Path) -> None:
    writer = ResultWriter(tmp_path / "results.jsonl")
    for i in range(3):
        writer.append(make(i))
        # readable at once, before close: a crash now loses nothing that finished
        assert len(list(read_results(tmp_path / "results.jsonl"))) == i + 1
    writer.close()


def test_a_scored_batch_is_written_at_once_as_one_line_each(tmp_path: Path) -> None:
    writer = ResultWriter(tmp_path / "results.jsonl")
    writer.extend([make(0), make(1, error="boom")])
    # readable at once, before close, in order
    assert [(r.case_id, r.error) for r in read_results(tmp_path / "results.jsonl")] == [
        ("c0", None),
        ("c1", "boom"),
    ]
    writer.extend([])
    writer.append(make(2))
    writer.close()
    assert writer.count == 3
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert lines == [make(0).model_dump_json(), make(1, "boom").model_dump_json(), make(2).model_dump_json()]


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    writer = ResultWriter(path)
    writer.append(make(0))
    writer.close()
    with path.open("a") as fh:
        fh.write('{"suite": "s", "case_id": "c1", "vari')  # killed mid-write
    assert [r.case_id for r in read_results(path)] == ["c0"]


def test_corrupt_middle_line_is_reported_with_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(make(0).model_dump_json() + "\nnot json\n" + make(1).model_dump_json() + "\n")
    with pytest.raises(UserInputError, match=r"results\.jsonl:2"):
        list(read_results(path))


def test_known_secrets_are_scrubbed_from_lines_and_json(tmp_path: Path) -> None:
    secrets.register("sk-canary-0123456789")
    writer = ResultWriter(tmp_path / "results.jsonl")
    writer.append(make(0, error="server said: bad key sk-canary-0123456789"))
    writer.close()
    write_json(tmp_path / "x.json", {"note": "sk-canary-0123456789"})
    for name in ("results.jsonl", "x.json"):
        text = (tmp_path / name).read_text()
        assert "sk-canary" not in text and "***" in text


def test_prepare_run_dir(tmp_path: Path) -> None:
    assert RunDir(tmp_path / "a" / "b").prepare().path.is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserInputError, match="a part of this path is a file, not a folder"):
        RunDir(tmp_path / "f" / "run").prepare()
    with pytest.raises(UserInputError, match="is a file, not a folder"):
        RunDir(tmp_path / "f").prepare()


def test_redact_url() -> None:
    assert (
        secrets.redact_url("https://user:pw@host:8443/v1?api_key=abc&x=1")
        == "https://host:8443/v1?api_key=***&x=***"
    )
    assert secrets.redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KB filesystem (tmpfs), so writes really fail with ENOSPC; needs root."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    cmd = ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)]
    if os.geteuid() != 0 or subprocess.run(cmd, capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_is_a_clear_message_exit_3_and_loses_nothing(workdir: Path, cli, small_disk: Path) -> None:
    import threading

    from tests.conftest import qa_responder, qa_suite_yaml, two_variant_config, write
    from tests.fake_openai import FakeOpenAI

    out_dir = small_disk / "out"
    filler = small_disk / "filler"

    def fill_once_results_flow() -> None:  # the disk fills up in the middle of the run
        results = out_dir / "results.jsonl"
        for _ in range(3000):
            if results.exists() and len(results.read_bytes().splitlines()) >= 3:
                break
            threading.Event().wait(0.005)
        with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"x" * 4096)

    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    with FakeOpenAI(responder=qa_responder, latency_s=0.1) as server:
        write(workdir / "evalkit.yaml", two_variant_config(server.url))
        filling = threading.Thread(target=fill_once_results_flow)
        filling.start()
        args = ("suites/qa.yaml", "--out", str(out_dir), "--no-baseline", "--no-cache", "--concurrency", "1")
        result = cli("run", *args)
        filling.join()
        out = " ".join(result.output.split())
        assert result.exit_code == 3, out
        assert "no space left on the device" in out and "--resume" in out, out
        assert "Traceback" not in out and not isinstance(result.exception, OSError)
        written = len(list(read_results(out_dir / "results.jsonl")))
        assert 3 <= written < 12
        filler.unlink()  # space freed: --resume finishes the run, nothing lost or repeated
        resumed = cli("run", "--resume", str(out_dir), "--no-cache")
    assert resumed.exit_code == 0, resumed.output
    keys = [r.key for r in read_results(out_dir / "results.jsonl")]
    assert len(keys) == len(set(keys)) == 12


def test_results_with_invalid_utf8_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(make(0).model_dump_json().encode() + b'\n{"b": "caf\xe9"}\n')
    with pytest.raises(UserInputError, match=r"results.jsonl:2: not valid UTF-8"):
        list(read_results(path))


def test_fsync_runs_beside_the_writes_and_its_error_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The periodic fsync runs in a thread (a slow disk never holds up appends, so never the
    requests in flight); close waits for it and syncs once more; a failed fsync (a full disk)
    is the next append's clear error."""
    import errno
    import threading
    import time

    from evalkit.errors import DiskFullError
    from evalkit.rundir import files

    real_fsync = os.fsync
    calls: list[str] = []
    release = threading.Event()

    def slow_fsync(fd: int) -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            release.wait(5)
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", slow_fsync)
    writer = ResultWriter(tmp_path / "results.jsonl", sync_interval_s=0.0)
    start = time.perf_counter()
    for i in range(20):
        writer.append(make(i))
    assert time.perf_counter() - start < 2.0 and calls == ["evalkit-results-fsync"]  # one in flight
    release.set()
    writer.close()
    assert calls[-1] == threading.current_thread().name  # the final sync, after the thread's
    assert len(list(read_results(tmp_path / "results.jsonl"))) == 20

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    writer = ResultWriter(tmp_path / "results.jsonl", sync_interval_s=0.0)
    writer.append(make(20))
    assert writer._syncing is not None
    writer._syncing.join()
    with pytest.raises(DiskFullError, match="no space left"):
        writer.append(make(21))
    writer.close()  # already reported: closes quietly


def test_a_batch_is_scrubbed_line_by_line_when_one_of_its_lines_holds_a_secret(tmp_path: Path) -> None:
    """`extend` checks a batch for secrets once; when one shows up, each line is scrubbed on its
    own (still valid JSON), and every line is the one `result_line` writes."""
    secrets.register("sk-canary-batch-0123456789")
    results = [make(0), make(1, error="server said: bad key sk-canary-batch-0123456789"), make(2)]
    writer = ResultWriter(tmp_path / "results.jsonl")
    writer.extend(results)
    writer.extend(results[:1])  # a batch with no secret in it
    writer.close()
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert lines == [result_line(r) for r in [*results, results[0]]]
    assert "sk-canary-batch" not in lines[1] and "***" in lines[1] and json.loads(lines[1])["case_id"]
