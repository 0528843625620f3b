"""Agreement statistics against their reference implementations and textbook values, and the
bootstrap CIs' coverage on a simulated judge with a known error rate."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from evalkit.human.calibrate import Pairs, agreement, confusion_kappa
from evalkit.human.labels import Label
from evalkit.types import CaseResult

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers × 12 units
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def test_textbook_values() -> None:
    # Cohen's κ, the classic 2×2 example (Wikipedia): 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa_score(a, b) == pytest.approx(0.4)
    matrix = np.array([[15, 10], [5, 20]], dtype=float)  # rows a (no, yes), columns b
    accuracy, kappa, leniency = confusion_kappa(matrix, None)
    assert (accuracy, kappa) == (pytest.approx(0.7), pytest.approx(0.4))
    assert leniency == pytest.approx(30 / 50 - 25 / 50)  # b says yes more often than a
    # Krippendorff's α on the paper's data: nominal 0.743, ordinal 0.815, interval 0.849
    for level, value in (("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)):
        got = krippendorff.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level)
        assert got == pytest.approx(value, abs=5e-4)


@pytest.mark.parametrize("weights", [None, "quadratic"])
def test_vectorised_kappa_equals_scikit_learn(weights: str | None) -> None:
    rng = np.random.default_rng(7)
    for _ in range(25):
        k = 2 if weights is None else 5
        a = rng.integers(0, k, 40)
        b = np.where(rng.random(40) < 0.6, a, rng.integers(0, k, 40))
        matrix = np.zeros((k, k))
        np.add.at(matrix, (a, b), 1)
        _, kappa, _ = confusion_kappa(matrix, weights)  # type: ignore[arg-type]
        assert kappa == pytest.approx(cohen_kappa_score(a, b, labels=list(range(k)), weights=weights))


def result(i: int) -> CaseResult:
    return CaseResult(
        suite="s", case_id=f"c{i}", variant="v", repeat=0, provider="p", messages=[], output="o"
    )


def ratings_pairs(people: list[list[int]], judge: list[int]) -> Pairs:
    """Two or more people and a judge rating the same outputs (NaN: not rated)."""
    pairs = Pairs(kind="rating")
    for unit, j in enumerate(judge):
        labels = []
        for who, row in enumerate(people):
            if row[unit] is not None:
                label = Label(suite="s", case=f"c{unit}", labeller=f"p{who}", rating=row[unit])
                labels.append(label)
                pairs.people.append(row[unit])
                pairs.scorer.append(j)
                pairs.output.append(unit)
                pairs.labeller.append(label.labeller)
        pairs.outputs.append((result(unit), labels))
    return pairs


def test_agreement_figures_equal_the_libraries() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, 30)
    noisy = [np.clip(truth + rng.integers(-1, 2, 30), 1, 5).tolist() for _ in range(3)]
    noisy[2][:10] = [None] * 10  # the third person rated only 20 outputs
    judge = np.clip(truth + rng.integers(-2, 2, 30), 1, 5).tolist()
    pairs = ratings_pairs(noisy, judge)
    got = agreement("judge", pairs, resamples=300)
    people, scorer = np.array(pairs.people), np.array(pairs.scorer)
    assert got.kappa.value == pytest.approx(
        cohen_kappa_score(people, scorer, labels=[1, 2, 3, 4, 5], weights="quadratic")
    )
    assert got.accuracy.value == pytest.approx(float(np.mean(people == scorer)))
    assert got.labels == 80 and got.outputs == 30 and got.kappa.n == 80
    matrix = np.array([[NAN if v is None else v for v in row] for row in noisy], dtype=float)
    reference = krippendorff.alpha(
        reliability_data=matrix, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5]
    )
    assert got.alpha_people is not None and got.alpha_people.value == pytest.approx(reference)
    with_judge = np.vstack([matrix, np.array(judge, dtype=float)])
    assert got.alpha_with_scorer is not None
    assert got.alpha_with_scorer.value == pytest.approx(
        krippendorff.alpha(
            reliability_data=with_judge, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5]
        )
    )
    assert sum(map(sum, got.confusion)) == 80
    for f in (got.accuracy, got.kappa, got.alpha_people, got.leniency):
        assert f.ci_low is not None and f.ci_high is not None and f.ci_low <= f.value <= f.ci_high
    assert got.leniency.value == pytest.approx(float(np.mean(scorer) - np.mean(people)))
    top = got.disagreements[0]
    assert top.gap == max(d.gap for d in got.disagreements) > 0


def simulated(n: int, prevalence: float, error: float, rng: np.random.Generator) -> Pairs:
    """People's verdicts drawn at `prevalence`; a judge that flips each with probability `error`."""
    truth = (rng.random(n) < prevalence).astype(int)
    judge = np.where(rng.random(n) < error, 1 - truth, truth)
    pairs = Pairs(kind="pass_fail")
    for i in range(n):
        label = Label(suite="s", case=f"c{i}", verdict="pass" if truth[i] else "fail")
        pairs.people.append(int(truth[i]))
        pairs.scorer.append(int(judge[i]))
        pairs.output.append(i)
        pairs.labeller.append("p")
        pairs.outputs.append((result(i), [label]))
    return pairs


