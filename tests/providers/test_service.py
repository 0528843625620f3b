"""The framework around providers (evalkit/providers/service.py), where the contract tests
(test_contract.py) do not reach: the event loop turns while a chunk is looked up in the cache."""

from __future__ import annotations

import asyncio
from pathlib import Path

from evalkit.providers import service
from evalkit.providers.cache import ResponseCache
from evalkit.providers.scripted import ScriptedProvider, ScriptedSettings
from evalkit.types import Completion, Request
from tests.helpers.openai_provider import requests


def test_a_chunk_looked_up_in_the_cache_lets_the_event_loop_turn(tmp_path: Path) -> None:
    """A chunk's lookups (thousands, each a hash and a SQLite read) would hold the loop for
    tens of ms: the answers of the chunk before, still in flight, would wait. Every hit is
    still answered at once, from the cache."""
    provider = ScriptedProvider("p", ScriptedSettings(default="ok", cache=True))
    asked = requests(3 * service.LOOKUPS)
    cache = ResponseCache(tmp_path / "cache.sqlite")

    async def go() -> tuple[int, int]:
        turns = [0]

        async def ticking() -> None:
            while True:
                turns[0] += 1
                await asyncio.sleep(0)

        fresh = service.ProviderService({"p": provider}, cache)
        assert len([pair async for pair in fresh.stream("p", asked)]) == len(asked)
        warm = service.ProviderService({"p": provider}, cache)
        ticker = asyncio.create_task(ticking())
        await asyncio.sleep(0)
        before = turns[0]
        hits = [completion async for _, completion in warm.stream("p", asked)]
        ticker.cancel()
        assert all(c.cached and c.text == "ok" for c in hits) and len(hits) == len(asked)
        return turns[0] - before, len(provider.calls)

    try:
        turned, calls = asyncio.run(go())
    finally:
        cache.close()
    assert calls == len(asked)  # asked of the provider once: the second pass was all hits
    assert turned >= 2


class SlowStart(ScriptedProvider):
    """A per-request provider whose start() takes a while, and which fails what comes before it."""

    ready = False

    async def start(self) -> None:
        await asyncio.sleep(0.1)
        self.ready = True

    async def complete(self, request: Request) -> Completion:
        return Completion(text="ok") if self.ready else Completion(error="not started")


def test_a_stream_that_comes_while_the_provider_starts_waits_for_the_start() -> None:
    """Two chunks (or a chunk and a judge) may ask one provider at once: the second stream
    must not send while the first is still starting the provider."""
    provider = SlowStart("p", ScriptedSettings())
    svc = service.ProviderService({"p": provider})

    async def answers(first: int) -> list[Completion]:
        return [c async for _, c in svc.stream("p", requests(3)[first:])]

    async def go() -> list[list[Completion]]:
        return await asyncio.gather(answers(0), answers(1))

    both = asyncio.run(go())
    assert [len(one) for one in both] == [3, 2]
    assert all(c.text == "ok" for one in both for c in one)


class FailingStart(ScriptedProvider):
    """A provider whose first start() fails after a while; a later one succeeds."""

    starts = 0
    ready = False

    async def start(self) -> None:
        self.starts += 1
        await asyncio.sleep(0.05)
        if self.starts == 1:
            raise RuntimeError("weights not found")
        self.ready = True

    async def complete(self, request: Request) -> Completion:
        return Completion(text="ok") if self.ready else Completion(error="not started")


def test_a_stream_that_waited_for_a_start_that_failed_starts_the_provider_itself() -> None:
    """The first stream's start() raises (its stream fails with it); a stream that came
    meanwhile must not send to the provider that never started: it starts it again."""
    provider = FailingStart("p", ScriptedSettings())
    svc = service.ProviderService({"p": provider})

    async def answers(first: int) -> list[Completion]:
        return [c async for _, c in svc.stream("p", requests(3)[first:])]

    async def go() -> list[list[Completion] | BaseException]:
        return await asyncio.gather(answers(0), answers(1), return_exceptions=True)

    failed, waited = asyncio.run(go())
    assert isinstance(failed, RuntimeError) and str(failed) == "weights not found"
    assert isinstance(waited, list) and [c.text for c in waited] == ["ok", "ok"]
    assert provider.starts == 2 and "p" in svc.started


def test_generation_time_is_counted_once_where_a_providers_streams_overlap() -> None:
    """Two streams of one provider at once (the plan's chunks back to back): its
    generate_p_s is the time while either generated, never the sum of both."""
    provider = ScriptedProvider("p", ScriptedSettings(default="ok", latency_s=0.2))
    svc = service.ProviderService({"p": provider})

    async def drain(first: int) -> int:
        return len([c async for _, c in svc.stream("p", requests(2)[first : first + 1])])

    async def go() -> float:
        start = asyncio.get_running_loop().time()
        assert await asyncio.gather(drain(0), drain(1)) == [1, 1]
        return asyncio.get_running_loop().time() - start

    wall = asyncio.run(go())
    assert 0.2 <= svc.timings["generate_p_s"] <= wall
