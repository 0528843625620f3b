"""jsontext.Encoder gives exactly json.dumps's text, with every option it is built with, and
refuses what json.dumps refuses (a value inside itself, a type it cannot encode) the same way,
even after a failure midway."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from evalkit._util.jsontext import Encoder

VALUES: list[Any] = [
    {"b": 1, "a": [1.5, 1e-7, 1e22, -0.0, float("nan"), float("inf"), 2**70, True, None]},
    {"é": 'ünï \u2028 \x00 \ud800 "q" \\', "nested": {"z": {"y": [], "x": {}}}},
    ["c1", {"q": "question"}, ["r"], []],
    "just a string é",
    12,
    None,
    [{"when": datetime.date(2024, 1, 2)}],
]


@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("ensure_ascii", [False, True])
@pytest.mark.parametrize("value", VALUES)
def test_the_text_is_json_dumps_text(sort_keys: bool, ensure_ascii: bool, value: Any) -> None:
    encoder = Encoder(sort_keys=sort_keys, ensure_ascii=ensure_ascii, default=str)
    expected = json.dumps(value, sort_keys=sort_keys, ensure_ascii=ensure_ascii, default=str)
    assert encoder.encode(value) == expected
    assert encoder.encode(value) == expected  # and again: nothing of the first call is left
    assert encoder._c is not None  # CPython: the C encoder, built once


def test_what_json_dumps_refuses_is_refused_and_the_encoder_goes_on() -> None:
    encoder = Encoder(sort_keys=True)
    looped: list[Any] = [1]
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        encoder.encode({"a": looped})
    shared = [1, 2]
    with pytest.raises(TypeError, match="not JSON serializable"):
        encoder.encode({"a": shared, "b": [shared, object()]})
    assert encoder.encode({"a": shared, "b": [shared]}) == json.dumps({"a": shared, "b": [shared]})
