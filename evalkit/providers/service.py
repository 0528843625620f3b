"""What the framework wraps around every provider: the response cache (serve hits at once, store
good answers) and the guarantee that every request gets exactly one completion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalkit.cache import ResponseCache, request_key
from evalkit.providers.base import OnCompletion, Provider
from evalkit.types import (
    Completion,
    Request,
)

if TYPE_CHECKING:
    pass


@dataclass
class CacheMisses:
    requests: list[Request]
    keys: dict[str, str]
    cache: ResponseCache | None
    provider: Provider
    namespace: str

    def store(self, provider_name: str, deliver: OnCompletion) -> OnCompletion:
        def on_completion(request: Request, completion: Completion) -> None:
            key = self.keys.get(request.key)
            if key is not None and self.cache is not None:
                self.cache.put(
                    key,
                    completion,
                    provider=provider_name,
                    model=self.provider.model_name(request),
                    namespace=self.namespace,
                )
            deliver(request, completion)

        return on_completion

    async def generate(self, provider_name: str, deliver: OnCompletion) -> None:
        """Generate the misses. Every request is delivered exactly once, even when a provider
        (a plugin, say) returns completions without passing them all to its callback."""
        store = self.store(provider_name, deliver)
        delivered: set[str] = set()

        def once(request: Request, completion: Completion) -> None:
            if request.key not in delivered:
                delivered.add(request.key)
                store(request, completion)

        returned = await self.provider.generate(self.requests, once)
        by_key = dict(zip((r.key for r in self.requests), returned, strict=False))
        for request in self.requests:
            if request.key not in delivered:
                missing = Completion(
                    error=f"provider '{provider_name}' returned no completion for this request"
                )
                once(request, by_key.get(request.key, missing))


def lookup_cache(
    provider: Provider,
    requests: Sequence[Request],
    cache: ResponseCache | None,
    deliver: OnCompletion,
    namespace: str = "generate",
) -> CacheMisses:
    """Deliver cached answers at once; return the misses (with a callback that stores answers)."""
    keys: dict[str, str] = {}
    misses: list[Request] = []
    for request in requests:
        identity = provider.cache_identity(request) if cache is not None else None
        if identity is None or cache is None:
            misses.append(request)
            continue
        key = request_key(identity, request, namespace)
        hit = cache.get(key)
        if hit is not None:
            deliver(request, hit)
        else:
            keys[request.key] = key
            misses.append(request)
    return CacheMisses(misses, keys, cache, provider, namespace)
