from __future__ import annotations

import time
from pathlib import Path

from evalkit.cache import ResponseCache, request_key
from evalkit.types import Completion, GenerationParams, Message, Request


def req(repeat: int = 0, text: str = "hi", **params: object) -> Request:
    return Request(
        key=f"s/c/v/{repeat}",
        suite="s",
        case_id="c",
        variant="v",
        repeat=repeat,
        messages=(Message(role="user", content=text),),
        params=GenerationParams(**params),
    )  # type: ignore[arg-type]


IDENTITY = {"type": "openai", "base_url": "http://x/v1", "model": "m1"}


def test_key_covers_model_messages_params_seed_and_repeat() -> None:
    base = request_key(IDENTITY, req())
    assert base == request_key(dict(IDENTITY), req())
    assert base != request_key({**IDENTITY, "model": "m2"}, req())
    assert base != request_key({**IDENTITY, "base_url": "http://y/v1"}, req())
    assert base != request_key(IDENTITY, req(text="hello"))
    assert base != request_key(IDENTITY, req(repeat=1))
    assert base != request_key(IDENTITY, req(seed=1))
    assert base != request_key(IDENTITY, req(temperature=0.7))
    assert base != request_key(IDENTITY, req(), namespace="judge")


def test_only_good_answers_are_stored(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    assert cache.put("k1", Completion(text="fine", latency_ms=5.0), provider="p", model="m")
    assert not cache.put("k2", Completion(error="HTTP 500"), provider="p", model="m")
    assert not cache.put("k3", Completion(text="   "), provider="p", model="m")
    hit = cache.get("k1")
    assert hit is not None and hit.text == "fine" and hit.cached is True
    assert cache.get("k2") is None and cache.get("k3") is None
    assert (cache.hits, cache.misses) == (1, 2)
    stats = cache.stats()
    assert stats["entries"] == 1 and stats["by_model"][0]["model"] == "m"


def test_ttl_and_clear(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite", ttl_s=0.2)
    cache.put("k", Completion(text="x"), provider="p", model=None)
    assert cache.get("k") is not None
    time.sleep(0.3)
    assert cache.get("k") is None  # expired
    cache.put("k2", Completion(text="y"), provider="p", model=None)
    assert cache.clear(older_than_s=60) == 0 and cache.stats()["entries"] == 2
    assert cache.clear() == 2 and cache.stats()["entries"] == 0


def test_second_connection_sees_writes(tmp_path: Path) -> None:
    a, b = ResponseCache(tmp_path / "c.sqlite"), ResponseCache(tmp_path / "c.sqlite")
    a.put("k", Completion(text="shared"), provider="p", model=None)
    got = b.get("k")
    assert got is not None and got.text == "shared"
