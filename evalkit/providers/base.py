"""The provider interface: batch-first, async, with per-completion callbacks for streaming."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from evalkit.types import Completion, Request

OnCompletion = Callable[[Request, Completion], None]


class Provider(ABC):
    """A model backend.

    `generate` receives the whole batch for one variant; HTTP providers fan it out under a
    semaphore, local ones batch it. Every finished completion is passed to `on_completion`
    as soon as it exists, so results stream to disk while the rest of the batch runs.
    Failures of single requests become `Completion(error=...)`, never exceptions; only
    problems that make the whole run pointless (bad credentials) raise.
    """

    settings_model: ClassVar[type[BaseModel]]
    # settings that change how answers are fetched, never what they are: they may differ on --resume
    operational_settings: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, settings: BaseModel, *, concurrency: int = 16):
        self.name = name
        self.settings = settings
        self.concurrency = concurrency

    @abstractmethod
    async def generate(
        self, requests: Sequence[Request], on_completion: OnCompletion
    ) -> list[Completion]: ...

    def describe(self) -> dict[str, Any]:
        """Provider identity for run.json and cache keys. Never includes secrets."""
        return {"name": self.name, "type": type(self).__name__}

    def model_name(self, request: Request) -> str | None:
        """The model a request goes to, as recorded on its result."""
        return request.model or getattr(self.settings, "model", None)

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        """What identifies this backend's answers for the response cache; None = never cache.

        It must name everything besides messages and params that changes the answer
        (endpoint, resolved model, weights digest) and nothing secret.
        """
        return None

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Load what is slow to load (local weights) before the first batch."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Validate what can be validated before any model call (e.g. API key present)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections or models."""
