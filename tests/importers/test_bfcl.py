"""BFCL's AST categories converted to suites: evalkit's verdicts equal BFCL's own checker's on
right answers, answers right in another accepted form, and answers wrong in known ways."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from evalkit.importers import bfcl
from evalkit.scorers.base import build_scorer
from evalkit.spec.suite import Case, CaseSpec, ScorerSpec, _case_from_spec
from evalkit.types import ScoreInput, ToolCall

Output = list[dict[str, Any]]  # BFCL's form: [{function name: {argument: value}}]


def _first(values: list[Any]) -> Any:
    return next((v for v in values if v != ""), "")


def _params(fn: dict[str, Any], name: str) -> dict[str, Any]:
    return fn[name]["parameters"]


def right(case: dict[str, Any]) -> Output:
    """The first acceptable value of each argument (left out where BFCL accepts only absence)."""
    return [
        {name: {p: _first(v) for p, v in params.items() if _first(v) != "" or p in _required(case, name)}}
        for call in case["gt"]
        for name, params in call.items()
    ]


def _required(case: dict[str, Any], name: str) -> list[str]:
    return list(_params(case["fn"], name).get("required", ()))


def alternative(case: dict[str, Any]) -> Output:
    """The last acceptable value of each argument, optional ones left out, integral floats sent as
    integers, strings in upper case; parallel calls in reverse order."""
    out: Output = []
    for call in case["gt"]:
        for name, params in call.items():
            declared = _params(case["fn"], name)
            args = {}
            for p, values in params.items():
                if "" in values and p not in declared.get("required", ()):
                    continue
                value = [v for v in values if v != ""][-1]
                kind = declared["properties"].get(p, {}).get("type")
                if kind == "float" and isinstance(value, float) and value.is_integer():
                    value = int(value)
                elif isinstance(value, str):
                    value = value.upper()
                args[p] = value
            out.append({name: args})
    return out[::-1] if case["category"].startswith("parallel") else out


def _mutate(case: dict[str, Any], change: Callable[[str, Any, str | None], Any]) -> Output | None:
    """The right answer with the first argument that `change` applies to changed."""
    out = right(case)
    for call in out:
        for name, args in call.items():
            declared = _params(case["fn"], name)["properties"]
            for p, value in args.items():
                new = change(p, value, declared.get(p, {}).get("type"))
                if new is not None:
                    args[p] = new
                    return out
    return None


def wrong_type(case: dict[str, Any]) -> Output | None:
    def change(_p: str, value: Any, kind: str | None) -> Any:
        if kind == "boolean" and isinstance(value, bool):
            return int(value)  # 1 for true: BFCL's type error, once passed by `==`
        if kind == "integer" and type(value) is int:
            return float(value)  # 5.0 for an integer
        if kind == "string" and isinstance(value, str):
            return 7
        return None

    return _mutate(case, change)


def wrong_value(case: dict[str, Any]) -> Output | None:
    def change(_p: str, value: Any, _kind: str | None) -> Any:
        if isinstance(value, str) and value:
            return value + " nowhere"
        if type(value) is int:
            return value + 1000
        return None

    return _mutate(case, change)


def missing_argument(case: dict[str, Any]) -> Output | None:
    out = right(case)
    for call in out:
        for name, args in call.items():
            required = _params(case["fn"], name).get("required", [])
            if required and required[0] in args:
                del args[required[0]]
                return out
    return None


def extra_argument(case: dict[str, Any]) -> Output:
    out = right(case)
    next(iter(out[0].values()))["evalkit_extra"] = 1
    return out


def extra_call(case: dict[str, Any]) -> Output:
    out = right(case)
    return [*out, copy.deepcopy(out[0])]


def wrong_function(case: dict[str, Any]) -> Output:
    out = right(case)
    ((name, args),) = out[0].items()
    others = [f for f in case["fn"] if f != name]
    out[0] = {(others[0] if others else "not_a_function"): args}
    return out


KINDS: dict[str, Callable[[dict[str, Any]], Output | None]] = {
    "right": right,
    "alternative": alternative,
    "wrong_type": wrong_type,
    "wrong_value": wrong_value,
    "missing_argument": missing_argument,
    "extra_argument": extra_argument,
    "extra_call": extra_call,
    "wrong_function": wrong_function,
}


def raw_cases(category: str) -> Iterator[dict[str, Any]]:
    cases_file, answers_file = bfcl.category_files(category, bfcl.data_dir())
    answers = {row["id"]: row["ground_truth"] for _, row in bfcl.read_lines(answers_file)}
    for _, row in bfcl.read_lines(cases_file):
        yield {
            "category": category,
            "functions": row["function"],
            "fn": {f["name"]: f for f in row["function"]},
            "gt": answers[row["id"]],
            "case": _case_from_spec(
                CaseSpec.model_validate(json.loads(json.dumps(bfcl.convert_case(row, answers[row["id"]])))),
                "bfcl",
            ),
        }


SCORER = build_scorer(ScorerSpec(type="tool_arguments", extra_calls="fail"), "bfcl")


def evalkit_verdict(case: Case, output: Output) -> bool:
    calls = tuple(  # through JSON, as a tool call's arguments arrive
        ToolCall(id=f"call_{i}", name=name, arguments=json.loads(json.dumps(args)))
        for i, call in enumerate(output)
        for name, args in call.items()
    )
    item = ScoreInput(
        output="", references=(), vars={}, case_id=case.id, tool_calls=calls, expect=case.expect
    )
    (score,) = SCORER.score_one(item)
    return bool(score.passed)


@pytest.mark.parametrize("category", bfcl.CATEGORIES)
def test_verdicts_equal_bfcls_checker(category: str, bfcl_checker: Any) -> None:
    tally: Counter[tuple[str, bool]] = Counter()
    disagreements = []
    for case in raw_cases(category):
        for kind, make in KINDS.items():
            output = make(case)
            if output is None:
                continue
            theirs = bfcl_checker(case["functions"], output, case["gt"], category)
            ours = evalkit_verdict(case["case"], output)
            tally[(kind, theirs)] += 1
            if ours != theirs:
                disagreements.append((case["case"].id, kind, theirs, output))
    assert not disagreements, (
        f"{len(disagreements)} disagreements: {Counter(d[1] for d in disagreements)}, e.g. {disagreements[:4]}"
    )
    # the set holds what BFCL accepts and what it rejects, in every kind that should
    assert tally[("right", True)] >= 0.95 * sum(n for (k, _), n in tally.items() if k == "right")
    assert tally[("alternative", True)] > 0
    for kind in (
        "wrong_type",
        "wrong_value",
        "missing_argument",
        "extra_argument",
        "extra_call",
        "wrong_function",
    ):
        assert tally[(kind, False)] > 0 and tally[(kind, True)] == 0, (kind, tally)
