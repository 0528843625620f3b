"""`evalkit calibrate RUN_DIR`: how well each judge and each pass/fail scorer agrees with people.

Per score, on the labelled outputs (one pair per label: several people may label one output):
accuracy, Cohen's κ (quadratic-weighted on 1–5 ratings), Krippendorff's α when several people
labelled (among the people, and with the judge as one more rater), the confusion matrix
(rows: people, columns: the scorer), leniency (the scorer's pass rate or mean rating minus
the people's) and the outputs where they disagree most. Every figure comes with a percentile
bootstrap CI that resamples labelled *outputs* (all labels of an output travel together) and
the number it rests on. Point values come from scikit-learn (cohen_kappa_score,
confusion_matrix) and the `krippendorff` package; bootstrap replicates of accuracy, κ and
leniency use one vectorised confusion-matrix computation, tested equal to scikit-learn's.
Judge consistency (a judge asked K times; pairwise orders swapped) comes from the scores the
judges wrote. The result goes to RUN_DIR/calibration.json and the report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from evalkit._util.models import Record, new_list
from evalkit.errors import UserInputError
from evalkit.human import labels as lb
from evalkit.rundir.dir import RunDir
from evalkit.types import CaseResult

Kind = Literal["pass_fail", "rating"]
VERDICTS = (0, 1)  # fail, pass
RATINGS = tuple(range(lb.RATING_MIN, lb.RATING_MAX + 1))


class Figure(Record):
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int  # labels (pairs) or, for α, labelled outputs it rests on


class Disagreement(Record):
    suite: str
    case: str
    variant: str
    repeat: int
    scorer: str  # what the scorer said: pass/fail or r/5
    people: list[str]  # "labeller: verdict"
    notes: list[str] = Field(default_factory=new_list)
    gap: float  # 0–1: |scorer − people's mean|


class Agreement(Record):
    score: str
    kind: Kind
    labels: int
    outputs: int
    labellers: list[str]
    accuracy: Figure
    kappa: Figure
    kappa_weights: Literal["quadratic"] | None = None
    alpha_people: Figure | None = None
    alpha_with_scorer: Figure | None = None
    categories: list[str]
    confusion: list[list[int]]  # rows: people, columns: the scorer
    leniency: Figure  # > 0: the scorer is more lenient than people
    disagreements: list[Disagreement] = Field(default_factory=new_list)
    warnings: list[str] = Field(default_factory=new_list)  # e.g. too few labels for a useful CI


MIN_LABELS = 30  # below this, agreement figures are too uncertain to act on: a warning says so


def labels_needed(half_width: float, confidence: float = 0.95) -> int:
    """Labels for a proportion's CI (accuracy) to be at most ± half_width wide, whatever the
    accuracy (the worst case, p = 0.5; normal approximation)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return math.ceil(z * z * 0.25 / (half_width * half_width))


def few_labels_warning(labels: int, confidence: float = 0.95) -> str | None:
    """Below MIN_LABELS: how wide the accuracy's CI can be, and what n a narrower one needs."""
    if labels >= MIN_LABELS:
        return None
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    half = min(0.5, z * math.sqrt(0.25 / max(labels, 1)))
    return (
        f"only {labels} label{'' if labels == 1 else 's'}: the {confidence:.0%} CI of accuracy can be "
        f"±{half:.2f} wide; about {labels_needed(0.1, confidence)} labels give ±0.10 and "
        f"{labels_needed(0.05, confidence)} give ±0.05"
    )


class Consistency(Record):
    judge: str
    check: Literal["self_agreement", "position_consistency"]
    mean: float
    n: int
    flaky: list[str] = Field(default_factory=new_list)  # suite/case/variant/repeat whose verdict flipped


class Calibration(Record):
    run_id: str
    labels: int
    labellers: list[str]
    confidence: float
    resamples: int
    seed: int
    libraries: dict[str, str]
    agreements: list[Agreement] = Field(default_factory=new_list)
    consistency: list[Consistency] = Field(default_factory=new_list)


@dataclass
class Pairs:
    """People's label vs the scorer's verdict, one pair per label, grouped by output."""

    kind: Kind
    people: list[int] = field(default_factory=list)
    scorer: list[int] = field(default_factory=list)
    output: list[int] = field(default_factory=list)  # index into `outputs`
    labeller: list[str] = field(default_factory=list)
    outputs: list[tuple[CaseResult, list[lb.AnyLabel]]] = field(default_factory=list)


