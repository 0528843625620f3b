"""HTML report at scale: render time and file size for 1,000 and 10,000 cases (or SIZES),
and in headless chromium: first contentful paint, the time until the case table is ready, the
page's JavaScript heap, a search over every case, and filtering and sorting the output matrix.

Usage: python -m benchmarks.bench_report [SIZES]   e.g. 1000,10000,100000
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from evalkit.compare.aggregate import Summary, summarize_group
from evalkit.report import html
from evalkit.rundir.dir import RunDir
from evalkit.rundir.files import ResultWriter
from evalkit.scorers.base import metric_infos
from evalkit.spec.suite import ScorerSpec
from evalkit.types import CaseResult, Message, StoredScore, Threshold, Usage

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


def make_run(root: Path, n: int) -> Path:
    rng = random.Random(n)
    run = root / f"run{n}"
    run.mkdir()
    writer = ResultWriter(run / "results.jsonl")
    results = []
    for i in range(n):
        variant = "a" if i % 2 == 0 else "b"
        output = " ".join(rng.choices(WORDS, k=rng.randint(10, 60)))
        ok = rng.random() < 0.7
        r = CaseResult(
            suite="big",
            case_id=f"case-{i // 2}",
            variant=variant,
            repeat=0,
            provider="api",
            model="m",
            tags=[f"t{i % 5}"],
            messages=[
                Message(role="system", content=SYSTEM),
                Message(
                    role="user", content=f"Question {i}: what about {' '.join(rng.choices(WORDS, k=12))}?"
                ),
            ],
            references=[" ".join(rng.choices(WORDS, k=20))],
            output=output,
            latency_ms=rng.lognormvariate(6, 0.4),
            usage=Usage(input_tokens=60, output_tokens=40),
            cost_usd=1e-4,
            scores={
                "exact": StoredScore(value=float(ok), passed=ok),
                "rougeL": StoredScore(value=rng.random()),
            },
        )
        writer.append(r)
        results.append(r)
    writer.close()
    groups = [
        summarize_group(
            [r for r in results if r.variant == v],
            metric_infos([ScorerSpec(type="exact"), ScorerSpec(type="rouge", types=["rougeL"])]),
            {"exact": Threshold(min=0.5)},
        )
        for v in ("a", "b")
    ]
    summary = Summary(
        run_id=f"bench-{n}", status="passed", exit_code=0, results=n, errors=0, error_budget="", groups=groups
    )
    (run / "summary.json").write_text(summary.model_dump_json())
    (run / "run.json").write_text(json.dumps({"run_id": f"bench-{n}", "options": {}}))
    return run


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        sizes = sys.argv[1] if len(sys.argv) > 1 else "1000,10000"
        for n in (int(x) for x in sizes.split(",")):
            run = make_run(Path(tmp), n)
            start = time.perf_counter()
            rd = RunDir(run)
            with rd.lock("bench_report"):
                path = html.write(rd)
            elapsed = time.perf_counter() - start
            runs[n] = path
            print(f"{n:6d} cases: render {elapsed:.2f} s, report.html {path.stat().st_size / 1e6:.2f} MB")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            print("playwright not installed: skipping the browser load time")
            return
        with sync_playwright() as p:
            chrome = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--enable-precise-memory-info"],
            )
            page = chrome.new_page()
            for n, path in runs.items():
                best = float("inf")
                for _ in range(3):
                    start = time.perf_counter()
                    page.goto(path.as_uri())
                    page.wait_for_selector("body[data-ready='1']")
                    best = min(best, time.perf_counter() - start)
                rows = page.locator("#case-table tbody tr").count()
                print(
                    f"{n:6d} cases: chromium load until the table is ready {best:.2f} s (best of 3), {rows} rows in the DOM"
                )
                paint = page.evaluate(
                    "() => performance.getEntriesByName('first-contentful-paint').map((e) => e.startTime)[0]"
                )
                heap = page.evaluate("() => performance.memory.usedJSHeapSize") / 2**20
                print(f"{n:6d} cases: first contentful paint {paint / 1000:.2f} s, JS heap {heap:.0f} MB")
                start = time.perf_counter()
                page.fill("#f-text", f"case-{n // 2 - 1}")  # the last case: a search over every case
                found = page.inner_text("#count")
                print(f"{n:6d} cases: search over every case {time.perf_counter() - start:.2f} s ({found})")
                start = time.perf_counter()
                page.select_option("#m-filter", "differ")
                page.select_option("#m-sort", "spread:rougeL")
                sort = time.perf_counter() - start
                cells = page.locator("#matrix-table td.cell").count()
                print(
                    f"{n:6d} cases: output matrix filtered and sorted by score spread {sort:.2f} s, {cells} cells in the DOM"
                )
            chrome.close()


if __name__ == "__main__":
    main()
