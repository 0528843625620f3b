"""evalkit: the evaluation and regression-testing harness for LLM systems.

The public facade: the core types and the decorators plugins use. Nothing heavy is imported.
"""

from evalkit.providers.base import Provider
from evalkit.registry import provider, scorer
from evalkit.scorers.base import Scorer
from evalkit.types import CaseResult, Completion, GenerationParams, Message, Request, Score, ScoreInput, Usage

__all__ = [
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
    "provider",
    "scorer",
]