def collect_pairs(
    results: Sequence[CaseResult],
    labels: Sequence[lb.AnyLabel],
    compared: Mapping[str, str],
    *,
    found: Mapping[str, Sequence[lb.AnyLabel]] | None = None,
) -> dict[tuple[str, Kind], Pairs]:
    """`found`: the labels of each result when the caller has them (`labels_for`)."""
    found = lb.labels_for(labels, results) if found is None else found
    out: dict[tuple[str, Kind], Pairs] = {}
    for r in results:
        mine = found.get(r.key)
        if not mine:
            continue
        for name, kind in compared.items():
            score = r.scores.get(name)
            if score is None:
                continue
            if kind == "rating" and score.value is not None:
                _add(out, (name, "rating"), r, [(x, x.rating) for x in mine], lb.judge_rating(score.value))
            if score.passed is not None:
                said = [(x, None if x.verdict is None else int(x.verdict == "pass")) for x in mine]
                _add(out, (name, "pass_fail"), r, said, int(score.passed))
    return out


def _add(
    out: dict[tuple[str, Kind], Pairs],
    key: tuple[str, Kind],
    r: CaseResult,
    said: Sequence[tuple[lb.AnyLabel, int | None]],
    scorer: int,
) -> None:
    given = [(x, v) for x, v in said if v is not None]
    if not given:
        return
    pairs = out.setdefault(key, Pairs(kind=key[1]))
    index = len(pairs.outputs)
    pairs.outputs.append((r, [x for x, _ in given]))
    for label, value in given:
        pairs.people.append(value)
        pairs.scorer.append(scorer)
        pairs.output.append(index)
        pairs.labeller.append(label.labeller)


