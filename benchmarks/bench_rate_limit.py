"""Rate limits: a token-bucket server at R req/s (429 beyond it), evalkit at concurrency 64.

Reports requests sent per case (target ≤ 1.2) and throughput as a ratio to R (target ≥ 0.8),
for adaptive concurrency (AIMD, the default) and for a fixed limit, with and without
Retry-After hints from the server. Usage: python -m benchmarks.bench_rate_limit [N] [R] [latency_s]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchmarks._common import timed, write_suite
from evalkit.stages.pipeline import RunOptions, execute, prepare
from tests.fake_openai import FakeOpenAI


def one(n: int, rate: float, latency: float, adaptive: bool, hint: bool) -> tuple[float, float, float, int]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOpenAI(latency_s=latency, rate_limit=rate, retry_after_hint=hint) as server,
    ):
        root = Path(tmp)
        suite = write_suite(root, n, scorers="[exact]")
        config = root / "evalkit.yaml"
        config.write_text(
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m, concurrency: 64, "
            f"adaptive_concurrency: {str(adaptive).lower()}, max_attempts: 20}}\n"
            "run: {max_error_rate: 0.0}\ncache: {enabled: false}\n"
        )
        prepared = prepare(RunOptions(suites=[suite], config=config, out=root / "run"))
        summary, wall = timed(lambda: execute(prepared).summary)
        ok = n - summary.errors
        return len(server.requests) / n, (ok / wall) / rate, wall, summary.errors


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
    latency = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
    print(f"{n} cases, token bucket {rate:g} req/s, latency {latency * 1000:.0f} ms, concurrency 64")
    print(f"{'mode':38s} {'req/case':>9s} {'thru/R':>7s} {'wall s':>7s} {'failed':>7s}")
    for adaptive in (True, False):
        for hint in (False, True):
            per_case, ratio, wall, failed = one(n, rate, latency, adaptive, hint)
            mode = (
                f"{'AIMD' if adaptive else 'fixed 64'}, {'Retry-After hints' if hint else 'no Retry-After'}"
            )
            print(f"{mode:38s} {per_case:9.3f} {ratio:7.3f} {wall:7.2f} {failed:7d}")


if __name__ == "__main__":
    main()
