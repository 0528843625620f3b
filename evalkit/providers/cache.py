"""On-disk response cache (sqlite, WAL): safe for several evalkit processes at once.

The key is a digest of everything that determines an answer: the provider's identity
(type, base URL without secrets, resolved model or weights digest), the rendered messages,
the sampling params (seed included) and the repeat index, so repeats stay real samples.
Only good answers are stored: errors and empty outputs never are.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from evalkit._util import secrets
from evalkit._util.paths import cache_dir
from evalkit._util.textsafe import model_json
from evalkit.rundir.migrations import CURRENT, NewerSchemaError, migrate
from evalkit.types import Completion, Request

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT,
    created REAL NOT NULL,
    completion TEXT NOT NULL
)
"""


def default_path() -> Path:
    return cache_dir() / "responses.sqlite"


def request_key(identity: dict[str, Any], request: Request, namespace: str = "generate") -> str:
    payload = {
        "namespace": namespace,
        "identity": identity,
        "messages": [m.model_dump(exclude_none=True) for m in request.messages],
        "params": request.params.model_dump(mode="json", exclude_none=True),
        "repeat": request.repeat,
    }
    if request.loglikelihood is not None:  # keyed only when set: other entries keep their keys
        payload["loglikelihood"] = request.loglikelihood.model_dump(mode="json")
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cacheable(completion: Completion) -> bool:
    """Good answers only: text, or tool calls (an answer that only calls tools has no text)."""
    answered = (
        bool(completion.text and completion.text.strip())
        or bool(completion.tool_calls)
        or bool(completion.choice_logprobs)
    )
    return completion.error is None and answered


_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_notices: list[str] = []


def take_notices() -> list[str]:
    """What happened to the cache that a person should hear about (the CLI shows it)."""
    out = list(_notices)
    _notices.clear()
    return out


def is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


class ResponseCache:
    """A corrupt cache file never stops a run: it is moved aside (`*.corrupt-<time>`), said
    so (`take_notices`), and the run goes on with an empty cache, or none at all."""

    def __init__(self, path: Path | None = None, ttl_s: float | None = None):
        self.path = path or default_path()
        self.ttl_s = ttl_s
        self.hits = 0
        self.misses = 0
        self.disabled = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._connect_when_free()
        except sqlite3.DatabaseError as exc:
            if not is_corrupt(exc):
                raise
            self._move_aside(exc)
            self._db = self._connect_when_free()

    def _connect_when_free(self, wait_s: float = 30.0) -> sqlite3.Connection:
        """Connect, waiting out another process that is creating the file or switching it to WAL:
        sqlite answers "database is locked" at once there, without its busy handler."""
        deadline = time.monotonic() + wait_s
        delay = 0.01
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=60000")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(SCHEMA)
            db.execute("SELECT COUNT(*) FROM responses WHERE key = ''").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, exc: sqlite3.DatabaseError) -> None:
        """Rename the corrupt file (and its WAL) out of the way; say where it went."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = self.path.with_name(self.path.name + suffix)
            if src.exists():
                src.replace(target.with_name(target.name + suffix))
        _notices.append(
            f"the response cache {self.path} is corrupt ({exc}): moved aside to {target.name}; "
            "this run goes on without the old entries"
        )

    def _broken(self, exc: sqlite3.DatabaseError) -> None:
        """Corruption found mid-run: stop using the cache and move the file aside."""
        if not is_corrupt(exc):
            raise exc
        self.disabled = True
        self._db.close()
        self._move_aside(exc)

    def get(self, key: str) -> Completion | None:
        if self.disabled:
            self.misses += 1
            return None
        query = "SELECT created, completion FROM responses WHERE key = ?"
        try:
            row = self._db.execute(query, (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            self._broken(exc)
            row = None
        if row is None or (self.ttl_s is not None and time.time() - row[0] > self.ttl_s):
            self.misses += 1
            return None
        try:
            entry = migrate("cache_entry", json.loads(row[1]))
            completion = Completion.model_validate(entry["completion"])
        except (ValueError, KeyError, TypeError, NewerSchemaError):  # garbled or newer: a miss, not a crash
            self.misses += 1
            return None
        self.hits += 1
        completion.cached = True
        return completion

    def put(
        self,
        key: str,
        completion: Completion,
        *,
        provider: str,
        model: str | None,
        namespace: str = "generate",
    ) -> bool:
        if not cacheable(completion):
            return False
        if self.disabled:
            return False
        stored = completion.model_copy(update={"cached": False, "attempts": 1})
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, namespace, provider, model, created, completion) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, namespace, provider, model, time.time(), _entry_json(stored)),
            )
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == 13:  # SQLITE_FULL: the disk is full
                self.disabled = True
                _notices.append(f"the disk holding the response cache {self.path} is full: caching stopped")
                return False
            self._broken(exc)
            return False
        return True

    def stats(self) -> dict[str, Any]:
        try:
            return self._stats()
        except sqlite3.DatabaseError as exc:
            self._broken(exc)
            self._db, self.disabled = self._connect(), False
            return self._stats()

    def _stats(self) -> dict[str, Any]:
        total, oldest, newest = self._db.execute(
            "SELECT COUNT(*), MIN(created), MAX(created) FROM responses"
        ).fetchone()
        by_model = self._db.execute(
            "SELECT namespace, provider, model, COUNT(*) FROM responses "
            "GROUP BY namespace, provider, model ORDER BY 4 DESC"
        ).fetchall()
        names = {self.path.name + suffix for suffix in ("", "-wal", "-shm")}
        size = sum(p.stat().st_size for p in self.path.parent.iterdir() if p.name in names)
        return {
            "path": str(self.path),
            "entries": total,
            "bytes": size,
            "oldest": oldest,
            "newest": newest,
            "by_model": [
                {"namespace": n, "provider": p, "model": m, "entries": c} for n, p, m, c in by_model
            ],
        }

    def clear(self, older_than_s: float | None = None) -> int:
        try:
            if older_than_s is None:
                cursor = self._db.execute("DELETE FROM responses")
            else:
                cutoff = time.time() - older_than_s
                cursor = self._db.execute("DELETE FROM responses WHERE created < ?", (cutoff,))
            self._db.execute("VACUUM")
        except sqlite3.DatabaseError as exc:
            self._broken(exc)  # moved aside: nothing of it is used any more
            self._db, self.disabled = self._connect(), False
            return 0
        return cursor.rowcount

    def close(self) -> None:
        self._db.close()


def _entry_json(completion: Completion) -> str:
    """A cache entry as stored: the completion with its schema version, secrets scrubbed."""
    body = secrets.scrub_json_text(model_json(completion))
    return f'{{"schema_version":{CURRENT["cache_entry"]},"completion":{body}}}'
