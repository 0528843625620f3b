"""Where the wall time of a whole `evalkit run` goes at a fixed latency: before the first request,
the requests, and after the last answer, beside aiohttp alone sending the same requests.

The fake server (tests/fake_openai.py) runs in a thread of this process, which does nothing else
while a run's process works, and notes when it answers each request. Per run:
- start: the process's start until the first request reached the server (imports, config,
  loading and checking the cases, the plan, the run directory);
- requests: the first request until the last answer (its ideal is N × latency / concurrency;
  "cycle" is the mean time a slot takes per request, latency included);
- end: the last answer until the process exits (concluding, reports, the run history).
"aiohttp alone" (benchmarks/bench_scale.py --raw) is the ceiling of any Python client against
this server: process start and its import, then nothing but the requests. Checkouts and aiohttp
alone run interleaved, so a busy machine's load hits each alike.

Usage: python -m benchmarks.bench_timeline [SIZES] [LATENCY_S] [--against CHECKOUT ...]
e.g. 2000,20000 0.1 --against /path/to/main (concurrency 32).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, arguments, write_config, write_suite
from tests.fake_openai import FakeOpenAI, default_responder

CONCURRENCY = 32


class Stamped:
    """The fake server's responder, noting when each answer leaves (after its latency)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, body: dict[str, Any]) -> Any:
        self.times.append(time.perf_counter())
        return default_responder(body)


def main() -> None:
    args, against = arguments(sys.argv)
    sizes = [int(s) for s in (args[0] if args else "2000,20000").split(",")]
    latency = float(args[1]) if len(args) > 1 else 0.1
    print(f"latency {latency * 1000:.0f} ms, concurrency {CONCURRENCY}, scorer exact, no cache")
    print(f"{os.cpu_count()} CPUs, load average {load()} at the start")
    print(
        f"{'cases':>7}  {'checkout':20}  {'wall s':>7}  {'ideal/wall':>10}  {'start s':>7}"
        f"  {'requests s':>10}  {'cycle ms':>8}  {'end s':>6}",
        flush=True,
    )
    stamps = Stamped()
    with FakeOpenAI(responder=stamps, latency_s=latency) as server, tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for k, code in enumerate([ROOT, *against, None]):  # interleaved; None: aiohttp alone
                stamps.times.clear()
                start, wall, rc = run_once(code, n, server.url, Path(tmp) / f"{n}-{k}")
                name = "aiohttp alone" if code is None else str(code)[-20:]
                print_row(name, n, latency, start, wall, rc, stamps.times)
    print(f"load average {load()} at the end")


def run_once(code: Path | None, n: int, url: str, directory: Path) -> tuple[float, float, int]:
    """A checkout's `evalkit run` of n cases, or aiohttp alone: (start time, wall s, exit code)."""
    if code is None:
        command = [sys.executable, "-m", "benchmarks.bench_scale", "--raw", str(n), url, str(CONCURRENCY)]
        cwd, env = ROOT, dict(os.environ)
    else:
        suite = write_suite(directory, n, scorers="[exact]")
        write_config(directory, url, CONCURRENCY)
        command = [sys.executable, "-m", "evalkit", "run", str(suite), "--out", "run", "--no-cache"]
        cwd, env = directory, {**os.environ, "PYTHONPATH": str(code), "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode compiled once
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    return start, time.perf_counter() - start, proc.returncode


def print_row(
    name: str, n: int, latency: float, start: float, wall: float, rc: int, times: list[float]
) -> None:
    ideal = n * latency / CONCURRENCY
    flag = "" if rc in (0, 1) else f"  (exit {rc})"
    if len(times) < n:
        print(f"{n:>7}  {name:20}  {wall:>7.2f}  {ideal / wall:>10.3f}  ({len(times)} answers){flag}")
        return
    first, last = min(times) - latency - start, max(times) - start  # first request: its answer less latency
    requests = last - first
    print(
        f"{n:>7}  {name:20}  {wall:>7.2f}  {ideal / wall:>10.3f}  {first:>7.2f}  {requests:>10.2f}"
        f"  {requests / (n / CONCURRENCY) * 1000:>8.1f}  {wall - last:>6.2f}{flag}",
        flush=True,
    )


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
