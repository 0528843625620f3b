"""report.html at scale: for each size (default 10,000, 100,000 and 1,000,000 cases) a synthetic
run directory (results.jsonl, cases.jsonl, a baseline's outputs for every case, summary.json),
then, with this checkout's code and (with --against CHECKOUT) an older one's, interleaved:

  writer    peak RSS and wall time of `evalkit report RUN` (junit.xml and summary.md included) and
            of the report writer alone (evalkit.report.html.write), each a fresh process
  file      report.html's size
  chromium  DOMContentLoaded, first contentful paint, the time until the case table is ready,
            the JS heap after a garbage collection, a search for the last case (in the last
            chunk) and the verdict filter 'fail' counting every failing case

With --cpu RUN_DIR[,RUN_DIR...] it measures instead the CPU per case of the writer alone
(`html.write`, imports not counted: what a run has imported by then, evalkit.stages.conclude, is
imported first) on existing run directories (e.g. those `evalkit run` wrote),
each write a fresh process, this checkout and --against's interleaved, --repeats times (median),
and report.html's size.

Usage: python -m benchmarks.bench_report [SIZES] [--against CHECKOUT] [--browser-timeout S]
       python -m benchmarks.bench_report --cpu RUN_DIR[,RUN_DIR] [--repeats N] [--against CHECKOUT]
  e.g. python -m benchmarks.bench_report 10000,100000 --against /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT

SYSTEM = "You are a concise assistant. Answer the question in one or two sentences, citing the source."
WORDS = [
    "the",
    "model",
    "answered",
    "quickly",
    "with",
    "a",
    "short",
    "and",
    "mostly",
    "correct",
    "sentence",
    "about",
    "rivers",
    "cities",
    "numbers",
]


def _result(i: int, rng: random.Random) -> tuple[dict[str, Any], bool]:
    ok = i % 10 < 7  # 70 % pass: the failing cases are known without reading the file back
    question = f"Question {i}: what about {' '.join(rng.choices(WORDS, k=12))}?"
    return {
        "schema_version": 3,
        "suite": "big",
        "case_id": f"case-{i // 2}",
        "variant": "a" if i % 2 == 0 else "b",
        "repeat": 0,
        "provider": "api",
        "model": "m",
        "tags": [f"t{i % 5}"],
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
        "references": [" ".join(rng.choices(WORDS, k=20))],
        "output": " ".join(rng.choices(WORDS, k=rng.randint(10, 60))),
        "latency_ms": round(rng.lognormvariate(6, 0.4), 3),
        "usage": {"input_tokens": 60, "output_tokens": 40},
        "cost_usd": 0.0001,
        "scores": {
            "exact": {"value": float(ok), "passed": ok, "reason": None},
            "rougeL": {"value": round(rng.random(), 4), "passed": None, "reason": None},
        },
    }, ok


def failing(n: int) -> int:
    """How many of make_run(n)'s cases fail (the exact scorer decides the pass)."""
    return sum(1 for i in range(n) if i % 10 >= 7)


