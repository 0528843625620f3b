from __future__ import annotations

import time
from pathlib import Path

from evalkit.providers.cache import ResponseCache, request_key
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


def _fill(path: Path, n: int) -> list[str]:
    cache = ResponseCache(path)
    keys = [request_key(IDENTITY, req(text=f"q{i}")) for i in range(n)]
    for k in keys:
        cache.put(k, Completion(text="answer " * 50), provider="p", model="m1")
    cache.close()
    return keys


def test_corrupt_pages_found_mid_run_are_a_miss_and_moved_aside(tmp_path: Path) -> None:
    from evalkit.providers.cache import take_notices

    path = tmp_path / "c.sqlite"
    keys = _fill(path, 300)
    data = bytearray(path.read_bytes())
    data[8192:] = b"\xff" * (len(data) - 8192)  # every page after the second is garbage
    path.write_bytes(bytes(data))
    take_notices()
    cache = ResponseCache(path)
    results = [cache.get(k) for k in keys]  # must not raise
    assert cache.put(keys[0], Completion(text="x"), provider="p", model="m1") in (True, False)
    cache.close()
    notes = take_notices()
    assert len(notes) == 1 and "corrupt" in notes[0] and "moved aside" in notes[0], (notes, results[:2])
    assert list(tmp_path.glob("c.sqlite.corrupt-*"))


def test_cli_survives_a_corrupt_cache(workdir: Path, fake_server, cli) -> None:
    import os

    from tests.conftest import qa_suite_yaml, two_variant_config, write

    cache_file = Path(os.environ["EVALKIT_CACHE_DIR"]) / "responses.sqlite"

    def corrupt() -> None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_bytes(b"this is not an sqlite database " * 200)

    corrupt()
    stats = cli("cache", "stats")
    flat = " ".join(stats.output.split())  # a long temporary path wraps the line
    assert stats.exit_code == 0 and "corrupt" in flat and "0 entries" in flat, stats.output
    corrupt()
    cleared = cli("cache", "clear")
    assert cleared.exit_code == 0 and "corrupt" in cleared.output, cleared.output
    corrupt()
    write(workdir / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url))
    first = cli("run", "suites/qa.yaml", "--out", "a", "--no-baseline")
    assert first.exit_code == 0, first.output
    assert "corrupt" in first.output and "moved aside" in first.output
    assert len(list(cache_file.parent.glob("responses.sqlite.corrupt-*"))) >= 1
    asked = len(fake_server.requests)
    second = cli("run", "suites/qa.yaml", "--out", "b", "--no-baseline")
    assert second.exit_code == 0 and len(fake_server.requests) == asked  # the new cache works


def test_entries_carry_a_schema_version_and_older_ones_are_migrated(tmp_path: Path) -> None:
    import json
    import sqlite3

    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    assert cache.put("new", Completion(text="fresh", latency_ms=5.0), provider="p", model="m")
    cache.close()
    db = sqlite3.connect(path)
    stored = json.loads(db.execute("SELECT completion FROM responses WHERE key = 'new'").fetchone()[0])
    assert stored["schema_version"] == 2 and stored["completion"]["text"] == "fresh"
    # what evalkit wrote before entries had versions: a bare completion
    old = Completion(text="from an older evalkit", latency_ms=3.0).model_dump_json()
    future = json.dumps({"schema_version": 99, "completion": {"text": "from the future"}})
    for key, body in (("old", old), ("future", future)):
        db.execute(
            "INSERT INTO responses (key, namespace, provider, model, created, completion) VALUES (?, ?, ?, ?, ?, ?)",
            (key, "generate", "p", "m", time.time(), body),
        )
    db.commit()
    db.close()
    cache = ResponseCache(path)
    hit = cache.get("old")
    assert hit is not None and hit.text == "from an older evalkit" and hit.cached
    assert cache.get("future") is None  # a newer evalkit's entry is a miss, never a crash
    cache.close()


def test_opening_waits_out_a_database_locked_answer(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two runs starting together on one cache: CI saw sqlite answer "database is locked" at open
    (switching to WAL does not use the busy handler). Opening now waits and tries again."""
    import sqlite3

    real = ResponseCache._connect
    answers = iter([sqlite3.OperationalError("database is locked")] * 2)

    def flaky(self: ResponseCache) -> sqlite3.Connection:
        error = next(answers, None)
        if error is not None:
            raise error
        return real(self)

    monkeypatch.setattr(ResponseCache, "_connect", flaky)
    cache = ResponseCache(tmp_path / "c.sqlite")
    assert cache.put("k", Completion(text="ok", latency_ms=1.0), provider="p", model="m")
    cache.close()
