"""Adaptive concurrency (AIMD): back off on rate limits, recover while requests succeed.

The in-flight limit starts at the configured maximum. A 429 halves it, once per "epoch":
rejections of requests that were sent before the last decrease say nothing new and are
ignored, so one burst of 429s halves the limit once rather than collapsing it to 1. Each
success adds 1/limit, so the limit grows by about one per round of `limit` completions.

A 429 also pauses new requests for a moment (the server's Retry-After, else `cooldown_s`):
requests already queued would otherwise fire straight into an empty token bucket.

Admission is O(1): waiters queue in FIFO order and a freed slot is handed to exactly one of
them (never a wake-up of every waiter, which made large runs quadratic).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Ticket:
    epoch: int


class AdaptiveLimiter:
    def __init__(self, maximum: int, minimum: int = 1, adaptive: bool = True, cooldown_s: float = 0.5):
        self.maximum = maximum
        self.cooldown_s = cooldown_s
        self.resume_at = 0.0
        self.minimum = max(1, min(minimum, maximum))
        self.adaptive = adaptive
        self.limit = float(maximum)
        self.in_flight = 0
        self.epoch = 0
        self.decreases = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticket = Ticket(0)  # the current epoch's ticket (one object, not one per request)

    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a later asyncio.run starts afresh
            self._loop, self.in_flight, self._waiters = loop, 0, deque()
        return loop

    def _capacity(self) -> int:
        return max(self.minimum, int(self.limit))

    def _wake(self) -> None:
        """Hand free slots to the longest waiters, one slot to one waiter."""
        while self._waiters and self.in_flight < self._capacity():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def try_acquire(self) -> Ticket | None:
        """A slot at once when one is free, nobody is waiting and sending is not paused; else None
        (then `await acquire()`). The common case without a coroutine, and without asking asyncio
        for the running loop (0.4 µs a call): the loop `acquire` bound must still be open; a later
        `asyncio.run` (the last one's loop closed) goes through `acquire`, which starts afresh."""
        loop = self._loop
        if (
            loop is not None
            and self.in_flight < self._capacity()
            and not self._waiters
            and (not self.resume_at or self.resume_at <= time.monotonic())
            and not loop.is_closed()
        ):
            self.in_flight += 1
            if self._ticket.epoch != self.epoch:
                self._ticket = Ticket(self.epoch)
            return self._ticket
        return None

    async def acquire(self) -> Ticket:
        loop = self._bind()
        if self.in_flight < self._capacity() and not self._waiters:
            self.in_flight += 1
        else:
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # resolved with the slot already counted as ours
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._give_back()  # the slot came as we were cancelled: pass it on
                else:
                    waiter.cancel()
                raise
        if self.resume_at:  # a 429 paused sending
            try:
                while (pause := self.resume_at - time.monotonic()) > 0:
                    await asyncio.sleep(pause)
            except BaseException:
                self._give_back()
                raise
        if self._ticket.epoch != self.epoch:
            self._ticket = Ticket(self.epoch)
        return self._ticket

    def _give_back(self) -> None:
        self.in_flight -= 1
        self._wake()

    def settle(
        self,
        ticket: Ticket,
        *,
        rate_limited: bool = False,
        ok: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """Give back the slot of a ticket `acquire` (or `try_acquire`) gave on this loop: a 429
        halves the limit once per epoch and pauses sending, a success grows it. No coroutine:
        one fewer per request in the framework's `Connected`."""
        self.in_flight -= 1
        if self.adaptive and rate_limited:
            pause = retry_after if retry_after is not None else self.cooldown_s
            self.resume_at = max(self.resume_at, time.monotonic() + pause)
        if self.adaptive:
            if rate_limited and ticket.epoch == self.epoch:
                self.limit = max(float(self.minimum), self.limit / 2)
                self.epoch += 1
                self.decreases += 1
            elif ok:
                self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)
        self._wake()
