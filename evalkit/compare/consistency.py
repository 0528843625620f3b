"""Reliability across repeats: per-case tallies (agreement, passes), pass@k, pass^k and flaky
cases, computed from result lines alone by the aggregate stage."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping

from pydantic import Field

from evalkit._util.models import Record
from evalkit.types import MetricInfo


class CaseConsistency(Record):
    case_id: str
    samples: int
    exact_agreement: float  # share of repeats giving the most common output
    semantic_agreement: float | None = None  # share of repeat pairs with cosine ≥ threshold
    passes: int | None = None  # repeats that passed every pass/fail scorer
    pass_at_k: float | None = None  # chance at least one of k samples passes (unbiased estimator)
    pass_hat_k: float | None = None  # chance all k samples pass
    flaky: bool = False


class ConsistencySummary(Record):
    """Reliability across repeated runs of the same case (only with repeats ≥ 2)."""

    k: int
    exact_agreement: float
    semantic_agreement: float | None = None
    pass_at_1: float | None = None
    pass_at_k: float | None = None
    pass_hat_k: float | None = None
    flaky_share: float
    flaky_cases: list[str] = Field(default_factory=list)
    cases: list[CaseConsistency] = Field(default_factory=list)


class CaseTally:
    """One case's repeats: enough for agreement, pass@k and flakiness, without the outputs
    (those are kept only when a metric measures semantic agreement). Small: one per case."""

    __slots__ = ("digests", "judged", "outputs", "passes", "samples")

    def __init__(self, keep_outputs: bool):
        self.samples = self.judged = self.passes = 0
        self.digests: bytes | Counter[bytes] = b""  # one digest while all repeats agree
        self.outputs: list[str] | None = [] if keep_outputs else None

    def add(self, normalised: str, verdict: bool | None) -> None:
        digest = hashlib.blake2b(normalised.encode(), digest_size=12).digest()
        if self.samples == 0:
            self.digests = digest
        elif isinstance(self.digests, bytes) and digest != self.digests:
            self.digests = Counter({self.digests: self.samples, digest: 1})
        elif isinstance(self.digests, Counter):
            self.digests[digest] += 1
        self.samples += 1
        if self.outputs is not None:
            self.outputs.append(normalised)
        if verdict is not None:
            self.judged += 1
            self.passes += verdict

    @property
    def modal(self) -> int:
        """How many repeats gave the most common output."""
        return self.samples if isinstance(self.digests, bytes) else max(self.digests.values())


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c passes (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that k samples drawn from the n all pass (Yao et al., 2024)."""
    return math.comb(c, k) / math.comb(n, k) if k <= n else 0.0


def summarize_consistency(
    tallies: Mapping[str, CaseTally], agreement: MetricInfo | None = None
) -> ConsistencySummary | None:
    """Agreement, pass@k, pass^k and flaky cases across repeats (None without repeats)."""
    if not tallies or max(t.samples for t in tallies.values()) < 2:
        return None
    k = min(t.samples for t in tallies.values())
    embedder = None
    if agreement is not None:
        from evalkit import plugins

        embedder = plugins.agreement_measures.get(agreement.scorer)(agreement.options)
    cases = []
    for case_id, t in sorted(tallies.items()):
        entry = CaseConsistency(case_id=case_id, samples=t.samples, exact_agreement=t.modal / t.samples)
        if embedder is not None and t.outputs is not None:
            entry.semantic_agreement = embedder.agreement(t.outputs)
        if t.judged:
            entry.passes = t.passes
            entry.pass_at_k = pass_at_k(t.judged, t.passes, min(k, t.judged))
            entry.pass_hat_k = pass_hat_k(t.judged, t.passes, min(k, t.judged))
            entry.flaky = 0 < t.passes < t.judged
        cases.append(entry)
    return _consistency_totals(k, cases)


def _consistency_totals(k: int, cases: list[CaseConsistency]) -> ConsistencySummary:
    judged = [c for c in cases if c.passes is not None]
    semantic = [c.semantic_agreement for c in cases if c.semantic_agreement is not None]
    flaky = [c.case_id for c in cases if c.flaky]

    def mean(values: list[float]) -> float | None:
        return math.fsum(values) / len(values) if values else None  # exact: any order gives one sum

    return ConsistencySummary(
        k=k,
        exact_agreement=math.fsum(c.exact_agreement for c in cases) / len(cases),
        semantic_agreement=mean(semantic),
        pass_at_1=mean([(c.passes or 0) / c.samples for c in judged]),
        pass_at_k=mean([c.pass_at_k or 0 for c in judged]),
        pass_hat_k=mean([c.pass_hat_k or 0 for c in judged]),
        flaky_share=len(flaky) / len(cases),
        flaky_cases=flaky,
        cases=cases,
    )
