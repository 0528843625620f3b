"""Everything a plugin may touch, on one page.

A plugin adds one of five kinds of thing. Each is found by name in a registry, filled from an
entry-point group (how evalkit's own built-ins register, in its pyproject.toml) or by a
decorator in a module listed under `plugins:` in evalkit.yaml. Nothing is imported until it is
asked for.

| kind            | entry-point group            | decorator                 | what it is                   |
| --------------- | ---------------------------- | ------------------------- | ---------------------------- |
| provider        | `evalkit.providers`          | `@provider("name")`       | a `Provider` subclass        |
| scorer          | `evalkit.scorers`            | `@scorer("name", ...)`    | a factory returning a Scorer |
| corpus metric   | `evalkit.corpus_metrics`     | `@corpus_metric("name")`  | `CorpusMetric`               |
| agreement       | `evalkit.agreement_measures` | `@agreement_measure(...)` | `AgreementMeasure`           |
| retriever       | `evalkit.retrievers`         | `@retriever("name")`      | `RetrieverFn`                |

Besides these, a suite or config names plain callables as "module:function" strings; their
shapes are the Protocols below: a `python` provider's `PythonSystem`, an agent's `Tool`s, a
`scripted` provider's `respond`. What they may not do: decide evalkit's exit code (an
exception is one error result), or write a run directory (the framework does).

The provider contract itself (`complete`, `generate`, `Retry`, `RateLimited`, declared
capabilities) is in evalkit/providers/base.py; the scorer contract in evalkit/scorers/base.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from evalkit.registry import Registry
from evalkit.types import ScoreKind, ScorerInfo

if TYPE_CHECKING:
    from evalkit.providers.base import Provider
    from evalkit.scorers.base import Scorer
    from evalkit.types import Request, RetrievedChunk

PROVIDERS = "evalkit.providers"
SCORERS = "evalkit.scorers"
CORPUS_METRICS = "evalkit.corpus_metrics"
AGREEMENT_MEASURES = "evalkit.agreement_measures"
RETRIEVERS = "evalkit.retrievers"


# -- the shapes of what plugins hand over ---------------------------------------------------


class PythonSystem(Protocol):
    """`type: python` provider: `callable: "module:function"` (sync or async). Returns the output
    text, a dict with `text` (and `usage`, `finish_reason`, `model_version`), or a trace (a dict
    with `output` and `steps`). It may raise `evalkit.RateLimited` to be retried."""

    def __call__(
        self, *, messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]
    ) -> str | dict[str, Any] | Awaitable[str | dict[str, Any]]: ...


class Tool(Protocol):
    """An agent tool, `agent.tools.NAME: "module:function"`: called with the model's arguments
    (in a thread when sync); what it returns (JSON-able) goes back to the model."""

    def __call__(self, **arguments: Any) -> Any: ...


class ScriptedResponder(Protocol):
    """`type: scripted` provider, `respond: "module:function"`: the answer to a request (text, a
    dict such as `{text, error, latency_s}`, or None for the provider's default)."""

    def __call__(self, request: Request) -> str | Mapping[str, Any] | None: ...


class RetrieverFn(Protocol):
    """A custom retriever, called once per query with the variant's `rag.options`; returns dicts
    (or `RetrievedChunk`s) with `id`, `text` and optionally `score` and `doc_id`."""

    def __call__(
        self, query: str, top_k: int, /, **options: Any
    ) -> Iterable[Mapping[str, Any] | RetrievedChunk] | None: ...


class CorpusAccumulator(Protocol):
    """One corpus figure (`corpus_<score>` in a summary), fed every scored output of a suite ×
    variant in one pass; `score()` is None for an empty corpus."""

    def add(self, output: str, references: Sequence[str]) -> None: ...

    def score(self) -> float | None: ...


# An empty accumulator for a metric configured with the scorer's options (from run.json).
CorpusMetric = Callable[[Mapping[str, Any]], CorpusAccumulator]


class Agreement(Protocol):
    """Semantic agreement between the outputs of one case's repeats (0..1, None: unmeasured)."""

    def agreement(self, outputs: Sequence[str]) -> float | None: ...


AgreementMeasure = Callable[[Mapping[str, Any]], Agreement]


@dataclass(frozen=True)
class CorpusIndex:
    """A retriever over the LanceDB index of the variant's `corpus:` folder (the built-in
    `bm25`, `dense` and `hybrid`, registered under these names like any plugin)."""

    mode: str  # bm25 | dense | hybrid
    description: str


# -- the registries --------------------------------------------------------------------------

ScorerFactory = Callable[..., "Scorer"]

providers: Registry[type[Provider[Any]]] = Registry("provider", PROVIDERS)
scorers: Registry[ScorerFactory] = Registry("scorer", SCORERS)
corpus_metrics: Registry[CorpusMetric] = Registry("corpus metric", CORPUS_METRICS)
agreement_measures: Registry[AgreementMeasure] = Registry("agreement measure", AGREEMENT_MEASURES)
retrievers: Registry[RetrieverFn | CorpusIndex] = Registry("retriever", RETRIEVERS)

# what `@scorer` declared for each factory (a factory named only by an entry point declares nothing)
_declared: dict[ScorerFactory, tuple[ScorerInfo, str | None]] = {}


def declared_info(factory: ScorerFactory) -> ScorerInfo | None:
    """The ScorerInfo `@scorer(...)` declared for this factory (None: undeclared)."""
    found = _declared.get(factory)
    return found[0] if found is not None else None


def install_extra(factory: ScorerFactory) -> str | None:
    """The `pip install 'evalkit[EXTRA]'` that brings a scorer's libraries."""
    found = _declared.get(factory)
    return found[1] if found is not None else None


# -- the decorators --------------------------------------------------------------------------

C = TypeVar("C", bound=type)
F = TypeVar("F", bound=Callable[..., Any])


def provider(name: str) -> Callable[[C], C]:
    """Register a `Provider` subclass under a config `type:` name."""

    def decorate(cls: C) -> C:
        providers.register(name, cls)
        return cls

    return decorate


def scorer(
    name: str,
    *,
    higher_is_better: bool = True,
    needs_reference: bool = False,
    needs_output: bool = True,
    kind: ScoreKind = "continuous",
    verdict: bool | None = None,
    deferred: bool = False,
    corpus: str | None = None,
    agreement: bool = False,
    value_range: tuple[float, float] | None = None,
    description: str = "",
    extra: str | None = None,
    outside: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Register a scorer factory and declare, once, what its scores are:
    `@scorer("rouge", needs_reference=True) def rouge(types=...) -> Scorer`. `corpus` names the
    corpus metric the summary adds; `extra` the `pip install 'evalkit[EXTRA]'` that brings its
    libraries; `outside` the options whose values point outside a run directory."""

    def decorate(factory: F) -> F:
        info = ScorerInfo(
            type=name,
            higher_is_better=higher_is_better,
            needs_reference=needs_reference,
            needs_output=needs_output,
            kind=kind,
            verdict=verdict,
            deferred=deferred,
            corpus=corpus,
            agreement=agreement,
            # a pass/fail score is 1 or 0
            value_range=value_range if value_range is not None or kind != "pass_fail" else (0.0, 1.0),
            description=description or (factory.__doc__ or "").strip().split("\n")[0],
            outside=outside,
        )
        _declared[factory] = (info, extra)
        scorers.register(name, factory)
        return factory

    return decorate


def corpus_metric(name: str) -> Callable[[F], F]:
    """Register a corpus metric: `@corpus_metric("bleu") def bleu(options) -> CorpusAccumulator`;
    a scorer declares it with `@scorer(..., corpus="bleu")`."""

    def decorate(factory: F) -> F:
        corpus_metrics.register(name, factory)
        return factory

    return decorate


def agreement_measure(scorer_type: str) -> Callable[[F], F]:
    """Register how a scorer type declared with `agreement=True` measures agreement between
    repeats: `@agreement_measure("cosine") def measure(options) -> Agreement`."""

    def decorate(factory: F) -> F:
        agreement_measures.register(scorer_type, factory)
        return factory

    return decorate


def retriever(name: str) -> Callable[[F], F]:
    """Register a custom retriever: `@retriever("search_api") def search(query, top_k, **options)`."""

    def decorate(fn: F) -> F:
        retrievers.register(name, fn)
        return fn

    return decorate
