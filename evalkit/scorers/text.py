"""Deterministic text checks: exact, contains, regex, JSON validity and JSON Schema."""

from __future__ import annotations

import json
import re
import string
from dataclasses import replace
from typing import Any, Literal

from evalkit.plugins import scorer
from evalkit.scorers.base import Scorer
from evalkit.types import Score, ScoreInput, ScorerInfo

_PUNCT = str.maketrans("", "", string.punctuation)
_SPACE = re.compile(r"\s+")


def normalize(text: str, *, ignore_case: bool, strip_punctuation: bool, collapse_whitespace: bool) -> str:
    if ignore_case:
        text = text.casefold()
    if strip_punctuation:
        text = text.translate(_PUNCT)
    if collapse_whitespace:
        text = _SPACE.sub(" ", text)
    return text.strip()


def _result(name: str, ok: bool, reason: str | None = None) -> Score:
    return Score(name=name, value=1.0 if ok else 0.0, passed=ok, reason=reason)


class _Exact(Scorer):
    def __init__(self, ignore_case: bool, strip_punctuation: bool, collapse_whitespace: bool):
        self.names = ("exact",)
        self.opts = {
            "ignore_case": ignore_case,
            "strip_punctuation": strip_punctuation,
            "collapse_whitespace": collapse_whitespace,
        }

        # its two answers, built once (a Score is frozen: every result may share them)
        self._verdicts = (
            _result("exact", False, "output differs from every reference"),
            _result("exact", True),
        )

    def score_one(self, item: ScoreInput) -> list[Score]:
        out = normalize(item.output, **self.opts)
        ok = any(out == normalize(ref, **self.opts) for ref in item.references)
        return [self._verdicts[ok]]


@scorer(
    "exact",
    kind="pass_fail",
    needs_reference=True,
    description="output equals a reference (after optional normalisation)",
)
def exact(
    ignore_case: bool = False, strip_punctuation: bool = False, collapse_whitespace: bool = True
) -> Scorer:
    return _Exact(ignore_case, strip_punctuation, collapse_whitespace)


class _Contains(Scorer):
    def __init__(self, text: str | list[str] | None, var: str | None, ignore_case: bool, mode: str):
        if text is not None and var is not None:
            raise ValueError("give 'text' or 'var', not both")
        self.names = ("contains",)
        self.texts = [text] if isinstance(text, str) else text
        self.var = var
        self.ignore_case = ignore_case
        self.mode = mode

    def refine(self, info: ScorerInfo) -> ScorerInfo:
        return replace(info, needs_reference=self.texts is None and self.var is None)

    def _needles(self, item: ScoreInput) -> list[str]:
        if self.texts is not None:
            return list(self.texts)
        if self.var is not None:
            value = item.vars.get(self.var)
            if value is None:
                raise KeyError(f"case '{item.case_id}' has no var '{self.var}'")
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
        return list(item.references)

    def score_one(self, item: ScoreInput) -> list[Score]:
        needles = self._needles(item)
        hay = item.output.casefold() if self.ignore_case else item.output
        found = [n for n in needles if (n.casefold() if self.ignore_case else n) in hay]
        ok = len(found) == len(needles) if self.mode == "all" else bool(found)
        missing = [n for n in needles if n not in found]
        reason = None if ok else f"missing: {', '.join(repr(m) for m in missing[:3])}"
        return [_result(self.names[0], ok, reason)]


@scorer(
    "contains",
    kind="pass_fail",
    description="output contains the reference, a given text, or a case var's value",
)
def contains(
    text: str | list[str] | None = None,
    var: str | None = None,
    ignore_case: bool = True,
    mode: Literal["any", "all"] = "any",
) -> Scorer:
    return _Contains(text, var, ignore_case, mode)


class _Regex(Scorer):
    def __init__(self, pattern: re.Pattern[str], fullmatch: bool, negate: bool):
        self.names = ("regex",)
        self.pattern = pattern
        self.fullmatch = fullmatch
        self.negate = negate

    def score_one(self, item: ScoreInput) -> list[Score]:
        text = item.output.strip() if self.fullmatch else item.output
        hit = (self.pattern.fullmatch(text) if self.fullmatch else self.pattern.search(text)) is not None
        ok = hit != self.negate
        reason = None
        if not ok:
            reason = (
                "matched a forbidden pattern" if self.negate else f"no match for /{self.pattern.pattern}/"
            )
        return [_result(self.names[0], ok, reason)]


@scorer("regex", kind="pass_fail", description="output matches a regular expression")
def regex(pattern: str, flags: str = "", fullmatch: bool = False, negate: bool = False) -> Scorer:
    bits = 0
    for flag in flags:
        if flag not in "imsx":
            raise ValueError(f"unknown regex flag '{flag}' (use i, m, s, x)")
        bits |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[flag]
    try:
        compiled = re.compile(pattern, bits)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return _Regex(compiled, fullmatch, negate)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_json_output(text: str, extract: bool) -> Any:
    """Parse the output as JSON; with `extract`, also from a ``` fence or the first {...}/[...]."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if not extract:
            raise
    fence = _FENCE.search(text)
    if fence:
        return json.loads(fence.group(1))
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise json.JSONDecodeError("no JSON value found", text, 0)
    value, _ = json.JSONDecoder().raw_decode(text[min(starts) :])
    return value


class _JsonValid(Scorer):
    def __init__(self, extract: bool):
        self.names = ("json_valid",)
        self.extract = extract

    def score_one(self, item: ScoreInput) -> list[Score]:
        try:
            parse_json_output(item.output, self.extract)
        except (json.JSONDecodeError, ValueError) as exc:
            return [_result(self.names[0], False, f"not JSON: {exc}")]
        return [_result(self.names[0], True)]


@scorer("json_valid", kind="pass_fail", description="output parses as JSON")
def json_valid(extract: bool = False) -> Scorer:
    return _JsonValid(extract)


class _JsonSchema(Scorer):
    def __init__(self, schema: dict[str, Any], extract: bool):
        import jsonschema

        self.names = ("json_schema",)
        self.extract = extract
        validator_cls = jsonschema.validators.validator_for(schema)
        try:
            validator_cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from None
        self.validator = validator_cls(schema)

    def score_one(self, item: ScoreInput) -> list[Score]:
        try:
            value = parse_json_output(item.output, self.extract)
        except (json.JSONDecodeError, ValueError) as exc:
            return [_result(self.names[0], False, f"not JSON: {exc}")]
        errors = sorted(self.validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(root)"
            return [_result(self.names[0], False, f"{where}: {errors[0].message}")]
        return [_result(self.names[0], True)]


@scorer("json_schema", kind="pass_fail", description="output is JSON valid against a JSON Schema")
def json_schema(schema: dict[str, Any], extract: bool = False) -> Scorer:
    return _JsonSchema(schema, extract)
