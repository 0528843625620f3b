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

from evalkit import secrets
from evalkit.paths import cache_dir
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
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cacheable(completion: Completion) -> bool:
    """Good answers only: text, or tool calls (an answer that only calls tools has no text)."""
    answered = bool(completion.text and completion.text.strip()) or bool(completion.tool_calls)
    return completion.error is None and answered


class ResponseCache:
    def __init__(self, path: Path | None = None, ttl_s: float | None = None):
        self.path = path or default_path()
        self.ttl_s = ttl_s
        self.hits = 0
        self.misses = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)

    def get(self, key: str) -> Completion | None:
        query = "SELECT created, completion FROM responses WHERE key = ?"
        row = self._db.execute(query, (key,)).fetchone()
        if row is None or (self.ttl_s is not None and time.time() - row[0] > self.ttl_s):
            self.misses += 1
            return None
        self.hits += 1
        completion = Completion.model_validate_json(row[1])
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
        stored = completion.model_copy(update={"cached": False, "attempts": 1})
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, namespace, provider, model, created, completion) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, namespace, provider, model, time.time(), secrets.scrub(stored.model_dump_json())),
        )
        return True

    def stats(self) -> dict[str, Any]:
        total, oldest, newest = self._db.execute(
            "SELECT COUNT(*), MIN(created), MAX(created) FROM responses"
        ).fetchone()
        by_model = self._db.execute(
            "SELECT namespace, provider, model, COUNT(*) FROM responses "
            "GROUP BY namespace, provider, model ORDER BY 4 DESC"
        ).fetchall()
        files = self.path.parent.glob(self.path.name + "*")
        size = sum(p.stat().st_size for p in files if p.exists())
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
        if older_than_s is None:
            cursor = self._db.execute("DELETE FROM responses")
        else:
            cutoff = time.time() - older_than_s
            cursor = self._db.execute("DELETE FROM responses WHERE created < ?", (cutoff,))
        self._db.execute("VACUUM")
        return cursor.rowcount

    def close(self) -> None:
        self._db.close()
