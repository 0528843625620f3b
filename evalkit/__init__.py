"""evalkit: the evaluation and regression-testing harness for LLM systems.

The public facade: the core types and the decorators plugins use. Nothing heavy is imported.
"""

from evalkit.providers.base import Provider, complete_each
from evalkit.providers.limiter import AdaptiveLimiter
from evalkit.registry import provider, scorer
from evalkit.scorers.base import Scorer
from evalkit.types import CaseResult, Completion, GenerationParams, Message, Request, Score, ScoreInput, Usage


def __getattr__(name: str) -> object:
    """`evalkit.load_run(path)` → a pandas DataFrame (pandas is imported only when it is called)."""
    if name == "load_run":
        from evalkit.history.frames import load_run

        return load_run
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")


__all__ = [
    "AdaptiveLimiter",
    "CaseResult",
    "Completion",
    "GenerationParams",
    "Message",
    "Provider",
    "Request",
    "Score",
    "ScoreInput",
    "Scorer",
    "Usage",
    "complete_each",
    "load_run",
    "provider",
    "scorer",
]
