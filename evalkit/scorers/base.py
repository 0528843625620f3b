"""The scorer interface and the factory that builds scorers from a suite's `scorers:` list."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, validate_call

from evalkit import registry
from evalkit.errors import UserInputError, did_you_mean


class Score(BaseModel):
    """One measurement. `value=None` means unmeasured: never averaged as zero."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: float | None
    passed: bool | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ScoreInput:
    output: str
    references: tuple[str, ...]
    vars: dict[str, Any]
    case_id: str


class Scorer(ABC):
    """A configured scorer. `names` are the score names it produces, in order."""

    names: tuple[str, ...] = ()
    higher_is_better: bool = True
    needs_reference: bool = False
    pass_fail: bool = False  # True when `passed` is the primary result (exact, regex, ...)

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        """Score a batch. Override for scorers that batch (embeddings); default loops."""
        return [self.score_one(item) for item in items]

    @abstractmethod
    def score_one(self, item: ScoreInput) -> list[Score]: ...

    def corpus(self, items: Sequence[ScoreInput]) -> dict[str, float]:
        """Corpus-level figures (e.g. corpus BLEU) for the summary; most scorers have none."""
        return {}


def build_scorer(spec: Any, where: str) -> Scorer:
    """Instantiate a scorer from its spec (type, name, threshold, options)."""
    factory = registry.scorers.get(spec.type)
    options = spec.options()
    params = inspect.signature(factory).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not accepts_any:
        for key in options:
            if key not in params:
                hint = did_you_mean(key, [*params, "name", "threshold"])
                raise UserInputError(f"{where}: scorer '{spec.type}' has no option '{key}'{hint}")
    try:
        scorer: Scorer = validate_call(factory)(**options)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise UserInputError(f"{where}: scorer '{spec.type}' option {loc}: {err['msg']}") from None
    except (TypeError, ValueError) as exc:
        raise UserInputError(f"{where}: scorer '{spec.type}': {exc}") from None
    scorer.higher_is_better = getattr(factory, "higher_is_better", True)
    if spec.name is not None:
        if len(scorer.names) != 1:
            raise UserInputError(
                f"{where}: scorer '{spec.type}' produces several scores {list(scorer.names)}; "
                "'name' only renames single-score scorers"
            )
        scorer = _Renamed(scorer, spec.name)
    if spec.threshold is not None:
        scorer = _Thresholded(scorer, spec.threshold)
    return scorer


class _Wrapper(Scorer):
    def __init__(self, inner: Scorer):
        self.inner = inner
        self.names = inner.names
        self.higher_is_better = inner.higher_is_better
        self.needs_reference = inner.needs_reference
        self.pass_fail = inner.pass_fail

    def score_one(self, item: ScoreInput) -> list[Score]:
        return self.score([item])[0]

    def corpus(self, items: Sequence[ScoreInput]) -> dict[str, float]:
        return self.inner.corpus(items)


class _Renamed(_Wrapper):
    def __init__(self, inner: Scorer, name: str):
        super().__init__(inner)
        self.names = (name,)

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        return [
            [s.model_copy(update={"name": self.names[0]}) for s in row] for row in self.inner.score(items)
        ]

    def corpus(self, items: Sequence[ScoreInput]) -> dict[str, float]:
        inner = self.inner.corpus(items)
        return {f"corpus_{self.names[0]}": value for value in inner.values()}


class _Thresholded(_Wrapper):
    """Adds a per-case pass mark to continuous scores (value ≥ threshold, or ≤ when lower is better)."""

    def __init__(self, inner: Scorer, threshold: float):
        super().__init__(inner)
        self.threshold = threshold
        self.pass_fail = True

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        out = []
        for row in self.inner.score(items):
            new_row = []
            for s in row:
                if s.value is not None:
                    ok = s.value >= self.threshold if self.higher_is_better else s.value <= self.threshold
                    s = s.model_copy(update={"passed": ok})
                new_row.append(s)
            out.append(new_row)
        return out


def unmeasured(names: Sequence[str], reason: str) -> list[Score]:
    return [Score(name=n, value=None, passed=None, reason=reason) for n in names]
