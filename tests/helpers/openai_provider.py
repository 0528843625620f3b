"""The openai provider as a run has it, against a fake server: requests, the provider behind its
connection's limiter, and its channel driven to completions."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from evalkit.providers.base import Provider
from evalkit.providers.openai_compat import OpenAICompatProvider, OpenAISettings
from evalkit.providers.service import Connected, bind_connections, exactly_once
from evalkit.types import Completion, GenerationParams, Message, Request
from tests.fake_openai import FakeOpenAI


def requests(
    n: int, content: str = "question {i}", system: str | None = None, **params: Any
) -> list[Request]:
    """n one-turn requests (`content` formatted with the index; an optional system prompt)."""
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


def make(server: FakeOpenAI, concurrency: int = 4, **settings: object) -> Connected:
    """The provider as a run has it: behind its connection's limiter (the framework's side)."""
    options: dict[str, object] = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, **settings}
    cfg = OpenAISettings(**{"base_url": server.url, "model": "m1", **options})  # type: ignore[arg-type]
    return connected(OpenAICompatProvider("api", cfg), concurrency)


def generate(provider: Provider[Any], reqs: Sequence[Request]) -> tuple[list[Completion], list[str]]:
    """The provider's channel through the framework's exactly-once delivery: completions in
    request order, and the keys in the order they were yielded."""
    seen: list[str] = []

    async def go() -> list[Completion]:
        got: dict[str, Completion] = {}
        try:
            async for request, completion in exactly_once(provider, reqs):
                seen.append(request.key)
                got[request.key] = completion
        finally:
            await provider.aclose()
        return [got[r.key] for r in reqs]

    return asyncio.run(go()), seen
