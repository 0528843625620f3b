"""The scorer contract: a scorer, what it is (`ScorerInfo`, declared once with `@scorer`), and
the configured scorer a suite builds from it, whose `name:` and `threshold:` are transforms of
its score rows. `ConfiguredScorer.ascore` (async, a batch) is the one entry point the score
stage calls; sync per-item scorers are adapted by the `Scorer` base class."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from pydantic import ValidationError, validate_call

from evalkit import plugins
from evalkit.errors import UserInputError, did_you_mean
from evalkit.types import Completion, MetricInfo, Request, Score, ScoreInput, ScorerInfo

# What used to be copied from scorer to scorer as class attributes; now declared in @scorer(...).
_DECLARED = (
    "higher_is_better",
    "needs_reference",
    "needs_output",
    "pass_fail",
    "deferred",
    "provider_name",
    "value_range",
)
# Spec keys that configure the transforms, not the scorer itself.
TRANSFORM_KEYS = ("name", "threshold", "informational")


class ScoringContext(Protocol):
    """What async scorers may use at run time: other models (judges) and other outputs."""

    async def complete(self, provider: str, requests: Sequence[Request]) -> list[Completion]:
        """Ask a configured provider, through its concurrency, retries and the `judge` cache."""
        ...

    def other_output(self, item: ScoreInput, against: str) -> str | None:
        """The output `against` gave for the same case: another variant of this run, or
        'baseline' for this suite × variant's blessed baseline."""
        ...


class Scorer:
    """A scorer instance as its factory returns it. `names` are the scores it produces, in order.

    Implement one of: `score_one` (sync, one item), `score` (sync, a batch: embeddings) or
    `ascore` (async, a batch: judges). What the scorer *is* (direction, needs a reference, ...)
    is declared on its factory with `@scorer(...)`; override `refine` only for what an option
    changes."""

    names: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        stale = [a for a in _DECLARED if a in cls.__dict__]
        if stale:
            raise TypeError(
                f"{cls.__name__}: declare {', '.join(stale)} once in @scorer(...) (or in refine()), "
                "not as class attributes"
            )

    def refine(self, info: ScorerInfo) -> ScorerInfo:
        """The declared info, adjusted for this instance's options (default: unchanged)."""
        return info

    def corpus_options(self, name: str) -> dict[str, Any]:
        """What the corpus figure of score `name` needs beyond the suite's options (evaluate:
        which result key); aggregation gets them through MetricInfo.options."""
        return {}

    def score_one(self, item: ScoreInput) -> list[Score]:
        raise NotImplementedError(f"{type(self).__name__} implements none of score_one, score, ascore")

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        """Score a batch synchronously. Override for scorers that batch; default loops."""
        return [self.score_one(item) for item in items]

    async def ascore(self, items: Sequence[ScoreInput], ctx: ScoringContext) -> list[list[Score]]:
        """Score a batch asynchronously (judges override this); the default runs `score`."""
        return self.score(items)


