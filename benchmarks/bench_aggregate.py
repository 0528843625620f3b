"""Aggregation at scale: summary of a synthetic 10,000- and 100,000-line results.jsonl (no
model), from the result lines and the run's MetricInfo alone, then the gate and the HTML report
over the same run, each stage in its own process so its peak RSS (ru_maxrss) is its own.

Aggregation streams: its peak memory must stay flat as the run grows (target < 500 MB).

Usage: python -m benchmarks.bench_aggregate [--sizes 10000 100000] [--stages summary gate report]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT

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
SCORERS = [{"type": "exact"}, {"type": "rouge", "types": ["rougeL"]}, {"type": "bleu"}]


def make_run(run: Path, n: int, repeats: int) -> None:
    """n result lines: 2 variants × n/(2·repeats) cases × repeats, with exact/rougeL/bleu scores."""
    from evalkit.types import CaseResult, Message, StoredScore, Usage

    rng = random.Random(n)
    run.mkdir(parents=True)
    with (run / "results.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            case, variant, repeat = i // (2 * repeats), "ab"[i % 2], (i // 2) % repeats
            output = " ".join(rng.choices(WORDS, k=rng.randint(10, 60)))
            ok = rng.random() < 0.7
            r = CaseResult(
                suite="big",
                case_id=f"case-{case}",
                variant=variant,
                repeat=repeat,
                provider="api",
                model="m",
                messages=[
                    Message(role="user", content=f"Question {case}: {' '.join(rng.choices(WORDS, k=30))}?")
                ],
                references=[" ".join(rng.choices(WORDS, k=20))],
                output=output,
                latency_ms=rng.lognormvariate(6, 0.4),
                usage=Usage(input_tokens=60, output_tokens=40),
                cost_usd=1e-4,
                scores={
                    "exact": StoredScore(value=float(ok), passed=ok),
                    "rougeL": StoredScore(value=rng.random()),
                    "bleu": StoredScore(value=rng.random() * 100),
                },
            )
            fh.write(r.model_dump_json() + "\n")


def stage(name: str, run: Path) -> dict[str, float]:
    """One stage in this process; returns its wall time (s) and this process's peak RSS (MB)."""
    from evalkit.compare.aggregate import Summary, summarize_groups
    from evalkit.rundir.files import read_results
    from evalkit.scorers.base import metric_infos
    from evalkit.spec.suite import ScorerSpec
    from evalkit.types import Threshold

    # "aggregate": every figure incl. corpus BLEU (sacrebleu re-tokenises every output);
    # "summary": the same without the corpus figure, to show aggregation's own cost
    specs = SCORERS if name != "summary" else [s for s in SCORERS if s["type"] != "bleu"]
    metrics = {"big": metric_infos([ScorerSpec.model_validate(s) for s in specs])}
    thresholds = {"big": {"exact": Threshold(min=0.5)}}
    start = time.perf_counter()
    if name == "import":
        pass
    elif name in ("aggregate", "summary"):
        groups = summarize_groups(read_results(run / "results.jsonl"), metrics, thresholds)
        summary = Summary(
            run_id="bench", status="passed", exit_code=0, results=sum(g.results for g in groups.values()),
            errors=0, error_budget="", groups=list(groups.values()),
        )  # fmt: skip
        (run / "summary.json").write_text(summary.model_dump_json())
        (run / "run.json").write_text(json.dumps({"run_id": "bench", "options": {}}))
    elif name == "gate":
        from evalkit.compare.gate import diff_runs
        from evalkit.compare.groups import groups_from_run

        groups = groups_from_run(run)
        diff_runs(groups, groups, thresholds, resamples=200)
    elif name == "report":
        from evalkit.report import html
        from evalkit.rundir.dir import RunDir

        rd = RunDir(run)
        with rd.lock("bench_aggregate"):
            html.write(rd)
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(name: str, run: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_aggregate", "--child", name, str(run)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "RUN_DIR"))
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--stages", nargs="+", default=["summary", "gate", "report"])
    parser.add_argument("--repeats", type=int, default=2, help="repeats per case (≥ 2: consistency figures)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(stage(args.child[0], Path(args.child[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = child("import", Path(tmp))
        print(f"python + evalkit imports alone: peak RSS {base['peak_rss_mb']:.0f} MB")
        figures: dict[str, dict[int, dict[str, float]]] = {}
        for n in args.sizes:
            run = Path(tmp) / f"run{n}"
            make_run(run, n, args.repeats)
            size_mb = (run / "results.jsonl").stat().st_size / 1e6
            print(f"{n:,} lines ({size_mb:,.0f} MB results.jsonl, {args.repeats} repeat(s) per case)")
            for name in dict.fromkeys(["summary", *args.stages]):
                figures.setdefault(name, {})[n] = f = child(name, run)
                print(f"  {name:<9} {f['seconds']:7.2f} s   peak RSS {f['peak_rss_mb']:6.0f} MB")
        if len(args.sizes) >= 2:
            small, large = min(args.sizes), max(args.sizes)
            print(f"\n{large:,} vs {small:,} lines ({large / small:.0f}× the lines):")
            for name, by_size in figures.items():
                t = by_size[large]["seconds"] / by_size[small]["seconds"]
                m = by_size[large]["peak_rss_mb"] / by_size[small]["peak_rss_mb"]
                print(f"  {name:<9} time {t:5.1f}×   peak RSS {m:5.2f}×")


if __name__ == "__main__":
    main()