def confusion_kappa(
    matrices: np.ndarray, weights: Literal["quadratic"] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy, Cohen's κ and the column-minus-row mean category index of a stack of
    confusion matrices (..., K, K), the way scikit-learn's cohen_kappa_score computes κ."""
    k = matrices.shape[-1]
    total = matrices.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = matrices.sum(axis=-1) / total[..., None]
        cols = matrices.sum(axis=-2) / total[..., None]
        expected = rows[..., :, None] * cols[..., None, :]
        observed = matrices / total[..., None, None]
        i, j = np.indices((k, k))
        w = (i - j) ** 2 if weights == "quadratic" else (i != j).astype(float)
        kappa = 1 - (w * observed).sum(axis=(-2, -1)) / (w * expected).sum(axis=(-2, -1))
        accuracy = np.trace(observed, axis1=-2, axis2=-1)
        idx = np.arange(k)
        leniency = (cols * idx).sum(axis=-1) - (rows * idx).sum(axis=-1)
    return accuracy, kappa, leniency


def _interval(replicates: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 10:
        return None, None
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return float(lo), float(hi)


def _figure(value: float | None, replicates: np.ndarray, confidence: float, n: int) -> Figure:
    if value is None or not np.isfinite(value):
        return Figure(value=None, n=n)
    lo, hi = _interval(replicates, confidence)
    return Figure(value=float(value), ci_low=lo, ci_high=hi, n=n)


def agreement(
    name: str, pairs: Pairs, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Agreement:
    sk = _need("sklearn.metrics")
    categories = RATINGS if pairs.kind == "rating" else VERDICTS
    weights: Literal["quadratic"] | None = "quadratic" if pairs.kind == "rating" else None
    people, scorer = np.array(pairs.people), np.array(pairs.scorer)
    n = len(people)
    confusion = sk.confusion_matrix(people, scorer, labels=list(categories))
    kappa = _kappa(sk, people, scorer, categories, weights)
    # bootstrap: resample outputs; C[o] holds the confusion counts of output o's labels
    k = len(categories)
    cells = np.searchsorted(categories, people) * k + np.searchsorted(categories, scorer)
    per_output = np.zeros((len(pairs.outputs), k * k))
    np.add.at(per_output, (np.array(pairs.output), cells), 1)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(
        len(pairs.outputs), np.full(len(pairs.outputs), 1 / len(pairs.outputs)), resamples
    )
    stacks = (draws @ per_output).reshape(resamples, k, k)
    acc_b, kappa_b, len_b = confusion_kappa(stacks, weights)
    _, _, lenient = confusion_kappa(confusion[None].astype(float), weights)
    alpha_people, alpha_with = _alphas(pairs, resamples, confidence, seed)
    return Agreement(
        score=name,
        kind=pairs.kind,
        labels=n,
        outputs=len(pairs.outputs),
        labellers=sorted(set(pairs.labeller)),
        accuracy=_figure(float(sk.accuracy_score(people, scorer)), acc_b, confidence, n),
        kappa=_figure(kappa, kappa_b, confidence, n),
        kappa_weights=weights,
        alpha_people=alpha_people,
        alpha_with_scorer=alpha_with,
        categories=["fail", "pass"] if pairs.kind == "pass_fail" else [str(c) for c in categories],
        confusion=confusion.tolist(),
        leniency=_figure(float(lenient[0]), len_b, confidence, n),
        disagreements=disagreements(pairs),
        warnings=[w for w in [few_labels_warning(n, confidence)] if w],
    )


def kappa(pairs: Pairs) -> float | None:
    """Cohen's κ of the pairs (quadratic-weighted for ratings): a run's `<judge>_kappa`, after
    each run and label import, with scikit-learn's own arithmetic but not its import (a second
    and more; `calibrate` uses scikit-learn itself, and a test holds the two equal)."""
    categories = RATINGS if pairs.kind == "rating" else VERDICTS
    weights: Literal["quadratic"] | None = "quadratic" if pairs.kind == "rating" else None
    people, scorer = np.array(pairs.people), np.array(pairs.scorer)
    if len(set(people.tolist()) | set(scorer.tolist())) < 2:
        return None  # one category on both sides: κ is undefined (0/0)
    value = cohen_kappa(people, scorer, categories, weights)
    return value if np.isfinite(value) else None


def cohen_kappa(
    a: np.ndarray, b: np.ndarray, categories: Sequence[int], weights: Literal["quadratic"] | None
) -> float:
    """`sklearn.metrics.cohen_kappa_score(a, b, labels=categories, weights=weights)`, step by
    step as scikit-learn computes it (so the figure is the same to the last bit)."""
    k = len(categories)
    index = np.searchsorted(np.asarray(categories), np.concatenate([a, b]))
    confusion = np.bincount(index[: len(a)] * k + index[len(a) :], minlength=k * k).reshape(k, k)
    return kappa_of_confusion(confusion, weights)


def kappa_of_confusion(confusion: np.ndarray, weights: Literal["quadratic"] | None) -> float:
    """Cohen's κ of a confusion matrix of counts (rows: the people, columns: the scorer), with
    scikit-learn's arithmetic."""
    k = confusion.shape[0]
    sum0, sum1 = np.sum(confusion, axis=0), np.sum(confusion, axis=1)
    expected = np.outer(sum0, sum1) / np.sum(sum0)
    if weights is None:
        w_mat = np.ones([k, k], dtype=int)
        w_mat.flat[:: k + 1] = 0
    else:
        w_mat = np.zeros([k, k], dtype=int)
        w_mat += np.arange(k)
        w_mat = (w_mat - w_mat.T) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(1 - np.sum(w_mat * confusion) / np.sum(w_mat * expected))


def kappas(
    results: Iterable[CaseResult],
    compared: Mapping[str, str],
    found: Mapping[str, Sequence[lb.AnyLabel]],
) -> dict[tuple[str, Kind], float | None]:
    """Each compared score's `kappa` with the people, as `collect_pairs` and `kappa` give it, from
    counts alone (a run's `<judge>_kappa` after every label import: a million labels are counted,
    not paired one by one). `found`: each result's labels (`labels_for`)."""
    counts: dict[tuple[str, Kind], np.ndarray] = {}
    for r in results:
        mine = found.get(r.key)
        if not mine:
            continue
        for name, kind in compared.items():
            score = r.scores.get(name)
            if score is None:
                continue
            if kind == "rating" and score.value is not None:
                rated = [x.rating for x in mine if x.rating is not None]
                if rated:
                    m = counts.setdefault((name, "rating"), np.zeros((len(RATINGS),) * 2, dtype=np.int64))
                    column = lb.judge_rating(score.value) - RATINGS[0]
                    for rating in rated:
                        m[rating - RATINGS[0], column] += 1
            if score.passed is not None:
                said = [x.verdict for x in mine if x.verdict is not None]
                if said:
                    m = counts.setdefault((name, "pass_fail"), np.zeros((2, 2), dtype=np.int64))
                    passes = said.count("pass")
                    m[1, int(score.passed)] += passes
                    m[0, int(score.passed)] += len(said) - passes
    out: dict[tuple[str, Kind], float | None] = {}
    for (name, kind), m in counts.items():
        used = np.flatnonzero(m.sum(axis=0) + m.sum(axis=1))
        value = kappa_of_confusion(m, "quadratic" if kind == "rating" else None) if len(used) >= 2 else None
        out[(name, kind)] = value if value is not None and np.isfinite(value) else None
    return out


def _kappa(
    sk: Any, people: np.ndarray, scorer: np.ndarray, categories: Sequence[int], weights: Any
) -> float | None:
    if len(set(people.tolist()) | set(scorer.tolist())) < 2:
        return None  # one category on both sides: κ is undefined (0/0)
    value = float(sk.cohen_kappa_score(people, scorer, labels=list(categories), weights=weights))
    return value if np.isfinite(value) else None


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserInputError(
            f"calibrate needs {module.split('.')[0]}: pip install 'evalkit[calibrate]'"
        ) from None


def _alphas(
    pairs: Pairs, resamples: int, confidence: float, seed: int
) -> tuple[Figure | None, Figure | None]:
    """Krippendorff's α among the people, and with the scorer as one more rater, when some
    output has two or more labellers. Units are outputs; the bootstrap resamples them."""
    people = sorted(set(pairs.labeller))
    if len(people) < 2:
        return None, None
    units = len(pairs.outputs)
    data = np.full((len(people) + 1, units), np.nan)
    row = {name: i for i, name in enumerate(people)}
    for value, scorer, unit, who in zip(
        pairs.people, pairs.scorer, pairs.output, pairs.labeller, strict=True
    ):
        data[row[who], unit] = value
        data[-1, unit] = scorer
    shared = int((np.isfinite(data[:-1]).sum(axis=0) >= 2).sum())
    if shared == 0:
        return None, None
    level = "ordinal" if pairs.kind == "rating" else "nominal"
    domain = list(RATINGS if pairs.kind == "rating" else VERDICTS)
    rng = np.random.default_rng(seed + 1)
    draws = rng.integers(0, units, size=(resamples, units))
    figures = []
    for matrix, n in ((data[:-1], shared), (data, units)):
        point = _alpha(matrix, level, domain)
        replicates = np.array([_alpha(matrix[:, d], level, domain) for d in draws], dtype=float)
        figures.append(_figure(point, replicates, confidence, n))
    return figures[0], figures[1]


def _alpha(matrix: np.ndarray, level: str, domain: list[int]) -> float:
    krippendorff = _need("krippendorff")
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(
                krippendorff.alpha(reliability_data=matrix, level_of_measurement=level, value_domain=domain)
            )
    except (ValueError, ZeroDivisionError):
        return float("nan")


def disagreements(pairs: Pairs, top: int = 10) -> list[Disagreement]:
    """The outputs where scorer and people are furthest apart (0–1 on either scale)."""
    span = 1 if pairs.kind == "pass_fail" else lb.RATING_MAX - lb.RATING_MIN
    by_output: dict[int, list[int]] = defaultdict(list)
    scorer_of: dict[int, int] = {}
    for value, scorer, unit in zip(pairs.people, pairs.scorer, pairs.output, strict=True):
        by_output[unit].append(value)
        scorer_of[unit] = scorer
    out = []
    for unit, said in by_output.items():
        gap = abs(scorer_of[unit] - sum(said) / len(said)) / span
        if gap == 0:
            continue
        r, labels = pairs.outputs[unit]
        out.append(
            Disagreement(
                suite=r.suite,
                case=r.case_id,
                variant=r.variant,
                repeat=r.repeat,
                scorer=_word(pairs.kind, scorer_of[unit]),
                people=[lb.describe(x).split(" — ")[0] for x in labels],
                notes=[f"{x.labeller}: {x.note}" for x in labels if x.note],
                gap=round(gap, 6),
            )
        )
    out.sort(key=lambda d: (-d.gap, d.suite, d.case, d.variant, d.repeat))
    return out[:top]


def _word(kind: Kind, value: int) -> str:
    return ("pass" if value else "fail") if kind == "pass_fail" else f"{value}/{lb.RATING_MAX}"


def consistency(results: Sequence[CaseResult]) -> list[Consistency]:
    """Each judge's agreement with itself (asked K times) or across swapped orders (pairwise)."""
    checks = (("_self_agreement", "self_agreement"), ("_position_consistency", "position_consistency"))
    values: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for r in results:
        for name, s in r.scores.items():
            for suffix, check in checks:
                if name.endswith(suffix) and s.value is not None:
                    values[(name.removesuffix(suffix), check)].append((r.key, s.value))
    return [
        Consistency(
            judge=judge,
            check=check,
            mean=sum(v for _, v in rows) / len(rows),
            n=len(rows),
            flaky=sorted(key for key, v in rows if v < 1),
        )
        for (judge, check), rows in sorted(values.items())
    ]


def calibrate(
    run_dir: RunDir, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Calibration:
    """Calibration of every judge and pass/fail scorer of a run; written to calibration.json
    (the caller holds the run directory's lock)."""
    from importlib.metadata import version

    run_dir.require_results()
    info = run_dir.info()
    results = list(run_dir.results())
    labels = lb.stored_labels(run_dir)
    judged = consistency(results)
    if not labels and not judged:
        raise UserInputError(
            "no human labels in the run (import them: evalkit labels import FILE RUN_DIR) "
            "and no judge asked more than once",
            path=run_dir.path,
        )
    pairs = collect_pairs(results, labels, lb.compared_scores(info, results))
    out = Calibration(
        run_id=info.run_id,
        labels=len(labels),
        labellers=sorted({x.labeller for x in labels}),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        libraries={name: version(name) for name in ("scikit-learn", "krippendorff", "numpy")},
        agreements=[
            agreement(name, p, resamples=resamples, confidence=confidence, seed=seed)
            for (name, _), p in sorted(pairs.items())
        ],
        consistency=judged,
    )
    run_dir.write_calibration(out)
    return out
