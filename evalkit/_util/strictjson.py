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


def loads(text: str | bytes) -> Any:
    """`json.loads`, refusing duplicate keys (DuplicateKeyError, a ValueError)."""
    if isinstance(text, str) and "\\" not in text:
        data = json.loads(text)
        try:
            if _keys_once(data, text):
                return data  # no key is even written twice: no object can hold one twice
        except RecursionError:
            pass  # deep, but JSON: the object hook checks it
    return json.loads(text, object_pairs_hook=_pairs)


def _keys_once(data: Any, text: str) -> bool:
    """Whether every key of every object in `data` is written once in `text` (no escapes in it,
    so a key's text is the key between quotes): then no object has a duplicate key."""
    if isinstance(data, dict) and text.count("{") == 1 and "[" not in text:  # one flat object
        return all(text.count(f'"{key}"') == 1 for key in data)
    if isinstance(data, dict):
        for key, value in data.items():
            if text.count('"' + key + '"') != 1:
                return False
            if isinstance(value, dict | list) and not _keys_once(value, text):
                return False
        return True
    if isinstance(data, list):
        return all(_keys_once(v, text) for v in data if isinstance(v, dict | list))
    return True
