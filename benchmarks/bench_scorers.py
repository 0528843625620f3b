"""Scorer throughput, evalkit vs calling the library directly, side by side in one run.

  cosine: 2,000 output/reference pairs; evalkit's scorer vs SentenceTransformer.encode on the
          same pairs in one batch plus sentence_transformers.util.cos_sim.
  rouge:  10,000 pairs (rouge1/2/L); evalkit's scorer (Rust engine when installed) vs rouge-score.
Usage: python -m benchmarks.bench_scorers
"""

from __future__ import annotations

import random
import time

from evalkit.scorers.embedding import cosine, default_model_path
from evalkit.scorers.overlap import rouge
from evalkit.types import ScoreInput

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "dog",
    "ran",
    "fast",
    "blue",
    "sky",
    "paris",
    "capital",
    "france",
    "water",
    "boils",
    "running",
    "runners",
    "quickly",
]


def sentence(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(lo, hi)))


def bench_cosine(n: int = 2000) -> None:
    from sentence_transformers import SentenceTransformer, util

    rng = random.Random(0)
    pairs = [(sentence(rng, 5, 30), sentence(rng, 5, 30)) for _ in range(n)]
    model = SentenceTransformer(default_model_path())
    model.encode(["warm up"])
    start = time.perf_counter()
    outs = model.encode([o for o, _ in pairs], batch_size=64, convert_to_tensor=True)
    refs = model.encode([r for _, r in pairs], batch_size=64, convert_to_tensor=True)
    direct = [float(util.cos_sim(outs[i], refs[i])[0][0]) for i in range(n)]
    raw_s = time.perf_counter() - start
    scorer = cosine()
    scorer.score([ScoreInput(output="warm", references=("up",), vars={}, case_id="w")])
    items = [ScoreInput(output=o, references=(r,), vars={}, case_id=str(i)) for i, (o, r) in enumerate(pairs)]
    start = time.perf_counter()
    ours = [row[0].value for row in scorer.score(items)]
    ev_s = time.perf_counter() - start
    worst = max(abs((a or 0) - b) for a, b in zip(ours, direct, strict=True))
    print(
        f"cosine {n} pairs: direct {raw_s:.2f} s, evalkit {ev_s:.2f} s, throughput ratio {raw_s / ev_s:.2f} (max |diff| {worst:.1e})"
    )


def bench_rouge(n: int = 10_000) -> None:
    from rouge_score import rouge_scorer

    rng = random.Random(1)
    pairs = [(sentence(rng, 3, 40), sentence(rng, 3, 40)) for _ in range(n)]
    types = ["rouge1", "rouge2", "rougeL"]
    direct = rouge_scorer.RougeScorer(types)
    items = [ScoreInput(output=o, references=(r,), vars={}, case_id=str(i)) for i, (o, r) in enumerate(pairs)]
    scorers = {engine: rouge(types=types, engine=engine) for engine in ("python", "auto")}  # type: ignore[arg-type]
    best: dict[str, float] = {}
    for _ in range(3):  # interleaved, best of 3: this machine's timings vary by ±30% run to run
        start = time.perf_counter()
        for out, ref in pairs:
            direct.score(ref, out)
        best["direct"] = min(best.get("direct", 1e9), time.perf_counter() - start)
        for engine, scorer in scorers.items():
            start = time.perf_counter()
            scorer.score(items)
            best[engine] = min(best.get(engine, 1e9), time.perf_counter() - start)
    for engine, scorer in scorers.items():
        label = f"evalkit ({scorer.engine})"  # type: ignore[attr-defined]
        print(
            f"rouge {n} pairs (best of 3): rouge-score {best['direct']:.2f} s, {label} {best[engine]:.2f} s, "
            f"throughput ratio {best['direct'] / best[engine]:.2f}"
        )


if __name__ == "__main__":
    bench_cosine()
    bench_rouge()