def make_run(root: Path, n: int) -> Path:
    """A run directory of n cases, written line by line (the summary from the first 2,000)."""
    from evalkit.compare.aggregate import Summary, summarize_group
    from evalkit.scorers.base import metric_infos
    from evalkit.spec.suite import ScorerSpec
    from evalkit.types import CaseResult, Threshold

    rng = random.Random(n)
    run = root / f"run{n}"
    run.mkdir()
    sample: list[CaseResult] = []
    with (
        (run / "results.jsonl").open("w") as results,
        (run / "cases.jsonl").open("w") as cases,
        (run / "baseline.jsonl").open("w") as baseline,  # RunDir.baseline_file
    ):
        for i in range(n):
            row, _ = _result(i, rng)
            results.write(json.dumps(row) + "\n")
            if row["variant"] == "a":
                cases.write(json.dumps({"suite": "big", "id": row["case_id"], "vars": {"i": i // 2}}) + "\n")
            base = {k: row[k] for k in ("suite", "variant", "case_id", "repeat")}
            base.update(
                output=" ".join(rng.choices(WORDS, k=20)), scores={"exact": 1.0}, passed={"exact": True}
            )
            baseline.write(json.dumps(base) + "\n")
            if i < 2_000:
                sample.append(CaseResult.model_validate(row))
    infos = metric_infos([ScorerSpec(type="exact"), ScorerSpec(type="rouge", types=["rougeL"])])
    groups = [
        summarize_group([r for r in sample if r.variant == v], infos, {"exact": Threshold(min=0.5)})
        for v in ("a", "b")
    ]
    summary = Summary(
        run_id=f"bench-{n}", status="passed", exit_code=0, results=n, errors=0, error_budget="", groups=groups
    )
    (run / "summary.json").write_text(summary.model_dump_json())
    (run / "run.json").write_text(json.dumps({"run_id": f"bench-{n}", "options": {}}))
    return run


WRITER = "from evalkit.report import html; from evalkit.rundir.dir import RunDir; import sys\n"
WRITER += "rd = RunDir(sys.argv[1])\nwith rd.lock('bench'): html.write(rd)\n"


CPU_WRITER = (
    "import sys, time, resource; from evalkit.report import html; from evalkit.rundir.dir import RunDir\n"
)
CPU_WRITER += "from evalkit.rundir.files import read_lines_at\n"
CPU_WRITER += "import evalkit.stages.conclude  # what a run has imported when it writes report.html\n"
CPU_WRITER += "rd = RunDir(sys.argv[1])\nwith rd.lock('bench'):\n"
CPU_WRITER += "    t, w = time.process_time(), time.perf_counter(); html.write(rd)\n"
CPU_WRITER += "    cpu, wall = time.process_time() - t, time.perf_counter() - w\n"
CPU_WRITER += "n = sum(1 for _ in read_lines_at(rd.results_file, len))\n"
CPU_WRITER += "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
CPU_WRITER += "print(n, cpu, wall, rss, rd.report_file.stat().st_size)\n"


def writer_cpu(codes: dict[str, Path], runs: list[Path], repeats: int) -> None:
    """The writer's CPU per case on each run directory, the checkouts interleaved (medians)."""
    import statistics

    for run in runs:
        got: dict[str, list[list[float]]] = {label: [] for label in codes}
        for _ in range(repeats):
            for label, code in codes.items():
                out = python_with(code, [sys.executable, "-c", CPU_WRITER, str(run)]).stdout
                got[label].append([float(x) for x in out.split()])
        for label, samples in got.items():
            n = int(samples[0][0])
            cpu = [s[1] / n * 1e6 for s in samples]
            wall = statistics.median(s[2] for s in samples) / n * 1e6
            rss, size = max(s[3] for s in samples), samples[0][4] / 2**20
            print(
                f"{run.name} ({n:,} cases) {label:6}: html.write {statistics.median(cpu):.1f} us/case CPU "
                f"(min {min(cpu):.1f}, max {max(cpu):.1f}; wall {wall:.1f}), peak RSS {rss:.0f} MB, "
                f"report.html {size:.2f} MB",
                flush=True,
            )


def python_with(code: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    """`command` with `code` first on the path, run from elsewhere (`python -m` puts the working
    directory first on the path); its stderr's tail ends the benchmark when it fails."""
    env = {**os.environ, "PYTHONPATH": str(code), "NO_COLOR": "1"}
    proc = subprocess.run(command, env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr[-2000:])
    return proc


def timed(code: Path, args: list[str]) -> tuple[float, float, float]:
    """Peak RSS (MB), wall and CPU seconds of `python ARGS` with `code` first on the path."""
    proc = python_with(code, ["/usr/bin/time", "-f", "%M %e %U %S", sys.executable, *args])
    rss_kb, wall, user, system = proc.stderr.strip().splitlines()[-1].split()
    return int(rss_kb) / 1024, float(wall), float(user) + float(system)


def browse(chrome: Any, path: Path, n: int, timeout_s: float) -> str:
    """The page's figures in Chromium, in words (or why there are none)."""
    page = chrome.new_page()
    cdp = page.context.new_cdp_session(page)
    try:
        start = time.perf_counter()
        page.goto(path.as_uri(), timeout=timeout_s * 1000, wait_until="domcontentloaded")
        page.wait_for_selector("body[data-ready='1']", timeout=timeout_s * 1000)
        ready = time.perf_counter() - start
        nav = page.evaluate(
            "() => [performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,"
            " (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime]"
        )
        cdp.send("HeapProfiler.collectGarbage")
        usage = cdp.send("Runtime.getHeapUsage")
        heap = usage["usedSize"] / 2**20
        buffers = usage.get("backingStorageSize", 0) / 2**20  # typed arrays' memory, outside the heap
        start = time.perf_counter()
        page.fill("#f-text", f"case-{n // 2 - 1}")  # the last case, in the last chunk
        page.wait_for_selector("#cases:not([aria-busy])", timeout=timeout_s * 1000)
        search, found = time.perf_counter() - start, page.inner_text("#count")
        page.fill("#f-text", "")
        page.wait_for_selector("#cases:not([aria-busy])", timeout=timeout_s * 1000)
        start = time.perf_counter()
        page.select_option("#f-verdict", "fail")
        page.wait_for_selector("#cases:not([aria-busy])", timeout=timeout_s * 1000)
        filtered, fails = time.perf_counter() - start, page.inner_text("#count").split(" of ")[-1]
        return (
            f"DOMContentLoaded {nav[0] / 1000:.2f} s, first paint {(nav[1] or 0) / 1000:.2f} s, "
            f"ready {ready:.2f} s, JS heap {heap:.0f} MB (+ {buffers:.0f} MB array buffers), search {search:.2f} s ({found}), "
            f"filter 'fail' {filtered:.2f} s ({fails}, expected {failing(n):,})"
        )
    except Exception as exc:  # the older report may not open at all: that is a figure too
        return f"did not open: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="?", default="10000,100000,1000000")
    parser.add_argument("--against", type=Path, help="an older checkout to compare with")
    parser.add_argument("--browser-timeout", type=float, default=300.0)
    parser.add_argument("--cpu", help="run directories (comma-separated): the writer's CPU per case")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    codes = {"after": ROOT} | ({"before": args.against.resolve()} if args.against else {})
    if args.cpu:
        writer_cpu(codes, [Path(p) for p in args.cpu.split(",")], args.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        pages: dict[tuple[int, str], Path] = {}
        for n in (int(x) for x in args.sizes.split(",")):
            run = make_run(Path(tmp), n)
            for label, code in codes.items():
                cli = timed(code, ["-m", "evalkit", "report", str(run)])
                writer = timed(code, ["-c", WRITER, str(run)])
                pages[n, label] = Path(tmp) / f"report-{n}-{label}.html"
                shutil.copy(run / "report.html", pages[n, label])
                size = pages[n, label].stat().st_size / 2**20
                print(
                    f"{n:>9,} {label:6}: report.html {size:.1f} MB; evalkit report {cli[1]:.1f} s "
                    f"({cli[2]:.1f} s CPU), peak {cli[0]:.0f} MB; the writer alone {writer[1]:.1f} s "
                    f"({writer[2]:.1f} s CPU), peak {writer[0]:.0f} MB",
                    flush=True,
                )
            shutil.rmtree(run)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            chrome = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--enable-precise-memory-info"],
            )
            for (n, label), path in pages.items():
                print(
                    f"{n:>9,} {label:6}: chromium {browse(chrome, path, n, args.browser_timeout)}", flush=True
                )
            chrome.close()


if __name__ == "__main__":
    main()
