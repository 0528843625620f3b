"""What the framework wraps around every provider, so no provider re-implements it:

- one concurrency limiter per connection (`Provider.connection_key()`): two provider entries
  that point at one endpoint share it, with the smaller of their limits. A per-request
  provider is wrapped in `Connected`, which takes a slot around every `complete()` attempt,
  retries what raised `Retry` and feeds `RateLimited` (with its retry-after) to the limiter's
  AIMD back-off: no provider touches the limiter, and none is mutated by the framework;
- the response cache: hits are answered at once, good answers are stored;
- exactly one completion per request: a provider that yields none for a request gets an error
  completion for it, and one that raises (other than an evalkit error such as refused
  credentials) gets error completions for what it left unanswered;
- fallback: a request that failed on its provider is asked once more of its fallback provider;
- start-up: a provider is started (weights loaded) only when a request misses the cache, once;
  a stream that asks it meanwhile (the next chunk's, a judge's) waits until it is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel

from evalkit.errors import EvalkitError
from evalkit.providers.base import Provider, RateLimited, Retry, RetryPolicy, complete_each, status_sink
from evalkit.providers.cache import ResponseCache, request_key
from evalkit.providers.limiter import AdaptiveLimiter
from evalkit.types import Completion, Request

AnyProvider = Provider[Any]
LOOKUPS = 256  # requests looked up in the cache between two turns of the event loop
T = TypeVar("T")


@dataclass(frozen=True)
class ProviderSpec:
    """A validated provider entry, before any instance exists: what the plan stage produces."""

    name: str
    kind: str  # the config's `type:`
    cls: type[AnyProvider]
    settings: BaseModel  # validated by cls.settings_model
    limit: int | None  # in-flight limit for its connection; None: an engine that batches
    replicas: int | None = None  # a local engine run as this many Ray actors


def build_providers(specs: Mapping[str, ProviderSpec]) -> dict[str, AnyProvider]:
    """The execute stage's provider instances: checked (credentials, imports, files) before any
    model call, and bound to one limiter per connection."""
    providers = {name: _replicated(spec.cls(name, spec.settings), spec) for name, spec in specs.items()}
    for provider in providers.values():
        provider.check()
    return bind_connections(providers, {name: spec.limit for name, spec in specs.items()})


def _replicated(provider: AnyProvider, spec: ProviderSpec) -> AnyProvider:
    """The provider itself, or wrapped to run as `replicas:` Ray actors (only then is the Ray
    wrapper's module loaded)."""
    if spec.replicas is None:
        return provider
    from evalkit.providers.ray_replicas import with_replicas

    return with_replicas(provider, spec.kind, spec.replicas)


class Connected(Provider[Any]):
    """A per-request provider behind its connection's limiter: the framework's side of the
    provider contract. Every `complete()` attempt holds one slot; an attempt that raises `Retry`
    is tried again after the provider's `retry_policy()` backoff, and one that raises
    `RateLimited` also halves the connection's limit and pauses it for the retry-after."""

    def __init__(self, plugin: AnyProvider, limiter: AdaptiveLimiter):
        super().__init__(plugin.name, plugin.settings)
        self.plugin = plugin
        self.limiter = limiter
        self._policy: RetryPolicy | None = None  # the plugin's, asked once (its settings are frozen)

    def generate(self, batch: Sequence[Request]) -> AsyncIterator[tuple[Request, Completion]]:
        return complete_each(batch, self.complete, self.limiter.maximum)  # no generator layer of its own

    async def complete(self, request: Request) -> Completion:
        policy = self._policy
        if policy is None:
            policy = self._policy = self.plugin.retry_policy()
        attempts = max(1, policy.max_attempts)
        reason = "no attempt made"
        limiter = self.limiter
        for attempt in range(1, attempts + 1):
            ticket = limiter.try_acquire() or await limiter.acquire()
            try:
                completion = await self.plugin.complete(request)
            except Retry as exc:
                rate_limited = isinstance(exc, RateLimited)
                limiter.settle(ticket, rate_limited=rate_limited, retry_after=exc.retry_after)
                reason = exc.reason
                if attempt < attempts:
                    await asyncio.sleep(policy.delay(attempt, exc.retry_after))
                continue
            except BaseException:
                limiter.settle(ticket)
                raise
            limiter.settle(ticket, ok=completion.error is None)
            if attempt > 1:
                completion = completion.model_copy(update={"attempts": attempt})
            return completion
        return Completion(error=f"gave up after {attempts} attempts: {reason}", attempts=attempts)

    # everything else is the plugin's own
    def connection_key(self) -> str:
        return self.plugin.connection_key()

    def describe(self) -> dict[str, Any]:
        return self.plugin.describe()

    def model_name(self, request: Request) -> str | None:
        return self.plugin.model_name(request)

    def price_vendor(self) -> str | None:
        return self.plugin.price_vendor()

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        return self.plugin.cache_identity(request)

    async def start(self) -> None:
        await self.plugin.start()

    def check(self) -> None:
        self.plugin.check()

    async def aclose(self) -> None:
        await self.plugin.aclose()


class Answer(NamedTuple):
    request: Request
    completion: Completion
    provider: str  # the provider that answered
    fallback_from: str | None = None  # the provider that failed first, when a fallback answered


def bind_connections(
    providers: Mapping[str, AnyProvider], limits: Mapping[str, int | None]
) -> dict[str, AnyProvider]:
    """Every per-request provider behind its connection's limiter (`Connected`): one limiter per
    connection key, with the smallest limit any entry of that connection asks for. Engines that
    batch, and providers that drive their own channel (override `generate`), take no limit and
    are returned as they are."""
    groups: dict[str, list[str]] = {}
    for name, provider in providers.items():
        own_channel = provider.batches or type(provider).generate is not Provider.generate
        if not own_channel and limits.get(name) is not None:
            groups.setdefault(provider.connection_key(), []).append(name)
    bound = dict(providers)
    for names in groups.values():
        maximum = min(int(limits[name] or 1) for name in names)
        limiter = AdaptiveLimiter(maximum, **providers[names[0]].limiter_options())
        for name in names:
            bound[name] = Connected(providers[name], limiter)
    return bound


async def exactly_once(
    provider: AnyProvider, batch: Sequence[Request]
) -> AsyncGenerator[tuple[Request, Completion]]:
    """The provider's channel, with one completion per request of the batch, whatever it yields."""
    expected = {r.key: r for r in batch}
    failure: str | None = None
    try:
        async with closing(provider.generate(batch)) as channel:
            async for request, completion in channel:
                original = expected.pop(request.key, None)
                if original is not None:  # a duplicate or an unknown request is dropped
                    yield original, completion
    except EvalkitError:
        raise
    except Exception as exc:  # a plugin's bug: an error result for what it left, never a dead run
        failure = f"provider '{provider.name}' failed: {type(exc).__name__}: {exc}"
    for request in list(expected.values()):
        yield (
            request,
            Completion(
                error=failure or f"provider '{provider.name}' returned no completion for this request"
            ),
        )


def closing(channel: AsyncIterator[T]) -> contextlib.AbstractAsyncContextManager[AsyncIterator[T]]:
    """A provider's channel closed when its reader stops early (its tasks cancelled then, not
    when the garbage collector gets to it); an iterator with nothing to close as it is."""
    if isinstance(channel, AsyncGenerator):
        return contextlib.aclosing(channel)
    return contextlib.nullcontext(channel)


class ProviderService:
    """The providers of a run behind the framework's cache, start-up, fallback and delivery."""

    def __init__(
        self,
        providers: Mapping[str, AnyProvider],
        cache: ResponseCache | None = None,
        *,
        status: Callable[[str], None] | None = None,
        started: set[str] | None = None,
        timings: dict[str, float] | None = None,
    ):
        self.providers = providers
        self.cache = cache
        self.status = status or (lambda message: None)
        # where a run's time goes (run.json timings_s): cache lookup with the model check, load, generation
        self.timings = timings if timings is not None else {}
        self.started = started if started is not None else set()  # providers already started
        self._starting: dict[str, asyncio.Future[None]] = {}  # set once its start() has returned
        # per provider: its streams generating now, and since when the first of them has been
        self._generating: dict[str, list[float]] = {}

    async def stream(
        self, name: str, requests: Sequence[Request], namespace: str = "generate"
    ) -> AsyncGenerator[tuple[Request, Completion]]:
        """Cached answers at once, then the provider's for the rest (stored as they come)."""
        provider = self.providers[name]
        keys: dict[str, str] = {}
        misses: list[Request] = []
        if name not in self.started:
            self.status(f"preparing {name}")  # e.g. a first, one-time model conversion
        clock = time.perf_counter()
        for n, request in enumerate(requests, 1):
            identity = provider.cache_identity(request) if self.cache is not None else None
            if identity is None or self.cache is None:
                misses.append(request)
                continue
            key = request_key(identity, request, namespace)
            hit = self.cache.get(key)
            if hit is not None:
                yield request, hit
            else:
                keys[request.key] = key
                misses.append(request)
            if n % LOOKUPS == 0:  # the event loop turns: what is in flight meanwhile goes on
                await asyncio.sleep(0)
        self._add(f"cache_lookup_{name}_s", clock)
        self.status("evaluating")
        if not misses:
            return
        await self._start(name, provider)
        self._generating_begins(name)
        sink = status_sink.set(self.status)  # batch engines: "generating batch k/n on NAME"
        try:
            async with contextlib.aclosing(exactly_once(provider, misses)) as answered:
                async for request, completion in answered:
                    store_as = keys.get(request.key)
                    if store_as is not None and self.cache is not None:
                        self.cache.put(
                            store_as,
                            completion,
                            provider=name,
                            model=provider.model_name(request),
                            namespace=namespace,
                        )
                    yield request, completion
        finally:
            with contextlib.suppress(ValueError):  # closed from another context: nothing to undo
                status_sink.reset(sink)
            self._generating_ends(name)
        self.status("evaluating")

    def _generating_begins(self, name: str) -> None:
        span = self._generating.setdefault(name, [0, 0.0])
        if not span[0]:
            span[1] = time.perf_counter()
        span[0] += 1

    def _generating_ends(self, name: str) -> None:
        """`generate_NAME_s`: the time while at least one of the provider's streams generated,
        counted once where streams overlap (the plan's chunks back to back, a judge's)."""
        span = self._generating[name]
        span[0] -= 1
        if not span[0]:
            self._add(f"generate_{name}_s", span[1])

    async def _start(self, name: str, provider: AnyProvider) -> None:
        """Start the provider (load weights) the first time something needs it; a stream that
        comes meanwhile (the next chunk's, a judge's) waits until the start is done."""
        while name in self.started:  # started, or starting: then wait for it
            starting = self._starting.get(name)
            if starting is None or starting.done():
                return
            await asyncio.shield(starting)  # a start that failed is no longer in `started`: retried
        self.started.add(name)
        starting = self._starting[name] = asyncio.get_running_loop().create_future()
        self.status(f"starting {name}")
        clock = time.perf_counter()
        try:
            await provider.start()
        except BaseException:  # raised or cancelled: never started, whoever waits starts it again
            self.started.discard(name)
            raise
        finally:
            starting.set_result(None)
        self._add(f"load_{name}_s", clock)
        self.status("evaluating")

    def _add(self, name: str, since: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - since

    async def complete(
        self, name: str, requests: Sequence[Request], namespace: str = "judge"
    ) -> list[Completion]:
        """Every request's completion, in the order asked (judges use this)."""
        got = {r.key: c async for r, c in self.stream(name, requests, namespace)}
        return [got[r.key] for r in requests]

    async def answers(
        self, batches: Mapping[str, Sequence[Request]], fallback_for: Callable[[Request], str | None]
    ) -> AsyncGenerator[Answer]:
        """Every provider's batch at once, merged into one stream of answers as they finish; a
        failed request is asked of its fallback provider (once) before it is answered."""
        asked = [(name, requests) for name, requests in batches.items() if requests]
        if len(asked) == 1 and not any(fallback_for(r) for r in asked[0][1]):
            name = asked[0][0]  # one provider, no fallback: its stream as it is (no task, no queue)
            async with contextlib.aclosing(self.stream(name, asked[0][1])) as answered:
                async for request, completion in answered:
                    yield Answer(request, completion, name)
            return
        out: asyncio.Queue[Answer | BaseException | None] = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()

        async def run(name: str, requests: Sequence[Request], fallback_from: str | None) -> None:
            async for request, completion in self.stream(name, requests):
                fallback = fallback_for(request) if fallback_from is None else None
                if completion.error is not None and fallback is not None:
                    spawn(run(fallback, [request.model_copy(update={"model": None})], name))
                else:
                    out.put_nowait(Answer(request, completion, name, fallback_from))

        def finished(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                out.put_nowait(task.exception())
            elif not tasks:
                out.put_nowait(None)

        def spawn(coro: Any) -> None:
            task = asyncio.ensure_future(coro)
            tasks.add(task)
            task.add_done_callback(finished)

        for name, requests in batches.items():
            if requests:
                spawn(run(name, requests, None))
        if not tasks:
            return
        try:
            while (item := await out.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for provider in self.providers.values():
            try:
                await provider.aclose()
            except Exception:  # closing must not mask the real outcome
                continue
