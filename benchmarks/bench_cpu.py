"""Issue 28 part 4 in one run: evalkit's own CPU per case against a zero-latency server, and the
whole command's wall time against the ideal at a fixed latency, this checkout beside others.

Own CPU per case (bench_scale.py: prepare + execute in a fresh process, less aiohttp alone
sending the same requests) at each of SIZES; ideal/wall (bench_ideal.py: the whole `evalkit run`
command, imports, history and reports included, against N × latency / concurrency) at each of
IDEAL_SIZES. Every measurement runs each checkout in turn (interleaved), so a busy machine's load
hits them alike; read the ratios between checkouts, and the CPU (wall waits for the CPU).
The ideal/wall table has a "raw aiohttp" row too: the same requests through aiohttp alone in a
fresh process, timed from outside like `evalkit run`: the ceiling any Python client reaches
against this fake server (its own per-request time is part of every round trip).

Usage: python -m benchmarks.bench_cpu [SIZES] [IDEAL_SIZES] [--against CHECKOUT ...] [--rounds N]
e.g. 1000,20000,100000 2000,20000 --against /path/to/main (latency 100 ms, concurrency 32).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT, arguments, fake_server, rounds
from benchmarks.bench_ideal import print_row, run_command
from benchmarks.bench_scale import load, measure_rounds, print_rows

LATENCY_S = 0.1
CONCURRENCY = 32


def main() -> None:
    args, against = arguments(sys.argv)
    sizes = [int(s) for s in (args[0] if args else "1000,20000,100000").split(",")]
    ideal_sizes = [int(s) for s in (args[1] if len(args) > 1 else "2000,20000").split(",")]
    checkouts = [ROOT, *against]
    print(f"{os.cpu_count()} CPUs, load average {load()} at the start", flush=True)
    times = rounds(sys.argv)
    with fake_server(0.0) as url:
        rows = [row for n in sizes for row in measure_rounds(checkouts, n, url, CONCURRENCY, times)]
    print(
        f"\nown CPU per case: zero-latency server, concurrency {CONCURRENCY}, scorer exact, no cache"
        f" (medians of {times} interleaved rounds)"
    )
    print_rows(rows)
    print(
        f"\nthe whole command at {LATENCY_S * 1000:.0f} ms latency, concurrency {CONCURRENCY}; load {load()}"
    )
    print(f"{'cases':>8}  {'checkout':20}  {'ideal s':>8}  {'wall s':>8}  {'ideal/wall':>10}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, fake_server(LATENCY_S) as url:
        for n in ideal_sizes:
            for k, code in enumerate(checkouts):
                wall, rc = run_command(code, n, url, CONCURRENCY, Path(tmp) / f"{n}-{k}")
                print_row(code, n, n * LATENCY_S / CONCURRENCY, wall, rc)
            wall, rc = raw_command(n, url)
            print_row(Path("raw aiohttp"), n, n * LATENCY_S / CONCURRENCY, wall, rc)
    print(f"load average {load()} at the end")


def raw_command(n: int, url: str) -> tuple[float, int]:
    """aiohttp alone sending the same n requests, a fresh process timed from outside: (wall s, exit code)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", "--raw", str(n), url, str(CONCURRENCY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, proc.returncode


if __name__ == "__main__":
    main()
