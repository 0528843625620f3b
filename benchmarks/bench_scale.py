"""Scale: time per case, CPU per case and peak memory as a run grows from 1k to 100k cases.

Each size runs `evalkit run` (plan, openai provider, exact scorer, results.jsonl, summary)
in a fresh process against the zero-latency fake server (its own process too), so peak RSS
is that size's alone. Admission is O(1) per request when time per case stays flat.
Usage: python benchmarks/bench_scale.py [SIZES] [CONCURRENCY] [--against CHECKOUT]
e.g. 1000,10000,100000 32. With --against (another checkout of evalkit, e.g. a worktree of an
older commit), each size also runs with that checkout's code, interleaved, for side-by-side ratios.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT, fake_server, write_config, write_suite


def child(n: int, url: str, concurrency: int) -> None:
    """One run of n cases in this process; prints a JSON line of its figures."""
    from evalkit.stages.pipeline import RunOptions, execute, prepare

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        suite = write_suite(root, n, scorers="[exact]")
        config = write_config(root, url, concurrency)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        prepared = prepare(RunOptions(suites=[suite], config=config, out=root / "run", no_cache=True))
        summary = execute(prepared).summary
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        assert summary.results == n and summary.errors == 0, summary
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "wall_s": wall, "cpu_s": cpu, "rss_mb": rss_mb}))


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    against = [Path(sys.argv[i + 1]) for i, a in enumerate(sys.argv) if a == "--against"]
    args = [a for a in args if Path(a) not in against]
    sizes = [int(s) for s in (args[0] if args else "1000,10000,100000").split(",")]
    concurrency = int(args[1]) if len(args) > 1 else 32
    checkouts = [ROOT, *against]
    rows = []
    with fake_server(0.0) as url:
        for n in sizes:
            for code in checkouts:  # interleaved, so the machine's load hits each alike
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.bench_scale",
                        "--child",
                        str(n),
                        url,
                        str(concurrency),
                    ],
                    cwd=code,  # from the checkout: its evalkit comes first on the path
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rows.append({**json.loads(out.stdout.strip().splitlines()[-1]), "code": str(code)[-20:]})
    base = rows[0]["wall_s"] / rows[0]["n"]
    print(f"zero-latency fake server, concurrency {concurrency}, scorer exact, no cache")
    print(
        f"{'cases':>8}  {'checkout':20}  {'wall s':>8}  {'ms/case':>8}  {'CPU ms/case':>11}  {'vs first':>8}"
        f"  {'peak RSS MB':>11}"
    )
    for r in rows:
        per = r["wall_s"] / r["n"]
        print(
            f"{r['n']:>8}  {r['code']:20}  {r['wall_s']:>8.2f}  {per * 1000:>8.3f}"
            f"  {r['cpu_s'] / r['n'] * 1000:>11.3f}  {per / base:>7.2f}x  {r['rss_mb']:>11.0f}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        main()
