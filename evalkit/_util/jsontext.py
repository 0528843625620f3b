"""JSON text of one value at a time, many times over: `json.dumps` with the C encoder it uses
built once, not per call.

`json.JSONEncoder.encode` builds the standard library's C encoder afresh for every value (a
quarter of the time of encoding a case row). `Encoder` builds it once, with the options
`json.dumps` takes here, and gives the very text `json.dumps` gives (a test compares them);
where the C encoder is missing or takes other arguments, it is `JSONEncoder.encode` itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _stdlib
from typing import Any


class Encoder:
    """`encode(value)` is `json.dumps(value, sort_keys=..., ensure_ascii=..., default=...)`."""

    def __init__(
        self,
        *,
        sort_keys: bool = False,
        ensure_ascii: bool = True,
        default: Callable[[Any], Any] | None = None,
    ):
        self._python = json.JSONEncoder(sort_keys=sort_keys, ensure_ascii=ensure_ascii, default=default)
        self._markers: dict[int, Any] = {}  # what is being encoded: a value inside itself is refused
        self._c: Callable[[Any, int], Any] | None = None
        make = getattr(_stdlib, "c_make_encoder", None)
        py = self._python
        strings = _stdlib.encode_basestring_ascii if ensure_ascii else _stdlib.encode_basestring
        if make is not None:  # the arguments JSONEncoder.iterencode gives it
            try:
                self._c = make(
                    self._markers,
                    py.default,
                    strings,
                    py.indent,
                    py.key_separator,
                    py.item_separator,
                    py.sort_keys,
                    py.skipkeys,
                    py.allow_nan,
                )
            except TypeError:  # another Python's C encoder: the plain path
                self._c = None

    def encode(self, value: Any) -> str:
        if self._c is None or isinstance(value, str):
            return self._python.encode(value)
        try:
            return "".join(self._c(value, 0))
        except BaseException:
            self._markers.clear()  # a value that failed midway leaves its containers marked
            raise
