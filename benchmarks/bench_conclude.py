"""Concluding a run: the CPU `finish` spends per case, report.html left out.

`finish` (results.jsonl read once: every group's figures, junit.xml's test cases, the frontier's
and the gate's per-case tallies; then summary.json, diff.json, junit.xml and summary.md) runs
serially after the last answer, so its CPU is wall time at any latency. Three run directories
are made once by a real run against the fake server (benchmarks/_common.py's suite, `exact`
scored, half the cases failing): one variant; two variants (the frontier's paired tally); one
variant gated against a baseline saved from the same run. Each is concluded again in a fresh
process per checkout (imports done before the clock starts, report.html's writer replaced by a
no-op: the report has its own benchmark), the checkouts interleaved.
Usage: python -m benchmarks.bench_conclude [SIZES] [REPEATS] [--against CHECKOUT]
e.g. 20000,100000 3 --against /work/wt/base: medians of the repeats.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT, arguments, fake_server, write_config, write_suite

KINDS = ("1 variant", "2 variants", "gated")


def child(run: str, baselines: str) -> None:
    """Conclude the run in `run` again (gated against `baselines` when given); prints CPU s."""
    import evalkit.report.html as html
    from evalkit.rundir.dir import RunDir
    from evalkit.stages import conclude, finish  # noqa: F401  (imported before the clock starts)

    html.write = lambda run_dir: run_dir.report_file  # type: ignore[assignment]
    run_dir = RunDir(Path(run))
    with run_dir.lock("bench_conclude"):
        cpu0 = time.process_time()
        if baselines:
            finish.finish(run_dir, baselines=Path(baselines))
        else:
            finish.finish(run_dir)
        print(time.process_time() - cpu0)


def make_runs(root: Path, n: int) -> dict[str, tuple[Path, str]]:
    """The three run directories of n results (and the baselines folder of the gated one)."""
    from evalkit.compare import baseline, groups
    from evalkit.stages.pipeline import RunOptions, execute, prepare

    out: dict[str, tuple[Path, str]] = {}
    with fake_server(0.0) as url:
        for kind, variants in (("1 variant", 1), ("2 variants", 2), ("gated", 1)):
            where = root / kind.replace(" ", "-")
            suite = write_suite(where, n // variants, scorers="[exact]")
            config = write_config(where, url, 32)
            if variants == 2:
                text = config.read_text().replace("variants:\n", "variants:\n  w: {provider: api}\n")
                config.write_text(text)
            options = RunOptions(suites=[suite], config=config, out=where / "run", no_cache=True)
            execute(prepare(options))
            folder = ""
            if kind == "gated":
                folder = str(where / "baselines")
                for group in groups.groups_from_run(where / "run"):
                    baseline.save(group, Path(folder))
            out[kind] = (where / "run", folder)
    return out


def measure(code: Path, run: Path, folder: str) -> float:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(run), folder],
        cwd=code,  # the checkout's evalkit first on the path (an older one has no such script)
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    args, against = arguments(sys.argv)
    sizes = [int(s) for s in (args[0] if args else "20000,100000").split(",")]
    repeats = int(args[1]) if len(args) > 1 else 3
    checkouts = [ROOT, *against]
    print(f"{os.cpu_count()} CPUs, load average {load()} at the start", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for kind, (run, folder) in make_runs(Path(tmp) / str(n), n).items():
                cpu: dict[Path, list[float]] = {c: [] for c in checkouts}
                for _ in range(repeats):
                    for code in checkouts:  # interleaved, so the machine's load hits each alike
                        cpu[code].append(measure(code, run, folder))
                rows += [(n, kind, str(code)[-20:], statistics.median(v)) for code, v in cpu.items()]
    print(f"load {load()} at the end; medians of {repeats}")
    print(f"{'results':>8}  {'run':10}  {'checkout':20}  {'CPU s':>6}  {'µs/case':>7}")
    for n, kind, code, seconds in rows:
        print(f"{n:>8}  {kind:10}  {code:20}  {seconds:>6.3f}  {seconds / n * 1e6:>7.1f}")


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
