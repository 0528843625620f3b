"""JSON a person wrote (case files, labels, corpus lines), read strictly: a key given twice in one
object is an error, as it is in YAML (the last one used to win silently)."""

from __future__ import annotations

import json
from typing import Any


class DuplicateKeyError(ValueError):
    def __init__(self, key: str):
        super().__init__(f"duplicate key '{key}'")
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # in C; only an object with a key given twice is looked at in Python
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return out


# built once: `json.loads(text, object_pairs_hook=...)` builds a decoder (and its scanner) per
# call, which cost more than the hook itself
_DECODER = json.JSONDecoder(object_pairs_hook=_pairs)


def loads(text: str | bytes) -> Any:
    """`json.loads`, refusing duplicate keys (DuplicateKeyError, a ValueError)."""
    if isinstance(text, str):
        return _DECODER.decode(text)
    return json.loads(text, object_pairs_hook=_pairs)  # bytes: json.loads finds their encoding
