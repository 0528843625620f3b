"""The provider interface: batch-first, async, with per-completion callbacks for streaming."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit.rag.types import RetrievedChunk


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: str


class GenerationParams(BaseModel):
    """Sampling parameters a user sets on a suite or variant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)
    stop: list[str] | None = None
    seed: int | None = None
    extra_body: dict[str, Any] | None = None  # passed through verbatim to HTTP providers

    def merged(self, override: GenerationParams | None) -> GenerationParams:
        if override is None:
            return self
        data = self.model_dump(exclude_none=True)
        data.update(override.model_dump(exclude_none=True))
        return GenerationParams(**data)


class Request(BaseModel):
    """One generation to perform: a case, for a variant, at a repeat index."""

    model_config = ConfigDict(frozen=True)

    key: str  # unique within a run: suite/case_id/variant/repeat
    suite: str
    case_id: str
    variant: str
    repeat: int
    messages: tuple[Message, ...]
    params: GenerationParams
    model: str | None = None
    # what a RAG variant retrieved for this case (already rendered into `messages`); an empty
    # tuple is a retrieval failure, None means the variant does not retrieve
    retrieval: tuple[RetrievedChunk, ...] | None = None
    retrieval_query: str | None = None  # what was searched for
    # RAG: the messages with the retrieved context left out, for the input hash - a different
    # retrieval is what a RAG variant changes, not a different question (the gate must pair them)
    input_messages: tuple[Message, ...] | None = None


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float | None = None
    ttft_ms: float | None = None
    model_version: str | None = None
    cached: bool = False
    attempts: int = 1
    error: str | None = None  # set when generation failed after retries: text is then None

    @property
    def ok(self) -> bool:
        return self.error is None


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
