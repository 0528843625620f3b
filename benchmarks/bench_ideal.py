"""The whole `evalkit run` command against a server with fixed latency: wall time against the
ideal N × latency / C, as a user or CI sees it (a fresh process: imports, plan, requests,
conclude, reports and the run history included; bench_concurrency times execute() alone).

Usage: python benchmarks/bench_ideal.py [SIZES] [LATENCY_S] [CONCURRENCY] [--against CHECKOUT]
e.g. 2000,20000 0.1 32. Each --against checkout runs the same command with its own code,
interleaved with this one's, so the ratios hold on a busy machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT, arguments, fake_server, write_config, write_suite


def main() -> None:
    args, against = arguments(sys.argv)
    sizes = [int(s) for s in (args[0] if args else "2000,20000").split(",")]
    latency = float(args[1]) if len(args) > 1 else 0.1
    concurrency = int(args[2]) if len(args) > 2 else 32
    print(f"latency {latency * 1000:.0f} ms, concurrency {concurrency}, scorer exact, no cache")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start")
    print(f"{'cases':>8}  {'checkout':20}  {'ideal s':>8}  {'wall s':>8}  {'ideal/wall':>10}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, fake_server(latency) as url:
        for n in sizes:
            for k, code in enumerate([ROOT, *against]):  # interleaved
                wall, code_rc = run_command(code, n, url, concurrency, Path(tmp) / f"{n}-{k}")
                print_row(code, n, n * latency / concurrency, wall, code_rc)


def run_command(code: Path, n: int, url: str, concurrency: int, directory: Path) -> tuple[float, int]:
    """`evalkit run` of n cases with a checkout's code, in a fresh process: (wall s, exit code)."""
    suite = write_suite(directory, n, scorers="[exact]")
    write_config(directory, url, concurrency)
    env = {**os.environ, "PYTHONPATH": str(code), "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode compiled once
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "evalkit", "run", str(suite), "--out", "run", "--no-cache"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, proc.returncode


def print_row(code: Path, n: int, ideal: float, wall: float, returncode: int) -> None:
    flag = "" if returncode in (0, 1) else f"  (exit {returncode})"
    print(
        f"{n:>8}  {str(code)[-20:]:20}  {ideal:>8.2f}  {wall:>8.2f}  {ideal / wall:>10.3f}{flag}", flush=True
    )


if __name__ == "__main__":
    main()