def true_kappa(prevalence: float, error: float) -> float:
    judge_pass = prevalence * (1 - error) + (1 - prevalence) * error
    chance = prevalence * judge_pass + (1 - prevalence) * (1 - judge_pass)
    return ((1 - error) - chance) / (1 - chance)


def test_cis_cover_a_simulated_judges_true_accuracy_and_kappa() -> None:
    """95% bootstrap CIs of a judge wrong 15% of the time cover the truth about 95% of the time
    (fixed seed; benchmarks/bench_calibration.py runs the full simulation)."""
    rng = np.random.default_rng(2026)
    prevalence, error, trials = 0.3, 0.15, 120
    covered = {"accuracy": 0, "kappa": 0}
    for t in range(trials):
        got = agreement("judge", simulated(150, prevalence, error, rng), resamples=400, seed=t)
        for name, truth in (("accuracy", 1 - error), ("kappa", true_kappa(prevalence, error))):
            f = getattr(got, name)
            covered[name] += f.ci_low <= truth <= f.ci_high
    for name, hits in covered.items():
        assert 0.88 <= hits / trials <= 0.99, (name, hits)


def test_few_labels_warn_with_the_n_a_ci_width_needs() -> None:
    """Issue 29.7: 5 labels give no warning-free figures; the warning says what n would do."""
    from evalkit.human.calibrate import few_labels_warning, labels_needed

    assert labels_needed(0.1) == 97 and labels_needed(0.05) == 385  # 1.96² · ¼ / w², rounded up
    text = few_labels_warning(5)
    assert text == (
        "only 5 labels: the 95% CI of accuracy can be ±0.44 wide; about 97 labels give ±0.10 and 385 give ±0.05"
    )
    assert few_labels_warning(30) is None
    pairs = ratings_pairs([[1, 2, 3, 4, 5]], [1, 2, 3, 4, 4])
    assert agreement("judge", pairs, resamples=50).warnings == [text]


@pytest.mark.parametrize("kind", ["pass_fail", "rating"])
def test_the_kappa_of_a_run_is_scikit_learns_to_the_last_bit(kind: str) -> None:
    """A run's `<judge>_kappa` is computed without importing scikit-learn (a second on every
    label import), with its arithmetic: equal (==, not approx) to cohen_kappa_score."""
    from sklearn.metrics import cohen_kappa_score

    from evalkit.human.calibrate import RATINGS, VERDICTS, cohen_kappa

    categories = RATINGS if kind == "rating" else VERDICTS
    weights = "quadratic" if kind == "rating" else None
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(2, 200))
        a = rng.choice(categories, n)
        b = np.where(rng.random(n) < trial / 300, a, rng.choice(categories, n))
        expected = float(cohen_kappa_score(a, b, labels=list(categories), weights=weights))
        if np.isfinite(expected):
            assert cohen_kappa(a, b, categories, weights) == expected


def test_a_runs_kappas_counted_equal_the_paired_ones() -> None:
    """`kappas` (a run's `<judge>_kappa`, counted) gives what `collect_pairs` + `kappa` give,
    for a judge that passes or fails and one that rates, with several labellers per output."""
    from evalkit.human.calibrate import collect_pairs, kappa, kappas
    from evalkit.human.labels import labels_for
    from evalkit.types import CaseResult, StoredScore

    rng = np.random.default_rng(3)
    results = [
        CaseResult(
            suite="s",
            case_id=f"c{i}",
            variant="v",
            repeat=0,
            provider="p",
            messages=[],
            output="o",
            scores={
                "judge": StoredScore(value=float(i % 2), passed=bool(rng.random() < 0.6)),
                "rubric": StoredScore(value=float(rng.integers(0, 5)) / 4),
            },
        )
        for i in range(40)
    ]
    labels = [
        Label(suite="s", case=f"c{i}", labeller=f"p{who}", verdict="pass" if rng.random() < 0.5 else "fail")
        if who % 2
        else Label(suite="s", case=f"c{i}", labeller=f"p{who}", rating=int(rng.integers(1, 6)))
        for i in range(40)
        for who in range(int(rng.integers(0, 4)))
    ]
    compared = {"judge": "pass_fail", "rubric": "rating"}
    paired = {key: kappa(p) for key, p in collect_pairs(results, labels, compared).items()}
    assert paired and kappas(results, compared, labels_for(labels, results)) == paired
