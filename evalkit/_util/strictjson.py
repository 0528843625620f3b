"""JSON a person wrote (case files, labels, corpus lines), read strictly: a key given twice in one
object is an error, as it is in YAML (the last one used to win silently); so are `NaN`,
`Infinity` and numbers too large for a float (`1e999`), which are not JSON and could not be
written back as JSON, and integers longer than Python converts (4,300 digits)."""

from __future__ import annotations

import json
import math
import sys
from typing import Any


class RefusedError(ValueError):
    """Valid-looking JSON that strictjson refuses (its message says why, for a person)."""


class DuplicateKeyError(RefusedError):
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


def _constant(name: str) -> Any:
    """`NaN`, `Infinity`, `-Infinity`: Python's json reads them, JSON has no such values."""
    raise RefusedError(f"'{name}' is not a finite number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # `1e999`: too large for a float, it would read as infinity
        raise RefusedError(f"'{text[:20]}{'…' if len(text) > 20 else ''}' is not a finite number")
    return value


# built once: `json.loads(text, object_pairs_hook=...)` builds a decoder (and its scanner) per
# call, which cost more than the hook itself
_HOOKS: dict[str, Any] = {
    "object_pairs_hook": _pairs,
    "parse_constant": _constant,
    "parse_float": _float,  # few floats in a person's file: a Python call each is cheap
}
_DECODER = json.JSONDecoder(**_HOOKS)


def loads(text: str | bytes) -> Any:
    """`json.loads`, refusing duplicate keys, non-finite numbers and over-long integers
    (RefusedError, a ValueError; DuplicateKeyError is one)."""
    try:
        if isinstance(text, str):
            return _DECODER.decode(text)
        return json.loads(text, **_HOOKS)  # bytes: json.loads finds their encoding
    except (json.JSONDecodeError, RefusedError):
        raise
    except ValueError:  # the only other one: int() of over sys.get_int_max_str_digits() digits
        # (no `parse_int` hook: it would cost a Python call for every integer)
        raise RefusedError(f"an integer of more than {sys.get_int_max_str_digits():,} digits") from None
