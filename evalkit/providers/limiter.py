"""Adaptive concurrency (AIMD): back off on rate limits, recover while requests succeed.

The in-flight limit starts at the configured maximum. A 429 halves it, once per "epoch":
rejections of requests that were sent before the last decrease say nothing new and are
ignored, so one burst of 429s halves the limit once rather than collapsing it to 1. Each
success adds 1/limit, so the limit grows by about one per round of `limit` completions.

A 429 also pauses new requests for a moment (the server's Retry-After, else `cooldown_s`):
requests already queued would otherwise fire straight into an empty token bucket.
"""

from __future__ import annotations

import asyncio
import time
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
        self._cond: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:  # a later asyncio.run gets a fresh one
            self._cond, self._loop, self.in_flight = asyncio.Condition(), loop, 0
        return self._cond

    async def acquire(self) -> Ticket:
        cond = self._condition()
        while True:
            pause = self.resume_at - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            async with cond:
                await cond.wait_for(lambda: self.in_flight < max(self.minimum, int(self.limit)))
                if self.resume_at <= time.monotonic():
                    self.in_flight += 1
                    return Ticket(self.epoch)

    async def release(
        self,
        ticket: Ticket,
        *,
        rate_limited: bool = False,
        ok: bool = False,
        retry_after: float | None = None,
    ) -> None:
        cond = self._condition()
        async with cond:
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
            cond.notify_all()
