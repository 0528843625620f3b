"""The provider interface: one async channel of completions, typed settings, one connection.

A provider turns a batch of requests into completions and yields each `(request, completion)`
the moment it is finished, in whatever order they finish. The framework (providers/service.py)
owns the rest: one concurrency limiter per connection, retries, the response cache, fallback,
and the guarantee that every request gets exactly one completion.

Two shapes of backend fit it:
- per-request backends (HTTP APIs, Python functions) implement `complete(request)`: one
  attempt. The framework takes a slot of the connection's limiter around every call, so at most
  the connection's limit is in flight; an attempt that should be tried again raises `Retry`
  (timeouts, 5xx), and a rate limit raises `RateLimited(reason, retry_after)`: the limiter then
  halves the connection's limit (AIMD) and pauses sending for the retry-after. The provider
  never touches the limiter; `retry_policy()` says how often and how long to back off;
- engines that batch (transformers, vLLM) set `batches = True` and override `generate`: they
  get the whole batch at once and the framework's concurrency does not apply to them.

Capabilities are declared on the class (`batches`, `supports_tools`, `operational_settings`),
never discovered by `getattr`.

Failures of single requests become `Completion(error=...)`, never exceptions; only problems
that make the whole run pointless (bad credentials) raise.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from evalkit.types import Completion, Request

S = TypeVar("S", bound=BaseModel)

DEFAULT_CONCURRENCY = 16

# Where `Provider.report` sends progress lines; the framework sets it around a provider's batch.
status_sink: ContextVar[Callable[[str], None] | None] = ContextVar("evalkit_provider_status", default=None)


class Retry(Exception):
    """Raised by `complete()`: this attempt failed in a way worth another (timeout, HTTP 5xx,
    a truncated body). The framework backs off per `retry_policy()` and calls `complete()` again;
    after the last attempt the request gets `Completion(error="gave up after N attempts: ...")`."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after  # seconds the backend asked to wait, when it said


class RateLimited(Retry):
    """Raised by `complete()`: the backend said slow down (HTTP 429). Besides retrying, the
    connection's limiter halves its in-flight limit (once per burst) and pauses new requests for
    `retry_after` seconds (else the provider's `cooldown_s`); successes grow the limit back."""


@dataclass(frozen=True)
class RetryPolicy:
    """How the framework retries a `Retry`: at most `max_attempts` attempts; before the next,
    the backend's retry-after (plus up to 0.1 s of jitter) or a full-jitter exponential backoff."""

    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after + random.uniform(0, 0.1)
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # full jitter


class Provider(ABC, Generic[S]):
    """A model backend configured by settings of type `S` (a pydantic model, `extra="forbid"`)."""

    settings_model: ClassVar[type[BaseModel]]
    # settings that change how answers are fetched, never what they are: they may differ on --resume
    operational_settings: ClassVar[frozenset[str]] = frozenset()
    # True: an engine that takes the whole batch at once (no framework concurrency applies).
    batches: ClassVar[bool] = False
    # True: sends a request's `tools` / `tool_choice` to the model (native tool calling)
    supports_tools: ClassVar[bool] = False
    # multiple choice by log-likelihood: the contexts it can score continuations in ("plain":
    # the prompt's text; "chat": through the model's chat template); empty: it cannot
    loglikelihood_contexts: ClassVar[frozenset[str]] = frozenset()
    # the install extra that brings its libraries (`pip install 'evalkit[EXTRA]'`), None: core
    extra: ClassVar[str | None] = None

    def __init__(self, name: str, settings: S):
        self.name = name
        self.settings: S = settings

    # -- identity ---------------------------------------------------------------------------

    def connection_key(self) -> str:
        """What shares one concurrency limit: two entries for the same endpoint return the same key."""
        return f"{type(self).__name__}:{self.name}"

    def limiter_options(self) -> dict[str, Any]:
        """Keyword options for this connection's AdaptiveLimiter (adaptive, cooldown_s). A
        provider that raises `RateLimited` wants `{"adaptive": True}` (the default)."""
        return {"adaptive": True}

    def retry_policy(self) -> RetryPolicy:
        """How often, and after how long, the framework retries an attempt that raised `Retry`."""
        return RetryPolicy()

    def report(self, message: str) -> None:
        """Tell the user what the provider is doing, e.g. "generating batch 2/5" (a no-op
        outside a run)."""
        sink = status_sink.get()
        if sink is not None:
            sink(message)

    def describe(self) -> dict[str, Any]:
        """Provider identity for run.json and cache keys. Never includes secrets."""
        return {"name": self.name, "type": type(self).__name__}

    def model_name(self, request: Request) -> str | None:
        """The model a request goes to, as recorded on its result."""
        return request.model or getattr(self.settings, "model", None)

    def param_notes(self, request: Request) -> list[str]:
        """What of a request's params this backend will not send, and why (shown before the run)."""
        return []

    def price_vendor(self) -> str | None:
        """Whose bill this provider runs up, as the price database names the vendor
        ("anthropic", "google", "openai", ...); None: not a vendor the database prices (a local
        model, a self-hosted server), so only a config `pricing:` gives it a cost."""
        return None

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        """What identifies this backend's answers for the response cache; None = never cache.

        It must name everything besides messages and params that changes the answer
        (endpoint, resolved model, weights digest) and nothing secret.
        """
        return None

    # -- generation -------------------------------------------------------------------------

    async def complete(self, request: Request) -> Completion:
        """One attempt at one request (per-request backends); raise `Retry` or `RateLimited` to
        have the framework try again. Engines that batch override `generate` instead."""
        raise NotImplementedError(f"{type(self).__name__} implements neither complete() nor generate()")

    async def generate(self, batch: Sequence[Request]) -> AsyncIterator[tuple[Request, Completion]]:
        """Yield `(request, completion)` for the batch as each finishes. In a run, per-request
        backends are driven by the framework instead (service.Connected: limiter and retries)."""
        async for pair in complete_each(batch, self.complete, DEFAULT_CONCURRENCY):
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
    they finish. A task is created only when a slot frees up, never all up front; each finished
    task lands in a deque and wakes the loop below at most once, however many finish together
    (O(1) per request, no queue and no wrapper coroutine per request). An exception (e.g.
    credentials refused) cancels the rest and propagates."""
    pending = iter(batch)
    running: dict[asyncio.Future[Completion], Request] = {}
    finished: deque[asyncio.Future[Completion]] = deque()
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] | None = None
    limit = max(1, workers)

    def done(task: asyncio.Future[Completion]) -> None:
        finished.append(task)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def admit() -> None:
        while len(running) < limit and (request := next(pending, None)) is not None:
            call = complete(request)  # a coroutine, as a rule: straight to the loop
            task = loop.create_task(call) if asyncio.iscoroutine(call) else asyncio.ensure_future(call)
            running[task] = request
            task.add_done_callback(done)

    admit()
    try:
        while running:
            if not finished:
                waiter = loop.create_future()
                await waiter
                waiter = None
            task = finished.popleft()
            request = running.pop(task)
            admit()
            yield request, task.result()
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
