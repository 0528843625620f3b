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


class Opaque:
    """A value JSON cannot store."""


def opaque() -> Opaque:
    return Opaque()


def quit_run(code: int) -> str:
    raise SystemExit(code)


async def interrupt() -> str:
    raise KeyboardInterrupt


def unruly(
    messages: list[dict[str, object]], params: dict[str, object], options: dict[str, object]
) -> object:
    """A `python` provider whose answer depends on the question: a trace with a value JSON cannot
    store, a set (stored as a list), `sys.exit(4)`, `SystemExit(0)`, a KeyboardInterrupt."""
    q = str(messages[-1]["content"])
    step = {"id": "1", "type": "tool", "name": "t", "input": {}}
    if q == "object":
        return {"output": "x", "steps": [{**step, "output": Opaque()}]}
    if q == "set":
        return {"output": "x", "steps": [{**step, "output": {7}}]}
    if q.startswith("exit"):
        raise SystemExit(int(q.removeprefix("exit")))
    if q == "interrupt":
        raise KeyboardInterrupt
    return q


def huge(megabytes: int) -> str:
    return "x" * (megabytes * 1_000_000)
