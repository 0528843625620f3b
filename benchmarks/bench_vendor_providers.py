"""evalkit's CPU per request for each native provider against a zero-latency fake of its API,
side by side with the `openai` provider (chat completions, and `api: responses`), in one run; and admission stays O(1): the time per
request at N small vs N large.

Each fake runs in its own process (it does not share our GIL), so this process's CPU time is
evalkit's: the framework (limiter, retries, exactly-once delivery) plus the provider and its SDK.
Usage: python benchmarks/bench_vendor_providers.py [SMALL] [LARGE] [PROVIDERS]
(default 1000 20000, every provider; PROVIDERS: a comma-separated few, openai always among them)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from benchmarks._common import ROOT, fake_server
from evalkit.providers.anthropic_messages import AnthropicProvider, AnthropicSettings
from evalkit.providers.bedrock import BedrockProvider, BedrockSettings
from evalkit.providers.gemini import GeminiProvider, GeminiSettings
from evalkit.providers.openai_compat import OpenAICompatProvider, OpenAISettings
from evalkit.providers.service import bind_connections, exactly_once
from evalkit.types import GenerationParams, Message, Request

CONCURRENCY = 16
KEY = "bench-key-0123456789abcdef"
SERVE = """
import sys, time
sys.path.insert(0, {root!r})
from tests.fake_{kind} import Fake{cls}
with Fake{cls}() as fake:
    print(fake.url, flush=True)
    while True:
        time.sleep(3600)
"""


@contextlib.contextmanager
def vendor_fake(kind: str, cls: str) -> Iterator[str]:
    code = SERVE.format(root=str(ROOT), kind=kind, cls=cls)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def batch(n: int) -> list[Request]:
    return [
        Request(
            key=f"s/c{i}/v/0",
            suite="s",
            case_id=f"c{i}",
            variant="v",
            repeat=0,
            messages=(Message(role="user", content=f"What is {i} plus {i}?"),),
            params=GenerationParams(max_tokens=32),
        )
        for i in range(n)
    ]


def measure(provider: Any, n: int) -> tuple[float, float]:
    """(CPU ms per request, wall ms per request) for n requests through the framework."""
    wrapped = bind_connections({provider.name: provider}, {provider.name: CONCURRENCY})[provider.name]
    wrapped.check()
    requests = batch(n)

    async def go() -> int:
        await wrapped.start()
        done = 0
        try:
            async for _, completion in exactly_once(wrapped, requests):
                done += completion.error is None
        finally:
            await wrapped.aclose()
        return done

    cpu, wall = time.process_time(), time.perf_counter()
    ok = asyncio.run(go())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert ok == n, f"{provider.name}: {n - ok} errors"
    return cpu * 1000 / n, wall * 1000 / n


def main() -> None:
    small = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    large = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    only = set(sys.argv[3].split(",")) | {"openai"} if len(sys.argv) > 3 else None
    os.environ.update({"ANTHROPIC_API_KEY": KEY, "GEMINI_API_KEY": KEY, "BENCH_OPENAI_KEY": KEY})
    os.environ.update(  # static AWS credentials (botocore signs every request), no instance metadata
        {
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    with (
        fake_server(0.0) as openai_url,
        vendor_fake("anthropic", "Anthropic") as anthropic_url,
        vendor_fake("gemini", "Gemini") as gemini_url,
        vendor_fake("bedrock", "Bedrock") as bedrock_url,
    ):
        makers = {
            "openai": lambda: OpenAICompatProvider(
                "openai", OpenAISettings(base_url=openai_url, model="m", api_key_env="BENCH_OPENAI_KEY")
            ),
            "responses": lambda: OpenAICompatProvider(
                "responses",
                OpenAISettings(
                    base_url=openai_url, model="m", api_key_env="BENCH_OPENAI_KEY", api="responses"
                ),
            ),
            "anthropic": lambda: AnthropicProvider(
                "anthropic", AnthropicSettings(base_url=anthropic_url, model="claude-sonnet-5-5")
            ),
            "gemini": lambda: GeminiProvider(
                "gemini", GeminiSettings(base_url=gemini_url, model="gemini-2.5-flash")
            ),
            "bedrock": lambda: BedrockProvider(
                "bedrock",
                BedrockSettings(endpoint_url=bedrock_url, region="us-east-1", model="amazon.nova-pro-v1:0"),
            ),
        }
        makers = {name: make for name, make in makers.items() if only is None or name in only}
        for make in makers.values():  # warm up: imports, connections
            measure(make(), 50)
        print(f"{'provider':<10} {'N':>7} {'CPU ms/req':>11} {'wall ms/req':>12}")
        figures: dict[str, dict[int, float]] = {}
        for name, make in makers.items():
            for n in (small, large):
                cpu, wall = measure(make(), n)
                figures.setdefault(name, {})[n] = cpu
                print(f"{name:<10} {n:>7,} {cpu:>11.3f} {wall:>12.3f}")
        print()
        for name, by_n in figures.items():
            ratio = by_n[small] / figures["openai"][small]
            print(
                f"{name:<10} CPU per request x{ratio:.1f} the openai provider's; N {large:,} / N {small:,}: "
                f"x{by_n[large] / by_n[small]:.2f} per request"
            )


if __name__ == "__main__":
    main()