@dataclass(frozen=True)
class ConfiguredScorer:
    """A scorer as a suite configured it. `names` are its score names after `name:`;
    `threshold:` adds a per-case pass mark; `informational: true` keeps it out of the pass."""

    impl: Scorer
    info: ScorerInfo
    names: tuple[str, ...]
    threshold: float | None = None
    informational: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    async def ascore(self, items: Sequence[ScoreInput], ctx: ScoringContext) -> list[list[Score]]:
        """The one scoring entry point: the scorer's rows, with the suite's transforms applied."""
        rows = await self.impl.ascore(items, ctx)
        return [self.transform(row) for row in rows]

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        """Sync convenience for scorers that need no context (tests, notebooks)."""
        return [self.transform(row) for row in self.impl.score(items)]

    def score_one(self, item: ScoreInput) -> list[Score]:
        return self.score([item])[0]

    @cached_property
    def _renamed(self) -> dict[str, str]:
        """The scorer's own score names → the suite's (`name:`)."""
        return dict(zip(self.impl.names, self.names, strict=True))

    @cached_property
    def _as_given(self) -> bool:
        """Whether the scorer's scores go on as they are (no `name:` to apply, no `threshold:`)."""
        return self.threshold is None and all(k == v for k, v in self._renamed.items())

    def transform(self, row: Sequence[Score]) -> list[Score]:
        if self._as_given and (self.info.gives_verdicts or all(s.passed is None for s in row)):
            return list(row)  # the common case: nothing to rename, no pass mark to add or refuse
        out = []
        rename = self._renamed
        for s in row:
            if s.passed is not None and not self.info.gives_verdicts:
                raise TypeError(
                    f"scorer '{self.info.type}' gave a pass mark but does not declare one: "
                    "@scorer(..., kind='pass_fail') or verdict=True"
                )
            update: dict[str, Any] = {}
            if rename.get(s.name, s.name) != s.name:
                update["name"] = rename[s.name]
            if self.threshold is not None and s.value is not None:
                t = self.threshold
                update["passed"] = s.value >= t if self.info.higher_is_better else s.value <= t
            out.append(s.model_copy(update=update) if update else s)
        return out

    def unmeasured(self, reason: str) -> list[Score]:
        return unmeasured(self.names, reason)

    def metric_infos(self, pass_names: Collection[str] | None = None) -> list[MetricInfo]:
        """One MetricInfo per score name; `pass_names`: the suite's `pass:` list, if any."""
        info = self.info
        keep = info.corpus is not None or info.agreement
        options = {k: v for k, v in self.options.items() if k not in TRANSFORM_KEYS} if keep else {}
        extra = {
            name: self.impl.corpus_options(own) for own, name in zip(self.impl.names, self.names, strict=True)
        }
        return [
            MetricInfo(
                name=name,
                scorer=info.type,
                kind=info.kind,
                higher_is_better=info.higher_is_better,
                verdict=(verdict := info.gives_verdicts or self.threshold is not None),
                informational=self.informational,
                counts_for_pass=verdict
                and not self.informational
                and (pass_names is None or name in pass_names),
                corpus=info.corpus,
                agreement=info.agreement,
                value_range=info.value_range,
                options={**options, **extra[name]} if info.corpus is not None else options,
            )
            for name in self.names
        ]


def build_scorer(spec: Any, where: str) -> ConfiguredScorer:
    """Instantiate a scorer from its spec (type, name, threshold, informational, options)."""
    factory = plugins.scorers.get(spec.type)
    declared = plugins.declared_info(factory) or ScorerInfo(type=spec.type)
    options = spec.options()
    params = inspect.signature(factory).parameters
    named_by_factory = spec.name is not None and "name" in params
    if named_by_factory:
        options["name"] = spec.name
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not accepts_any:
        for key in options:
            if key not in params:
                hint = did_you_mean(key, [*params, *TRANSFORM_KEYS])
                raise UserInputError(f"{where}: scorer '{spec.type}' has no option '{key}'{hint}")
    try:
        impl = validate_call(factory)(**options)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise UserInputError(f"{where}: scorer '{spec.type}' option {loc}: {err['msg']}") from None
    except (TypeError, ValueError) as exc:
        raise UserInputError(f"{where}: scorer '{spec.type}': {exc}") from None
    if not isinstance(impl, Scorer):
        raise UserInputError(f"{where}: scorer '{spec.type}' did not return a Scorer")
    names = tuple(impl.names)
    if spec.name is not None and not named_by_factory:
        if len(names) != 1:
            raise UserInputError(
                f"{where}: scorer '{spec.type}' produces several scores {list(names)}; "
                "'name' only renames single-score scorers"
            )
        names = (spec.name,)
    info = dataclasses.replace(impl.refine(declared), type=spec.type)
    return ConfiguredScorer(
        impl=impl,
        info=info,
        names=names,
        threshold=spec.threshold,
        informational=bool(getattr(spec, "informational", False)),
        options=dict(spec.options()),
    )


def metric_infos(
    specs: Sequence[Any], where: str = "scorers", pass_names: Collection[str] | None = None
) -> list[MetricInfo]:
    """The metrics a suite's scorer specs produce, for run.json (no model is loaded or called)."""
    return [
        m
        for i, spec in enumerate(specs)
        for m in build_scorer(spec, f"{where}[{i}]").metric_infos(pass_names)
    ]


def unmeasured(names: Sequence[str], reason: str) -> list[Score]:
    return [Score(name=n, value=None, passed=None, reason=reason) for n in names]
