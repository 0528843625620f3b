"""The provider contract from a third party's side: a provider that only implements `complete`
and raises `RateLimited` gets the framework's concurrency limit, retries and AIMD back-off
without touching the limiter, and the framework sets nothing on the instance."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from evalkit import RateLimited, Retry
from evalkit.providers.base import Provider, RetryPolicy
from evalkit.providers.service import Connected, ProviderService, ProviderSpec, build_providers
from evalkit.types import Completion, Request
from tests.helpers.openai_provider import requests


class BucketSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    refuse_first: int = 0  # the first N calls are told to slow down
    retry_after_s: float | None = 0.2
    fail_always: bool = False  # every call times out (a Retry that never succeeds)


class Bucket(Provider[BucketSettings]):
    """A backend written the way an outside author would: no limiter, no retry loop."""

    settings_model = BucketSettings

    def __init__(self, name: str, settings: BucketSettings):
        super().__init__(name, settings)
        self.calls: list[tuple[str, float]] = []  # (request key, when it was sent)
        self.in_flight = 0
        self.peak = 0

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02)

    async def complete(self, request: Request) -> Completion:
        self.calls.append((request.key, time.monotonic()))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if self.settings.fail_always:
                raise Retry("timed out after 0.01s")
            if len(self.calls) <= self.settings.refuse_first:
                raise RateLimited("HTTP 429: slow down", retry_after=self.settings.retry_after_s)
            return Completion(text="ok " + request.case_id)
        finally:
            self.in_flight -= 1


def built(limit: int, **settings: Any) -> tuple[Connected, Bucket]:
    spec = ProviderSpec(name="b", kind="bucket", cls=Bucket, settings=BucketSettings(**settings), limit=limit)
    provider = build_providers({"b": spec})["b"]
    assert isinstance(provider, Connected) and isinstance(provider.plugin, Bucket)
    return provider, provider.plugin


def run(provider: Provider[Any], batch: list[Request], status: list[str] | None = None) -> list[Completion]:
    service = ProviderService({"b": provider}, status=(status.append if status is not None else None))

    async def go() -> list[Completion]:
        return await service.complete("b", batch, "generate")

    return asyncio.run(go())


def test_a_rate_limited_third_party_provider_gets_aimd_back_off() -> None:
    provider, plugin = built(limit=8, refuse_first=8, retry_after_s=0.2)
    before = dict(vars(plugin))
    started = time.monotonic()
    out = run(provider, requests(20, "q{i}"))
    assert [c.text for c in out] == [f"ok c{i}" for i in range(20)]
    assert provider.limiter.decreases == 1  # one burst of 429s halves the limit once
    assert provider.limiter.limit < 8
    refused = {key for key, _ in plugin.calls[:8]}
    assert all(c.attempts == 2 for c, r in zip(out, requests(20, "q{i}"), strict=True) if r.key in refused)
    assert all(
        c.attempts == 1 for c, r in zip(out, requests(20, "q{i}"), strict=True) if r.key not in refused
    )
    # the retry-after paused the whole connection: nothing was sent again before it passed
    assert min(when for _, when in plugin.calls[8:]) - started >= 0.2
    assert plugin.peak <= 8
    # the framework set nothing on the plugin (no limiter, no on_status)
    assert not hasattr(plugin, "limiter")
    assert set(vars(plugin)) == set(before)


def test_the_framework_bounds_in_flight_calls_to_the_connection_limit() -> None:
    provider, plugin = built(limit=3)
    out = run(provider, requests(30, "q{i}"))
    assert all(c.ok for c in out) and len(plugin.calls) == 30
    assert plugin.peak == 3


def test_a_retry_that_never_succeeds_gives_up_with_the_reason_and_keeps_the_limit() -> None:
    provider, plugin = built(limit=4, fail_always=True)
    out = run(provider, requests(2, "q{i}"))
    assert [c.error for c in out] == ["gave up after 3 attempts: timed out after 0.01s"] * 2
    assert [c.attempts for c in out] == [3, 3]
    assert len(plugin.calls) == 6
    assert provider.limiter.decreases == 0 and provider.limiter.limit == 4  # not a rate limit


class Engine(Provider[BucketSettings]):
    settings_model = BucketSettings
    batches = True

    async def generate(self, batch: Sequence[Request]) -> AsyncIterator[tuple[Request, Completion]]:
        self.report(f"generating batch 1/1 on {self.name}")
        for request in batch:
            yield request, Completion(text="ok")


def test_a_batch_engine_reports_progress_without_being_handed_a_callback() -> None:
    spec = ProviderSpec(name="b", kind="engine", cls=Engine, settings=BucketSettings(), limit=None)
    provider = build_providers({"b": spec})["b"]
    assert isinstance(provider, Engine)  # engines that batch are not wrapped: no limit applies
    status: list[str] = []
    out = run(provider, requests(2, "q{i}"), status)
    assert [c.text for c in out] == ["ok", "ok"]
    assert "generating batch 1/1 on b" in status
    assert "on_status" not in vars(provider)
    Engine("x", BucketSettings()).report("outside a run: nobody listens")  # a no-op, no error


def test_capabilities_are_declared_on_the_base_class() -> None:
    from evalkit.providers.openai_compat import OpenAICompatProvider
    from evalkit.providers.python_callable import PythonCallableProvider
    from evalkit.providers.scripted import ReplayProvider, ScriptedProvider

    assert Provider.supports_tools is False and Provider.batches is False
    assert Provider.operational_settings == frozenset()
    assert OpenAICompatProvider.supports_tools and PythonCallableProvider.supports_tools
    assert not ScriptedProvider.supports_tools and not ReplayProvider.supports_tools
