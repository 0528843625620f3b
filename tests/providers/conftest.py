"""Helpers of the provider tests: a provider as a run has it (behind its connection's limiter,
with the framework's retries) and its channel driven to completions."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from evalkit.providers.base import Provider
from evalkit.providers.service import Connected, bind_connections, exactly_once
from evalkit.types import Completion, GenerationParams, Message, Request
from tests.conftest import ANTHROPIC_KEY

__all__ = ["ANTHROPIC_KEY", "connected", "generate", "requests"]


def requests(
    n: int, content: str = "question {i}", system: str | None = None, **params: Any
) -> list[Request]:
    messages = (Message(role="system", content=system),) if system else ()
    return [
        Request(
            key=f"s/c{i}/v/0",
            suite="s",
            case_id=f"c{i}",
            variant="v",
            repeat=0,
            messages=(*messages, Message(role="user", content=content.format(i=i))),
            params=GenerationParams(**params),
        )
        for i in range(n)
    ]


def connected(provider: Provider[Any], concurrency: int = 4) -> Connected:
    """The provider behind its connection's limiter, checked (credentials) as a run does."""
    wrapped = bind_connections({provider.name: provider}, {provider.name: concurrency})[provider.name]
    assert isinstance(wrapped, Connected)
    wrapped.check()
    return wrapped


def generate(provider: Provider[Any], reqs: Sequence[Request]) -> list[Completion]:
    """Completions in request order, through the framework's exactly-once delivery."""

    async def go() -> list[Completion]:
        got: dict[str, Completion] = {}
        try:
            async for request, completion in exactly_once(provider, reqs):
                got[request.key] = completion
        finally:
            await provider.aclose()
        return [got[r.key] for r in reqs]

    return asyncio.run(go())
