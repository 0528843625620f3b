"""Tools for the agent-loop tests: sync, async, raising and slow."""

from __future__ import annotations

import asyncio
import time


def add(a: float, b: float) -> float:
    return a + b


async def lookup(key: str) -> dict[str, str]:
    await asyncio.sleep(0)
    return {"key": key, "value": key.upper()}


def explode(reason: str) -> str:
    raise RuntimeError(f"tool broke: {reason}")


async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


def slow_sync(seconds: float) -> str:
    time.sleep(seconds)
    return "done"
