"""Start: how soon `evalkit run` sends its first request, in CPU seconds (which hold on a busy
machine) and in wall seconds.

Each run is a fresh `evalkit run` of N generated cases (benchmarks/_common.py's suite, concurrency
32, `--no-history`) against the fake server at a 5 s latency (nothing is answered meanwhile):
- "cpu s": the process's CPU (threads included) from its start until it opens its first
  connection, read in the process itself (the child wraps the event loop's `sock_connect`, reports
  and exits there);
- "first request s": the process's start until the server received the first request (a second,
  unwrapped run, killed once it has).
Checkouts run interleaved, so a busy machine's load hits each alike; medians and minimums of
the rounds.
Usage: python -m benchmarks.bench_start [SIZES] [ROUNDS] [--against CHECKOUT ...]
e.g. 2000,20000 7 --against /path/to/main.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
RUN = ["run", "suite.yaml", "--out", "run", "--no-cache", "--overwrite", "--no-history"]


def child() -> None:
    """`evalkit run` (sys.argv[2:]) that prints its CPU time and exits at its first connection
    (it imports nothing else: the checkout's evalkit, as `python -m evalkit` does)."""
    import asyncio.selector_events

    async def first_connect(*_args: object, **_kwargs: object) -> None:
        print(f"cpu {time.process_time():.4f}", file=sys.stderr, flush=True)
        os._exit(0)

    asyncio.selector_events.BaseSelectorEventLoop.sock_connect = first_connect  # type: ignore[method-assign, assignment]
    sys.argv = ["evalkit", *sys.argv[2:]]
    from evalkit.cli import main as evalkit_main

    evalkit_main()


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks._common import arguments, write_config, write_suite
    from tests.fake_openai import FakeOpenAI

    args, against = arguments(sys.argv)
    sizes = [int(s) for s in (args[0] if args else "2000,20000").split(",")]
    rounds = int(args[1]) if len(args) > 1 else 7
    checkouts = [ROOT, *against]
    print(f"{os.cpu_count()} CPUs, load average {load()} at the start", flush=True)
    print(
        f"{'cases':>7}  {'checkout':20}  {'cpu s':>12}  {'first request s':>15}   (median / min of {rounds})"
    )
    with FakeOpenAI(latency_s=5.0) as server, tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            directory = Path(tmp) / str(n)
            write_suite(directory, n, scorers="[exact]")
            write_config(directory, server.url, 32)
            cpu: dict[Path, list[float]] = {c: [] for c in checkouts}
            first: dict[Path, list[float]] = {c: [] for c in checkouts}
            for _ in range(rounds):
                for code in checkouts:  # interleaved
                    cpu[code].append(cpu_to_first_connect(code, directory))
                    first[code].append(first_request(code, directory, server))
            for code in checkouts:
                print(
                    f"{n:>7}  {str(code)[-20:]:20}  {statistics.median(cpu[code]):>5.3f} / {min(cpu[code]):.3f}"
                    f"  {statistics.median(first[code]):>7.3f} / {min(first[code]):.3f}",
                    flush=True,
                )
    print(f"load average {load()} at the end")


def environment(code: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed
    return {**env, "PYTHONPATH": str(code), "NO_COLOR": "1"}


def cpu_to_first_connect(code: Path, directory: Path) -> float:
    command = [sys.executable, __file__, "--child", *RUN]  # the child imports evalkit alone
    proc = subprocess.run(command, cwd=directory, env=environment(code), capture_output=True, text=True)
    found = [line for line in proc.stderr.splitlines() if line.startswith("cpu ")]
    if not found:
        raise SystemExit(f"no first connection from {code}: {proc.stderr[-2000:]}")
    return float(found[-1].split()[1])


def first_request(code: Path, directory: Path, server: FakeOpenAI) -> float:
    before = len(server.requests)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalkit", *RUN],
        cwd=directory,
        env=environment(code),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while len(server.requests) == before:
            if proc.poll() is not None or time.perf_counter() - start > 60:
                raise SystemExit(f"{code}: no request reached the server")
            time.sleep(0.001)
        return time.perf_counter() - start
    finally:
        proc.kill()
        proc.wait()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child()
    else:
        main()
