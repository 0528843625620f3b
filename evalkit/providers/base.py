"""The provider interface: one async channel of completions, typed settings, one connection.

A provider turns a batch of requests into completions and yields each `(request, completion)`
the moment it is finished, in whatever order they finish. The framework (providers/service.py)
owns the rest: one concurrency limiter per connection, the response cache, fallback, and the
guarantee that every request gets exactly one completion.

Two shapes of backend fit it:
- per-request backends (HTTP APIs, Python functions) implement `complete(request)`; the base
  `generate` runs it over the batch with at most `limiter.maximum` calls in flight, creating
  tasks only as slots free up (admission is O(1) per request, whatever the batch size);
- engines that batch (transformers, vLLM) set `batches = True` and override `generate`: they
  get the whole batch at once and the framework's concurrency does not apply to them.

Failures of single requests become `Completion(error=...)`, never exceptions; only problems
that make the whole run pointless (bad credentials) raise.
"""

from __future__ import annotations

import asyncio
from abc import ABC
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from evalkit.providers.limiter import AdaptiveLimiter
from evalkit.types import Completion, Request

S = TypeVar("S", bound=BaseModel)

DEFAULT_CONCURRENCY = 16


class Provider(ABC, Generic[S]):
    """A model backend configured by settings of type `S` (a pydantic model, `extra="forbid"`)."""

    settings_model: ClassVar[type[BaseModel]]
    # settings that change how answers are fetched, never what they are: they may differ on --resume
    operational_settings: ClassVar[frozenset[str]] = frozenset()
    # True: an engine that takes the whole batch at once (no framework concurrency applies).
    batches: ClassVar[bool] = False
    # set by the runner: batch engines report "generating batch k/n" so progress never looks stuck
    on_status: Callable[[str], None] | None = None

    def __init__(self, name: str, settings: S):
        self.name = name
        self.settings: S = settings
        # The connection's limiter; the framework binds the shared one (see service.Connections).
        self.limiter = AdaptiveLimiter(DEFAULT_CONCURRENCY, **self.limiter_options())

    # -- identity ---------------------------------------------------------------------------

    def connection_key(self) -> str:
        """What shares one concurrency limit: two entries for the same endpoint return the same key."""
        return f"{type(self).__name__}:{self.name}"

    def limiter_options(self) -> dict[str, Any]:
        """Keyword options for this connection's AdaptiveLimiter (adaptive, cooldown_s)."""
        return {"adaptive": False}

    def report(self, message: str) -> None:
        """Tell the user what the provider is doing (a no-op outside a run)."""
        if self.on_status is not None:
            self.on_status(message)

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

    # -- generation -------------------------------------------------------------------------

    async def complete(self, request: Request) -> Completion:
        """One request (per-request backends). Engines that batch override `generate` instead."""
        raise NotImplementedError(f"{type(self).__name__} implements neither complete() nor generate()")

    async def generate(self, batch: Sequence[Request]) -> AsyncIterator[tuple[Request, Completion]]:
        """Yield `(request, completion)` for the batch as each finishes."""
        async for pair in complete_each(batch, self.complete, self.limiter.maximum):
            yield pair

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Load what is slow to load (local weights) before the first batch."""

    def check(self) -> None:
        """Validate what can be validated before any model call (e.g. API key present)."""

    async def aclose(self) -> None:
        """Release connections or models."""


async def complete_each(
    batch: Iterable[Request],
    complete: Callable[[Request], Awaitable[Completion]],
    workers: int,
) -> AsyncIterator[tuple[Request, Completion]]:
    """Run `complete` over the batch with at most `workers` calls in flight, yielding results as
    they finish. A task is created only when a slot frees up, never all up front, and each
    finished task is handed over through a queue (O(1) per request). An exception (e.g.
    credentials refused) cancels the rest and propagates."""
    pending = iter(batch)
    running: set[asyncio.Task[tuple[Request, Completion]]] = set()
    finished: asyncio.Queue[asyncio.Task[tuple[Request, Completion]]] = asyncio.Queue()

    async def one(request: Request) -> tuple[Request, Completion]:
        return request, await complete(request)

    def admit() -> None:
        while len(running) < max(1, workers) and (request := next(pending, None)) is not None:
            task = asyncio.ensure_future(one(request))
            running.add(task)
            task.add_done_callback(finished.put_nowait)

    admit()
    try:
        while running:
            task = await finished.get()
            running.discard(task)
            admit()
            yield task.result()
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
