"""The scorer interface and the factory that builds scorers from a suite's `scorers:` list."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import ValidationError, validate_call

from evalkit import registry
from evalkit.errors import UserInputError, did_you_mean
from evalkit.types import Completion, Request, Score, ScoreInput


class ScoringContext(Protocol):
    """What async scorers may use at run time: other models (judges) and other outputs."""

    async def complete(self, provider: str, requests: Sequence[Request]) -> list[Completion]:
        """Ask a configured provider, through its concurrency, retries and the `judge` cache."""
        ...

    def other_output(self, item: ScoreInput, against: str) -> str | None:
        """The output `against` gave for the same case: another variant of this run, or
        'baseline' for this suite × variant's blessed baseline."""
        ...


class Scorer(ABC):
    """A configured scorer. `names` are the score names it produces, in order."""

    names: tuple[str, ...] = ()
    higher_is_better: bool = True
    # the least and greatest value a score can take (None: unbounded); summaries keep a mean's
    # confidence interval inside it (a `contains` mean never gets ci_high 1.05)
    value_range: tuple[float, float] | None = None
    needs_reference: bool = False
    needs_output: bool = True  # False: also scores cases whose generation failed (retrieval metrics)
    pass_fail: bool = False  # True when `passed` is the primary result (exact, regex, ...)
    deferred: bool = False  # needs every output of the run: scored once generation is done
    provider_name: str | None = None  # a configured provider this scorer calls (judges)

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        """Score a batch. Override for scorers that batch (embeddings); default loops."""
        return [self.score_one(item) for item in items]

    @abstractmethod
    def score_one(self, item: ScoreInput) -> list[Score]: ...

    async def ascore(self, items: Sequence[ScoreInput], ctx: ScoringContext) -> list[list[Score]]:
        """Async scoring (judges override this); the default runs `score`."""
        return self.score(items)

    def corpus(self, items: Sequence[ScoreInput]) -> dict[str, float]:
        """Corpus-level figures (e.g. corpus BLEU) for the summary; most scorers have none."""
        return {}


def build_scorer(spec: Any, where: str) -> Scorer:
    """Instantiate a scorer from its spec (type, name, threshold, options)."""
    factory = registry.scorers.get(spec.type)
    options = spec.options()
    params = inspect.signature(factory).parameters
    if spec.name is not None and "name" in params:
        options["name"] = spec.name
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
    if "higher_is_better" not in vars(scorer):  # a scorer may set its own (evaluate: an option)
        scorer.higher_is_better = getattr(factory, "higher_is_better", True)
    if scorer.value_range is None:
        scorer.value_range = getattr(factory, "value_range", None)
    if spec.name is not None and "name" in params:
        pass  # the factory named its scores itself
    elif spec.name is not None:
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
        self.value_range = inner.value_range
        self.needs_reference = inner.needs_reference
        self.pass_fail = inner.pass_fail
        self.deferred = inner.deferred
        self.provider_name = inner.provider_name

    def score_one(self, item: ScoreInput) -> list[Score]:
        return self.score([item])[0]

    def corpus(self, items: Sequence[ScoreInput]) -> dict[str, float]:
        return self.inner.corpus(items)


class _Renamed(_Wrapper):
    async def ascore(self, items: Sequence[ScoreInput], ctx: ScoringContext) -> list[list[Score]]:
        rows = await self.inner.ascore(items, ctx)
        return [[s.model_copy(update={"name": self.names[0]}) for s in row] for row in rows]

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

    def _mark(self, rows: list[list[Score]]) -> list[list[Score]]:
        out = []
        for row in rows:
            new_row = []
            for s in row:
                if s.value is not None:
                    ok = s.value >= self.threshold if self.higher_is_better else s.value <= self.threshold
                    s = s.model_copy(update={"passed": ok})
                new_row.append(s)
            out.append(new_row)
        return out

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        return self._mark(self.inner.score(items))

    async def ascore(self, items: Sequence[ScoreInput], ctx: ScoringContext) -> list[list[Score]]:
        return self._mark(await self.inner.ascore(items, ctx))


def unmeasured(names: Sequence[str], reason: str) -> list[Score]:
    return [Score(name=n, value=None, passed=None, reason=reason) for n in names]
