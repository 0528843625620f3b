"""Helpers shared by the benchmarks: a fake server in its own process, generated suites."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def fake_server(latency_s: float = 0.0, tool_rounds: int = 0) -> Iterator[str]:
    """Start tests/fake_openai.py in a separate process so it does not share our GIL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "fake_openai.py"),
            "--latency",
            str(latency_s),
            "--tool-rounds",
            str(tool_rounds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_suite(directory: Path, n: int, scorers: str = "[exact, {type: rouge, types: [rougeL]}]") -> Path:
    """A suite of n cases whose reference is the echo the fake server returns for half of them."""
    directory.mkdir(parents=True, exist_ok=True)
    cases = directory / "cases.jsonl"
    with cases.open("w") as fh:
        for i in range(n):
            question = f"question number {i} about topic {i % 97}"
            reference = f"echo: {question}" if i % 2 == 0 else f"an unrelated answer {i}"
            fh.write(json.dumps({"id": f"c{i}", "vars": {"q": question}, "reference": reference}) + "\n")
    suite = directory / "suite.yaml"
    suite.write_text(f'name: bench\nprompt: "{{{{ q }}}}"\nscorers: {scorers}\ncases: cases.jsonl\n')
    return suite


def write_config(directory: Path, url: str, concurrency: int) -> Path:
    path = directory / "evalkit.yaml"
    path.write_text(
        f"providers:\n  api: {{type: openai, base_url: '{url}', model: bench-model, concurrency: {concurrency}}}\n"
        "variants:\n  v: {provider: api, params: {max_tokens: 64}}\n"
        "run: {max_error_rate: 0.0}\n"
    )
    return path


VALUED = ("--against", "--rounds")  # the options that take a value (the next argument)


def arguments(argv: list[str]) -> tuple[list[str], list[Path]]:
    """A benchmark's positional arguments, and the checkouts each `--against CHECKOUT` names."""
    against = [Path(argv[i + 1]) for i, a in enumerate(argv[:-1]) if a == "--against"]
    values = {i + 1 for i, a in enumerate(argv[:-1]) if a in VALUED}
    return [a for i, a in enumerate(argv) if i and i not in values and not a.startswith("--")], against


def rounds(argv: list[str], default: int = 1) -> int:
    """`--rounds N`: how many times each measurement runs (its median is shown)."""
    given = [int(argv[i + 1]) for i, a in enumerate(argv[:-1]) if a == "--rounds"]
    return given[-1] if given else default


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start
