"""Argument matching compares JSON values with JSON types (BFCL's rule), with per-argument
alternatives, optional arguments and BFCL's string normalisation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from evalkit.tools.expect import ExpectedCall, arguments_match, bfcl_normal


def match(arguments: dict[str, Any], actual: Any, **options: Any) -> str | None:
    return arguments_match(ExpectedCall(name="f", arguments=arguments, **options), actual)


@pytest.mark.parametrize("mode", ["exact", "subset"])
@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        (True, 1),
        (False, 0),
        (1, True),
        (0, False),
        (5, 5.0),
        (5, "5"),
        ("5", 5),
        (None, 0),
        ([1, 2], [1.0, 2]),
    ],
)
def test_json_types_differ(mode: str, expected: Any, actual: Any) -> None:
    """`true` is not `1` and an integer is not `5.0`: Python's `==` said they were."""
    assert match({"x": expected}, {"x": actual}, match=mode) is not None


@pytest.mark.parametrize(
    ("expected", "actual"), [(5.0, 5), (5.0, 5.0), (0.5, 0.5), (True, True), ({"a": [1]}, {"a": [1]})]
)
def test_equal_json_values_match(expected: Any, actual: Any) -> None:
    assert match({"x": expected}, {"x": actual}) is None


def test_exact_refuses_unexpected_and_missing_arguments_subset_allows_extra() -> None:
    assert match({"x": 1}, {"x": 1, "y": 2}) == "unexpected argument 'y'"
    assert match({"x": 1, "y": 2}, {"x": 1}) == "argument 'y' missing"
    assert match({"x": 1}, {"x": 1, "y": 2}, match="subset") is None


def test_any_of_and_optional() -> None:
    spec = {"unit": {"any_of": ["cm", "mm"], "optional": True}, "n": {"any_of": [1, 2]}}
    assert match(spec, {"n": 2}) is None
    assert match(spec, {"n": 1, "unit": "mm"}) is None
    assert match(spec, {"n": 3}) == "argument 'n' is 3, expected one of [1, 2]"
    assert match(spec, {"n": 1, "unit": "m"}) is not None
    assert match(spec, {"unit": "cm"}) == "argument 'n' missing"
    must_leave_out = {"n": 1, "deck": {"any_of": [], "optional": True}}
    assert match(must_leave_out, {"n": 1}) is None
    assert match(must_leave_out, {"n": 1, "deck": []}) == "argument 'deck' is [], expected it left out"


def test_nested_objects_and_lists_compare_member_by_member() -> None:
    spec = {"item": {"name": "pumpkin", "qty": {"any_of": [3, 4]}, "note": {"optional": True}}}
    assert match(spec, {"item": {"name": "pumpkin", "qty": 4}}) is None
    assert match(spec, {"item": {"name": "pumpkin", "qty": 4, "note": "x"}}) is None
    assert match(spec, {"item": {"name": "pumpkin", "qty": True}}) is not None
    assert match(spec, {"item": {"name": "pumpkin", "qty": 3, "extra": 1}}) is not None


def test_normalize_compares_strings_as_bfcl_does() -> None:
    assert bfcl_normal("New York City") == bfcl_normal("new-york_city.") == "newyorkcity"
    assert match({"city": "New York City"}, {"city": "new york city"}) is not None
    assert match({"city": "New York City"}, {"city": "new york city"}, normalize=True) is None
    assert match({"cities": ["New York", "Paris"]}, {"cities": ["NEW YORK", "paris"]}, normalize=True) is None
    exact_here = {"x": {"any_of": ["data['a']"], "normalize": False}}
    assert match(exact_here, {"x": "DATA['A']"}, normalize=True) is not None
    assert match(exact_here, {"x": "data['a']"}, normalize=True) is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"x": {"any_of": "a"}}, "any_of must be a list"),
        ({"x": {"any_of": []}}, "an empty any_of needs optional: true"),
        ({"x": {"optional": "yes"}}, "optional must be true or false"),
        ({"x": {"y": {"any_of": 3}}}, "arguments.x.y: any_of must be a list"),
    ],
)
def test_malformed_specs_are_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ExpectedCall(name="f", arguments=arguments)


def test_normalize_is_left_out_of_the_dump_when_off() -> None:
    """Suites written before it keep their content hash."""
    assert "normalize" not in ExpectedCall(name="f", arguments={"x": 1}).model_dump()
    assert ExpectedCall(name="f", normalize=True).model_dump()["normalize"] is True
