"""evalkit: the evaluation and regression-testing harness for LLM systems.

The public facade: everything a plugin author needs — the core values, the provider and scorer
base classes, the registration decorators — and `load_run` for notebooks. Names are imported on
first use (PEP 562), so `evalkit --help` and the CLI pay only for what a command uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AdaptiveLimiter": "evalkit.providers.limiter",
    "CaseResult": "evalkit.types",
    "Completion": "evalkit.types",
    "GenerationParams": "evalkit.types",
    "Message": "evalkit.types",
    "MetricInfo": "evalkit.types",
    "Provider": "evalkit.providers.base",
    "RateLimited": "evalkit.providers.base",
    "Request": "evalkit.types",
    "RetrievedChunk": "evalkit.types",
    "Retry": "evalkit.providers.base",
    "RetryPolicy": "evalkit.providers.base",
    "Score": "evalkit.types",
    "ScoreInput": "evalkit.types",
    "Scorer": "evalkit.scorers.base",
    "ScorerInfo": "evalkit.types",
    "ScoringContext": "evalkit.scorers.base",
    "Step": "evalkit.types",
    "ToolCall": "evalkit.types",
    "Usage": "evalkit.types",
    "complete_each": "evalkit.providers.base",
    "load_run": "evalkit.history.frames",  # a pandas DataFrame (pandas imported only when called)
    "run": "evalkit.api",  # a run from Python: typed results, summary and pandas frames
    "RunResult": "evalkit.api",
    "agreement_measure": "evalkit.plugins",
    "corpus_metric": "evalkit.plugins",
    "provider": "evalkit.plugins",
    "retriever": "evalkit.plugins",
    "scorer": "evalkit.plugins",
}

if TYPE_CHECKING:
    from evalkit.api import RunResult, run
    from evalkit.history.frames import load_run
    from evalkit.plugins import agreement_measure, corpus_metric, provider, retriever, scorer
    from evalkit.providers.base import Provider, RateLimited, Retry, RetryPolicy, complete_each
    from evalkit.providers.limiter import AdaptiveLimiter
    from evalkit.scorers.base import Scorer, ScoringContext
    from evalkit.types import (
        CaseResult,
        Completion,
        GenerationParams,
        Message,
        MetricInfo,
        Request,
        RetrievedChunk,
        Score,
        ScoreInput,
        ScorerInfo,
        Step,
        ToolCall,
        Usage,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "AdaptiveLimiter",
    "CaseResult",
    "Completion",
    "GenerationParams",
    "Message",
    "MetricInfo",
    "Provider",
    "RateLimited",
    "Request",
    "RetrievedChunk",
    "Retry",
    "RetryPolicy",
    "RunResult",
    "Score",
    "ScoreInput",
    "Scorer",
    "ScorerInfo",
    "ScoringContext",
    "Step",
    "ToolCall",
    "Usage",
    "agreement_measure",
    "complete_each",
    "corpus_metric",
    "load_run",
    "provider",
    "retriever",
    "run",
    "scorer",
]
