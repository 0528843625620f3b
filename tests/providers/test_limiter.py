"""AIMD concurrency: halve once per burst of 429s, grow back while requests succeed."""

from __future__ import annotations

import asyncio
import time

from evalkit.providers.limiter import AdaptiveLimiter
from tests.fake_openai import FakeOpenAI
from tests.helpers.openai_provider import generate, make, requests


def test_halves_once_per_epoch_and_recovers() -> None:
    async def go() -> None:
        lim = AdaptiveLimiter(16)
        tickets = [await lim.acquire() for _ in range(16)]
        for t in tickets[:8]:  # a burst of 429s from requests sent before any decrease
            lim.settle(t, rate_limited=True)
        assert lim.limit == 8 and lim.decreases == 1
        for t in tickets[8:12]:
            lim.settle(t, ok=True)
        limit_before = lim.limit
        fresh = await lim.acquire()  # sent after the decrease: a new epoch
        lim.settle(fresh, rate_limited=True)
        assert lim.limit == limit_before / 2 and lim.decreases == 2
        for t in tickets[12:]:
            lim.settle(t, ok=True)
        assert limit_before / 2 < lim.limit < limit_before
        for _ in range(200):
            t = await lim.acquire()
            lim.settle(t, ok=True)
        assert lim.limit == 16  # capped at the configured maximum

    asyncio.run(go())


def test_never_below_minimum_and_blocks_at_limit() -> None:
    async def go() -> None:
        lim = AdaptiveLimiter(2)
        for _ in range(10):
            t = await lim.acquire()
            lim.settle(t, rate_limited=True)
        assert lim.limit == 1
        first = await lim.acquire()
        waiter = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0.01)
        assert not waiter.done()  # the limit of 1 is held
        lim.settle(first, ok=True)
        await asyncio.wait_for(waiter, 1)

    asyncio.run(go())


def test_rate_limited_endpoint_is_not_hammered() -> None:
    """Token bucket at 50 req/s, 200 ms latency, concurrency 64: AIMD keeps retries low."""
    n, rate = 200, 50
    with FakeOpenAI(latency_s=0.2, rate_limit=rate) as server:
        provider = make(server, concurrency=64, backoff_base_s=0.5, backoff_max_s=4.0)
        started = time.perf_counter()
        out, _ = generate(provider, requests(n))
        elapsed = time.perf_counter() - started
    assert all(c.error is None for c in out)
    sent_per_case = len(server.requests) / n
    assert sent_per_case < 1.5, sent_per_case
    assert provider.limiter.decreases >= 1
    assert elapsed < n / rate * 3, elapsed


def test_a_freed_slot_goes_to_one_waiter_in_arrival_order() -> None:
    """Issue 13 item 19: a settled slot wakes exactly one waiter (it woke all of them)."""

    async def go() -> None:
        lim = AdaptiveLimiter(1, adaptive=False)
        held = await lim.acquire()
        order: list[int] = []

        async def wait(i: int) -> None:
            ticket = await lim.acquire()
            order.append(i)
            await asyncio.sleep(0.01)
            lim.settle(ticket, ok=True)

        waiters = [asyncio.create_task(wait(i)) for i in range(5)]
        await asyncio.sleep(0.01)
        assert order == [] and lim.in_flight == 1
        lim.settle(held, ok=True)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert order == [0] and lim.in_flight == 1  # one woken, the others still queued
        await asyncio.gather(*waiters)
        assert order == [0, 1, 2, 3, 4] and lim.in_flight == 0

    asyncio.run(go())


def test_a_cancelled_waiter_never_keeps_a_slot() -> None:
    async def go() -> None:
        lim = AdaptiveLimiter(1, adaptive=False)
        held = await lim.acquire()
        doomed = asyncio.create_task(lim.acquire())
        after = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0.01)
        lim.settle(held, ok=True)  # the slot is handed to `doomed` ...
        doomed.cancel()  # ... which is cancelled before it runs: the slot passes on
        ticket = await asyncio.wait_for(after, 1)
        lim.settle(ticket, ok=True)
        assert lim.in_flight == 0

    asyncio.run(go())


def test_a_free_slot_is_taken_without_a_coroutine_only_when_nothing_else_would_wait() -> None:
    """`try_acquire` (the framework's common case) takes a slot exactly when `acquire` would not
    wait: a slot free, nobody queued, sending not paused by a 429, and the same event loop."""

    async def run() -> None:
        lim = AdaptiveLimiter(2)
        assert lim.try_acquire() is None  # not yet bound to this loop: acquire() binds it
        first = await lim.acquire()
        second = lim.try_acquire()
        assert second is not None and lim.in_flight == 2
        assert lim.try_acquire() is None and lim.in_flight == 2  # full
        waiting = asyncio.ensure_future(lim.acquire())
        await asyncio.sleep(0)
        lim.settle(first, ok=True)  # the freed slot goes to the waiter, not to a newcomer
        assert lim.try_acquire() is None
        third = await waiting
        lim.settle(second, rate_limited=True, retry_after=0.2)  # a 429: the limit halves, sending pauses
        lim.settle(third, ok=True)
        assert lim.in_flight == 0 and lim.try_acquire() is None  # paused
        await asyncio.sleep(0.25)
        assert lim.try_acquire() is not None and lim.in_flight == 1

    asyncio.run(run())
    asyncio.run(run())  # a later loop starts afresh
