"""The metric scorers of issue 19, evalkit vs calling each library directly, in one run:

  wordnet:  the one-time WordNet 3.0 preparation (CRLF → LF copy into a fresh folder) and the
            first load of NLTK's reader over it (once per process).
  meteor:   1,000 pairs; evalkit's scorer vs nltk meteor_score + word_tokenize on the same pairs.
  evaluate: 300 pairs through the token_f1 module in tests/; evalkit (one compute per case)
            vs `evaluate` compute per pair, and one corpus compute.
  bertscore_minilm: 200 pairs; evalkit vs bert_score.BERTScorer.score on the same pairs.
Each figure is the best of 2-3 interleaved rounds.
Usage: python benchmarks/bench_new_scorers.py
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_MODULES_CACHE", tempfile.mkdtemp(prefix="bench-hf-modules-"))
os.environ.setdefault("TQDM_DISABLE", "1")

from evalkit.types import ScoreInput  # noqa: E402

TEXT = "the doctor physician examined child kid patient stock shares prices fell dropped sharply"
WORDS = [*TEXT.split(), "steeply", "on", "monday", "car", "automobile", "is", "red", "happy", "report"]


def pairs(n: int, seed: int, lo: int = 5, hi: int = 25) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [
        (
            " ".join(rng.choices(WORDS, k=rng.randint(lo, hi))),
            " ".join(rng.choices(WORDS, k=rng.randint(lo, hi))),
        )
        for _ in range(n)
    ]


def items(data: list[tuple[str, str]]) -> list[ScoreInput]:
    return [ScoreInput(output=o, references=(r,), vars={}, case_id=str(i)) for i, (o, r) in enumerate(data)]


def race(
    direct: Callable[[], list[float]], ours: Callable[[], list[float]], rounds: int
) -> tuple[float, float, float]:
    """Interleaved, best of `rounds` (this shared machine's timings vary a lot run to run):
    (direct s, evalkit s, largest |difference| of the values)."""
    best = [1e9, 1e9]
    worst = 0.0
    for _ in range(rounds):
        values = []
        for k, fn in enumerate((direct, ours)):
            start = time.perf_counter()
            values.append(fn())
            best[k] = min(best[k], time.perf_counter() - start)
        worst = max(abs(a - b) for a, b in zip(*values, strict=True))
    return best[0], best[1], worst


def line(name: str, n: int, timings: tuple[float, float, float], rounds: int) -> None:
    direct_s, ours_s, worst = timings
    print(
        f"{name:<17} {n:>5} pairs (best of {rounds}): direct {direct_s:6.2f} s, evalkit {ours_s:6.2f} s, "
        f"throughput ratio {direct_s / ours_s:.2f} (max |diff| {worst:.6f})"
    )


def bench_wordnet() -> None:
    from evalkit.scorers import wordnet_data

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVALKIT_MODELS_DIR"] = tmp
        start, cpu = time.perf_counter(), time.process_time()
        root = wordnet_data.ensure_prepared()
        prep = (time.perf_counter() - start, time.process_time() - cpu)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        start, cpu = time.perf_counter(), time.process_time()
        wordnet_data.load_wordnet()
        load = (time.perf_counter() - start, time.process_time() - cpu)
        del os.environ["EVALKIT_MODELS_DIR"]
    print(
        f"wordnet one-time preparation: {prep[0]:.2f} s wall, {prep[1]:.2f} s CPU ({size / 1e6:.1f} MB); "
        f"NLTK reader load, once per process: {load[0]:.2f} s wall, {load[1]:.2f} s CPU"
    )


def bench_meteor(n: int = 1000) -> None:
    from nltk.tokenize import word_tokenize
    from nltk.translate.meteor_score import meteor_score

    from evalkit.scorers.meteor import meteor
    from evalkit.scorers.wordnet_data import load_wordnet

    data = pairs(n, 0)
    wordnet = load_wordnet()
    scorer = meteor()

    def direct() -> list[float]:
        tok = word_tokenize
        return [
            meteor_score([tok(r, preserve_line=True)], tok(o, preserve_line=True), wordnet=wordnet)
            for o, r in data
        ]

    timings = race(direct, lambda: [row[0].value or 0.0 for row in scorer.score(items(data))], 3)
    line("meteor", n, timings, 3)


def bench_evaluate(n: int = 300) -> None:
    import evaluate

    from evalkit.scorers.hf_evaluate import EvaluateMetric, compute, evaluate_metric, value_of

    path = str(ROOT / "tests" / "scorers" / "metrics" / "token_f1")
    data = pairs(n, 1)
    module = evaluate.load(path, keep_in_memory=True)
    scorer = evaluate_metric(path=path)
    assert isinstance(scorer, EvaluateMetric)
    ours, lists = scorer.module, scorer.reference_lists  # aggregation's corpus compute (EvaluateCorpus)
    per_case = race(
        lambda: [module.compute(predictions=[o], references=[[r]])["token_f1"] for o, r in data],
        lambda: [row[0].value or 0.0 for row in scorer.score(items(data))],
        3,
    )
    line("evaluate per case", n, per_case, 3)
    corpus = race(
        lambda: [
            module.compute(predictions=[o for o, _ in data], references=[[r] for _, r in data])["token_f1"]
        ],
        lambda: [
            value_of(compute(ours, [o for o, _ in data], [(r,) for _, r in data], lists, {}), "token_f1")
        ],
        3,
    )
    line("evaluate corpus", n, corpus, 3)


def bench_bertscore(n: int = 200) -> None:
    from bert_score import BERTScorer

    from evalkit.scorers.bertscore import LAYER, bertscore_minilm
    from evalkit.scorers.embedding import default_model_path

    data = pairs(n, 2)
    direct_scorer = BERTScorer(model_type=default_model_path(), num_layers=LAYER)
    scorer = bertscore_minilm()
    scorer.score(items(data[:2]))  # load the model outside the timing, like the direct one
    timings = race(
        lambda: direct_scorer.score([o for o, _ in data], [[r] for _, r in data])[2].tolist(),
        lambda: [row[0].value or 0.0 for row in scorer.score(items(data))],
        2,
    )
    line("bertscore_minilm", n, timings, 2)


if __name__ == "__main__":
    bench_wordnet()
    bench_meteor()
    bench_evaluate()
    bench_bertscore()
