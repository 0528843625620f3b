"""Concurrency: N requests against the fake server with fixed latency at concurrency C.

Ideal wall time is N × latency / C; the ratio ideal / measured should be ≥ 0.9.
Usage: python benchmarks/bench_concurrency.py [N] [latency_s] [concurrency]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks._common import fake_server, timed, write_config, write_suite
from evalkit.stages.pipeline import RunOptions, execute, prepare


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    with tempfile.TemporaryDirectory() as tmp, fake_server(latency) as url:
        root = Path(tmp)
        suite = write_suite(root, n, scorers="[exact]")
        config = write_config(root, url, concurrency)
        prepared = prepare(RunOptions(suites=[suite], config=config, out=root / "run"))
        summary, wall = timed(lambda: execute(prepared).summary)
        assert summary.results == n and summary.errors == 0
        ideal = n * latency / concurrency
        print(f"requests {n}, latency {latency * 1000:.0f} ms, concurrency {concurrency}")
        print(f"ideal wall   {ideal:6.2f} s")
        print(f"measured     {wall:6.2f} s (execute, scoring and writing included)")
        print(f"ratio ideal/measured  {ideal / wall:.3f}")


if __name__ == "__main__":
    main()
