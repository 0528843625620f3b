"""The Berkeley Function Calling Leaderboard's AST categories as evalkit suites.

BFCL ships its data in the `bfcl-eval` package (`bfcl_eval/data/BFCL_v4_<category>.json`, one
case a line, and `possible_answer/` beside it). A case becomes an evalkit case with its own
`tools` (BFCL's function descriptions as OpenAI function tools: `dict` → `object`, `float` →
`number`, `tuple` → `array`, `any` → `string`, as BFCL's own OpenAI handler converts them) and
`expected_tool_calls` whose arguments list BFCL's acceptable values (`any_of`), with `optional`
where BFCL accepts the argument's absence (`""`), values typed by the declared parameter type
(an integer answer of a `float` parameter is written `5.0`) and `normalize: true` (BFCL compares
strings ignoring case, spaces and `,./-_*^`). Scored by `tool_arguments` with
`extra_calls: fail`, a case passes exactly when BFCL's AST checker says it is valid.

Reading the files is reading data: nothing of the package is imported."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.errors import UserInputError
from evalkit.tools.expect import is_spec

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple")
ALIASES = {"simple": "simple_python"}

_TYPES = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "boolean": "boolean",
    "array": "array",
    "tuple": "array",
    "dict": "object",
    "object": "object",
    "any": "string",
}
_KEEP = ("description", "enum", "default")


def data_dir() -> Path:
    """`bfcl_eval/data` of the installed package, found without importing it."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise UserInputError(
            "BFCL's data comes with the bfcl-eval package: pip install --no-deps bfcl-eval "
            "(or pass --data DIR with BFCL's BFCL_v4_<category>.json files)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def category_files(category: str, folder: Path) -> tuple[Path, Path]:
    name = ALIASES.get(category, category)
    if name not in CATEGORIES:
        raise UserInputError(f"unknown BFCL category '{category}' (known: {', '.join(CATEGORIES)}, simple)")
    for version in ("v4", "v3"):
        cases = folder / f"BFCL_{version}_{name}.json"
        answers = folder / "possible_answer" / cases.name
        if cases.is_file() and answers.is_file():
            return cases, answers
    raise UserInputError(f"no BFCL_v4_{name}.json with possible_answer/ beside it in {folder}")


def read_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserInputError(f"not JSON: {exc.msg}", path=path, line=lineno) from None


def cases(category: str, folder: Path | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Evalkit case objects (what a suite's JSONL holds) for one BFCL category."""
    case_file, answer_file = category_files(category, folder or data_dir())
    answers = {row.get("id"): row for _, row in read_lines(answer_file)}
    for count, (lineno, row) in enumerate(read_lines(case_file)):
        if limit is not None and count >= limit:
            return
        answer = answers.get(row.get("id"))
        if answer is None:
            raise UserInputError(
                f"case '{row.get('id')}' has no possible answer", path=case_file, line=lineno
            )
        try:
            yield convert_case(row, answer["ground_truth"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise UserInputError(f"case '{row.get('id')}': {exc!r}", path=case_file, line=lineno) from None


def convert_case(row: dict[str, Any], ground_truth: list[dict[str, Any]]) -> dict[str, Any]:
    functions = {f["name"]: f for f in row["function"]}
    turn = row["question"][0]
    question = "\n\n".join(m["content"] for m in turn if m["role"] == "user")
    system = [m["content"] for m in turn if m["role"] == "system"]
    return {
        "id": str(row["id"]),
        "vars": {"question": question, **({"system": "\n\n".join(system)} if system else {})},
        "tools": [tool(f) for f in row["function"]],
        "expected_tool_calls": [
            expected_call(name, params, functions[name])
            for call in ground_truth
            for name, params in call.items()
        ],
    }


def tool(function: dict[str, Any]) -> dict[str, Any]:
    """A BFCL function description as an OpenAI function tool."""
    spec: dict[str, Any] = {"name": function["name"], "parameters": _schema(function["parameters"])}
    if function.get("description"):
        spec["description"] = function["description"]
    return {"type": "function", "function": spec}


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _TYPES.get(schema.get("type", "string"), "string")}
    out.update({k: schema[k] for k in _KEEP if k in schema})
    if "items" in schema:
        out["items"] = _schema(schema["items"])
    if "properties" in schema:
        out["properties"] = {k: _schema(v) for k, v in schema["properties"].items()}
    if schema.get("required"):
        out["required"] = list(schema["required"])
    return out


def expected_call(name: str, params: dict[str, list[Any]], function: dict[str, Any]) -> dict[str, Any]:
    declared = function["parameters"]
    required = set(declared.get("required") or ())
    properties = declared.get("properties") or {}
    arguments = {
        param: accepted(values, properties[param], optional=param not in required)
        if param in properties
        else undeclared(values)
        for param, values in params.items()
    }
    return {"name": name, "arguments": arguments, "normalize": True}


def accepted(values: list[Any], schema: dict[str, Any], optional: bool) -> Any:
    """BFCL's list of acceptable values (`""`: may be left out) as an evalkit argument spec."""
    may_omit = optional and "" in values
    options = [typed(v, schema) for v in values if not (may_omit and v == "")]
    if may_omit and not options and schema.get("type") in ("string", "any"):
        options = [""]  # BFCL's [""]: left out, or an empty string
    # a string answer for a parameter of another type is a variable name: compared exactly
    variable = schema.get("type") not in ("string", "any") and any(isinstance(v, str) for v in options)
    if may_omit or variable or len(options) != 1 or is_spec(options[0]):
        return {
            "any_of": options,
            **({"optional": True} if may_omit else {}),
            **({"normalize": False} if variable else {}),
        }
    return options[0]


def undeclared(values: list[Any]) -> Any:
    """An answer for an argument the function does not declare: BFCL refuses it when given."""
    if "" in values:
        return {"any_of": [], "optional": True}
    return {"any_of": values}


def typed(value: Any, schema: dict[str, Any]) -> Any:
    """A BFCL answer value in the declared parameter type (as BFCL's checker reads it)."""
    kind = schema.get("type")
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in ("array", "tuple") and isinstance(value, list):
        items = schema.get("items") or {}
        return [typed(v, items) for v in value]
    if kind == "dict" and isinstance(value, dict):
        properties = schema.get("properties") or {}
        return {k: accepted(list(v), properties.get(k, {}), optional=True) for k, v in value.items()}
    return value


def write_suite(category: str, out_dir: Path, folder: Path | None = None, limit: int | None = None) -> Path:
    """`bfcl_<category>.yaml` and its cases (`bfcl_<category>.jsonl`) in out_dir; the suite path."""
    name = f"bfcl_{ALIASES.get(category, category)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    cases_path = out_dir / f"{name}.jsonl"
    rows = list(cases(category, folder, limit))
    cases_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    suite_path = out_dir / f"{name}.yaml"
    suite_path.write_text(
        f"# BFCL {ALIASES.get(category, category)} ({len(rows)} cases), converted by `evalkit import bfcl`\n"
        f"name: {name}\n"
        'prompt: "{{ question }}"\n'
        "params: {temperature: 0}\n"
        "scorers:\n"
        "  - {type: tool_arguments, extra_calls: fail}\n"
        f"cases: {{path: {cases_path.name}}}\n",
        encoding="utf-8",
    )
    return suite_path
