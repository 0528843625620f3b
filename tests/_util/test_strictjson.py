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


@pytest.mark.parametrize("text", ['{"a": 1,}', '{"a": 1} x', "", '{"a": nan}'])
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


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"a": NaN}', "'NaN' is not a finite number"),
        ("[1, Infinity]", "'Infinity' is not a finite number"),
        ('{"a": {"b": -Infinity}}', "'-Infinity' is not a finite number"),
        ("[1e999]", "'1e999' is not a finite number"),  # too large for a float: read as infinity
        ('{"a": -1.5E+400}', "'-1.5E+400' is not a finite number"),
        ('{"a": ' + "9" * 5000 + "}", "an integer of more than 4,300 digits"),
        ('{"a": -' + "1" * 4301 + "}", "an integer of more than 4,300 digits"),
    ],
)
def test_what_is_not_json_or_not_a_number_python_holds_is_refused(text: str, says: str) -> None:
    """Python's json reads NaN and Infinity (no JSON has them, and they were written back as
    such); an integer over 4,300 digits was a bare ValueError from int()."""
    for given in (text, text.encode()):
        with pytest.raises(strictjson.RefusedError) as err:
            strictjson.loads(given)
        assert str(err.value) == says


def test_numbers_json_has_are_read_as_json_reads_them() -> None:
    text = "[0, -0.0, 1e308, -2.5e-300, 1E2, " + "7" * 4300 + "]"
    assert strictjson.loads(text) == json.loads(text)
