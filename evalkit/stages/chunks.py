"""The plan's requests handed to the providers a chunk at a time, without a drain between chunks.

A chunk (`plan.CHUNK` requests) is the unit the providers' framework works on: the cache looks it
up, fallbacks and exactly-once delivery are settled within it, an engine that batches gets it as
one batch. Run one after another, each chunk ended with the requests in flight falling to none
over the last round trip, and the next was rendered while nothing was sent. Here the next chunk
is rendered while the current one runs (a slice at a time, the event loop turning between
slices, so answers keep arriving and requests keep going out) and is handed to the providers
once the current one is in its tail: what is left of it could all be in flight. From then on its
requests queue at the connection's limiter behind the current chunk's, which takes each slot the
current chunk frees: the limiter, not the chunk, bounds what is in flight, exactly as before.

At most two chunks are rendered at once (the next renders only after the one before the current
is done), so memory stays flat whatever the run's size. Where a provider takes no limiter (an
engine that batches, a provider with its own channel, the agent loop), chunks run one after
another as before: two of its batches never run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from itertools import islice

from evalkit.types import Request

SLICE = 64  # requests rendered between two turns of the event loop (about 1 ms)
FIRST = 256  # requests in the first chunk, when chunks overlap: the first request goes out at once

Batches = dict[str, list[Request]]  # a chunk: each provider's requests


class Chunk:
    """One chunk's batches and how many of its answers are still to come. `tail` is set once
    the rest could all be in flight (`lead` answers or fewer left; never, with a lead of 0) and
    when the chunk is done."""

    def __init__(self, batches: Batches, lead: int):
        self.batches = batches
        self.left = sum(len(requests) for requests in batches.values())
        self.lead = lead
        self.tail = asyncio.Event()
        if lead and self.left <= lead:
            self.tail.set()

    def answered(self) -> None:
        self.left -= 1
        if self.left == self.lead and self.lead:
            self.tail.set()


async def rendered(
    requests: Iterator[Request], provider_of: Mapping[str, str], size: int, first: int | None = None
) -> AsyncGenerator[Batches]:
    """The requests by provider, `size` at a time (the first chunk `first`), rendered SLICE at
    a time with a turn of the event loop between slices."""
    want, done = first or size, False
    while not done:
        out: Batches = defaultdict(list)
        n = 0
        while n < want:
            asked = min(SLICE, want - n)
            piece = list(islice(requests, asked))
            for request in piece:
                out[provider_of[request.variant]].append(request)
            n += len(piece)
            if len(piece) < asked:
                done = True  # the plan is rendered
                break
            if n < want:
                await asyncio.sleep(0)  # meanwhile what is in flight is answered, its slots refilled
        if n:
            yield dict(out)
        want = size


async def back_to_back(
    chunks: AsyncGenerator[Batches], run: Callable[[Chunk], Awaitable[None]], lead: int
) -> None:
    """Run every chunk (`run`), each started when the one before is in its tail (lead 0: when it
    is done), the next rendered meanwhile. The first error (the circuit breaker, a provider's
    refused credentials) cancels the rest and is raised as it is."""

    async def running(chunk: Chunk) -> None:
        try:
            await run(chunk)
        finally:
            chunk.tail.set()

    try:
        async with asyncio.TaskGroup() as group, contextlib.aclosing(chunks):
            previous: tuple[Chunk, asyncio.Task[None]] | None = None
            async for batches in chunks:  # the next chunk renders while the current one runs
                chunk = Chunk(batches, lead)
                if previous is not None:
                    await previous[0].tail.wait()
                task = group.create_task(running(chunk))
                if previous is not None:
                    await asyncio.wait({previous[1]})  # then the next renders: two chunks at most
                previous = (chunk, task)
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
