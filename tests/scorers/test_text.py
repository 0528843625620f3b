from __future__ import annotations

import pytest

from evalkit.errors import UserInputError
from evalkit.scorers.base import build_scorer
from evalkit.scorers.text import contains, exact, json_schema, json_valid, regex
from evalkit.spec.suite import ScorerSpec
from evalkit.types import ScoreInput


def item(output: str, *refs: str, **vars: object) -> ScoreInput:
    return ScoreInput(output=output, references=refs, vars=dict(vars), case_id="c")


def one(scorer, it):
    return scorer.score([it])[0][0]


def test_exact_with_normalisation() -> None:
    assert one(exact(), item("  Paris \n", "Paris")).passed is True
    assert one(exact(), item("paris", "Paris")).passed is False
    assert one(exact(ignore_case=True), item("paris", "Paris")).passed is True
    assert one(exact(strip_punctuation=True), item("Paris.", "Paris")).passed is True
    assert one(exact(collapse_whitespace=False), item("New  York", "New York")).passed is False
    s = one(exact(), item("Rome", "Paris", "Rome"))
    assert (s.value, s.passed) == (1.0, True)
    s = one(exact(), item("Lyon", "Paris"))
    assert (s.value, s.passed) == (0.0, False) and s.reason


def test_contains_reference_text_and_var() -> None:
    assert one(contains(), item("It is Paris, I think", "paris")).passed is True
    assert one(contains(ignore_case=False), item("It is Paris", "paris")).passed is False
    assert one(contains(text=["a", "z"], mode="all"), item("abc")).passed is False
    assert one(contains(text=["a", "z"]), item("abc")).passed is True
    assert one(contains(var="answer"), item("The answer is 42.", answer=42)).passed is True
    assert build_scorer(ScorerSpec(type="contains", var="answer"), "here").info.needs_reference is False
    assert build_scorer(ScorerSpec(type="contains"), "here").info.needs_reference is True
    with pytest.raises(KeyError):
        one(contains(var="answer"), item("x"))
    with pytest.raises(ValueError):
        contains(text="a", var="b")


def test_regex_search_fullmatch_negate_flags() -> None:
    assert one(regex(pattern=r"\d+"), item("I have 3 cats")).passed is True
    assert one(regex(pattern=r"\d+", fullmatch=True), item("I have 3 cats")).passed is False
    assert one(regex(pattern=r"\d+", fullmatch=True), item(" 42 ")).passed is True
    assert one(regex(pattern="hello", flags="i"), item("HELLO")).passed is True
    assert one(regex(pattern="password", negate=True), item("my password is")).passed is False
    with pytest.raises(ValueError, match="invalid regular expression"):
        regex(pattern="(")
    with pytest.raises(ValueError, match="unknown regex flag"):
        regex(pattern="a", flags="q")


def test_json_valid_and_extract() -> None:
    assert one(json_valid(), item('{"a": 1}')).passed is True
    assert one(json_valid(), item('Sure! ```json\n{"a": 1}\n```')).passed is False
    assert one(json_valid(extract=True), item('Sure! ```json\n{"a": 1}\n```')).passed is True
    assert one(json_valid(extract=True), item('Here: {"a": [1, 2]} done')).passed is True
    s = one(json_valid(), item("not json"))
    assert s.passed is False and s.value == 0.0 and "not JSON" in (s.reason or "")


def test_json_schema() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    scorer = json_schema(schema=schema)
    assert one(scorer, item('{"age": 3}')).passed is True
    bad = one(scorer, item('{"age": "three"}'))
    assert bad.passed is False and "age" in (bad.reason or "") and "integer" in (bad.reason or "")
    assert one(scorer, item("{}")).reason == "(root): 'age' is a required property"
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        json_schema(schema={"type": "nonsense"})


def test_build_scorer_rename_threshold_and_option_errors() -> None:
    renamed = build_scorer(ScorerSpec(type="regex", name="has_digit", pattern=r"\d"), "here")
    assert renamed.names == ("has_digit",)
    assert renamed.score([item("a1")])[0][0].name == "has_digit"
    thresholded = build_scorer(ScorerSpec(type="rouge", types=["rougeL"], threshold=0.5), "here")
    rows = thresholded.score([item("the cat sat", "the cat sat"), item("dog", "the cat sat")])
    assert [r[0].passed for r in rows] == [True, False]
    with pytest.raises(UserInputError, match=r"has no option 'patern'.*did you mean 'pattern'"):
        build_scorer(ScorerSpec(type="regex", patern="x"), "here")
    with pytest.raises(UserInputError, match="option ignore_case"):
        build_scorer(ScorerSpec(type="exact", ignore_case="perhaps"), "here")
    with pytest.raises(UserInputError, match="several scores"):
        build_scorer(ScorerSpec(type="rouge", name="r"), "here")
