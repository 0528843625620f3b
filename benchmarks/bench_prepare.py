"""Prepare: the CPU `evalkit run` spends before its first request, per case.

`prepare` (config, suite loading and validation, the plan with every prompt rendered once, the
providers, run.json and the cases.jsonl snapshot) runs serially before the first request, so
its CPU is wall time at any latency. Each size runs in a fresh process: a 10-case prepare first
(what is paid once: imports, providers), then the timed prepare of n generated cases
(benchmarks/_common.py's suite) as `evalkit run` prepares (cases.jsonl left to the execute
stage, which writes it while the first requests are in flight: "cases s", timed apart), then
one pass over `Plan.batches` as the execute stage makes it (every request rendered, each case
held, the collector set as the execute stage sets it), timed apart.
Usage: python -m benchmarks.bench_prepare [SIZES] [REPEATS] [--against CHECKOUT]
e.g. 20000,100000 3 --against /work/wt/base: the checkouts interleaved, medians of the repeats.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, arguments, write_config, write_suite


def child(suite_dir: str) -> None:
    """Prepare the suite in `suite_dir` (after a 10-case warm-up); prints a JSON line."""
    from evalkit._util import collector
    from evalkit.stages.pipeline import RunOptions, prepare

    root = Path(suite_dir)
    config = root / "evalkit.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        small = write_suite(Path(tmp) / "small", 10, scorers="[exact]")
        prepare(
            RunOptions(suites=[small], config=config, out=Path(tmp) / "warm", no_cache=True)
        ).lock.release()
        options = RunOptions(suites=[root / "suite.yaml"], config=config, out=Path(tmp) / "run")
        cpu0 = time.process_time()
        try:  # as `evalkit run` prepares: cases.jsonl left to the execute stage
            prepared = prepare(options, cases_later=True)  # type: ignore[call-arg, unused-ignore]
        except TypeError:  # an older checkout writes it in prepare
            prepared = prepare(options)
        prepare_s = time.process_time() - cpu0
        cpu0 = time.process_time()
        later = getattr(prepared, "cases", None)
        if later is not None:
            later.finish()
        cases_s = time.process_time() - cpu0
        cpu0 = time.process_time()
        held = 0

        def hold(_request: object, _case: object) -> None:
            nonlocal held
            held += 1

        with collector.long_run():  # as the execute stage iterates them
            requests = sum(len(rs) for batch in prepared.plan.batches(hold=hold) for rs in batch.values())
        batches_s = time.process_time() - cpu0
        prepared.lock.release()
        assert requests == held == prepared.plan.count
    import evalkit

    assert Path(evalkit.__file__).is_relative_to(Path.cwd()), evalkit.__file__
    print(json.dumps({"n": requests, "prepare_s": prepare_s, "cases_s": cases_s, "batches_s": batches_s}))


def main() -> None:
    args, against = arguments(sys.argv)
    sizes = [int(s) for s in (args[0] if args else "20000,100000").split(",")]
    repeats = int(args[1]) if len(args) > 1 else 3
    checkouts = [ROOT, *against]
    print(f"{os.cpu_count()} CPUs, load average {load()} at the start", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            root = Path(tmp) / str(n)
            write_suite(root, n, scorers="[exact]")
            write_config(root, "http://127.0.0.1:9/v1", 32)
            runs: dict[Path, list[dict[str, Any]]] = {c: [] for c in checkouts}
            for _ in range(repeats):
                for code in checkouts:  # interleaved, so the machine's load hits each alike
                    runs[code].append(measure(code, root))
            rows += [median_row(code, n, found) for code, found in runs.items()]
    print(f"load {load()} at the end; medians of {repeats}")
    print(
        f"{'cases':>8}  {'checkout':20}  {'prepare s':>9}  {'µs/case':>8}  {'cases s':>7}"
        f"  {'batches s':>9}  {'µs/case':>8}"
    )
    for r in rows:
        print(
            f"{r['n']:>8}  {r['code']:20}  {r['prepare_s']:>9.3f}  {r['prepare_s'] / r['n'] * 1e6:>8.1f}"
            f"  {r['cases_s']:>7.3f}  {r['batches_s']:>9.3f}  {r['batches_s'] / r['n'] * 1e6:>8.1f}"
        )


def measure(code: Path, root: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(root)],
        cwd=code,  # the checkout's evalkit first on the path (an older one has no such script)
        env={
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPATH": str(code),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def median_row(code: Path, n: int, found: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "n": n,
        "code": str(code)[-20:],
        "prepare_s": statistics.median(r["prepare_s"] for r in found),
        "cases_s": statistics.median(r["cases_s"] for r in found),
        "batches_s": statistics.median(r["batches_s"] for r in found),
    }


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
