"""strictjson: a key given twice in one object is refused wherever it is (nested, written with
an escape, in a list), from text and from bytes; the same key in two different objects is not a
duplicate, and a malformed text is the error `json.loads` gives."""

from __future__ import annotations

import json

import pytest

from evalkit._util import strictjson


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"a": 1, "a": 2}', "a"),
        ('{"a": 1, "b": {"c": 1, "c": 2}}', "c"),
        ('{"a\\u0062": 1, "ab": 2}', "ab"),  # one of them written with an escape
        ('[{"x": 1}, {"y": {"x": 1, "x": 3}}]', "x"),
        ('{"suite": "s", "verdict": "pass", "verdict": "fail"}', "verdict"),
    ],
)
def test_a_duplicate_key_is_refused(text: str, key: str) -> None:
    for given in (text, text.encode()):
        with pytest.raises(strictjson.DuplicateKeyError) as err:
            strictjson.loads(given)
        assert err.value.key == key


@pytest.mark.parametrize("text", ['{"a": 1,}', '{"a": 1} x', "", '{"a": NaNx}'])
def test_malformed_json_is_the_error_json_gives(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as err:
        strictjson.loads(text)
    assert (err.value.msg, err.value.pos) == (expected.value.msg, expected.value.pos)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": {"x": 1}, "b": {"x": 2}}',  # one key in two objects
        '{"note": "suite", "suite": "s"}',  # a value that reads like a key
        '{"note": "say \\"hi\\"", "n": [1, {"a": 2}]}',
        '{"deep": ' + "[" * 500 + "]" * 500 + "}",
        b'{"suite": "s", "case": "c"}',
    ],
)
def test_what_json_reads_strictjson_reads_the_same(text: str | bytes) -> None:
    assert strictjson.loads(text) == json.loads(text)
