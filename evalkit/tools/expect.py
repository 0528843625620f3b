"""What a case expects of a trajectory: tools to call, tools never to call, calls with their
arguments (matched exactly, as a subset, or against a JSON schema) and a step budget.

Argument values compare as JSON values, the way BFCL's checker compares them: `true` is not `1`,
an expected integer (`5`) accepts only an integer (`5.0` is a type error, as in BFCL; use
`match: schema` for JSON Schema's looser rule), an expected number written with a decimal point
(`5.0`) accepts `5` and `5.0`. An argument's expected value may be `{any_of: [...]}` (any one of
these values) and/or `{optional: true}` (it may be left out; with `any_of: []` it must be), and
`normalize: false` compares that argument's strings exactly. `normalize: true` on the call
compares strings as BFCL does (ignoring case, spaces and `,./-_*^`)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

ArgumentMatch = Literal["exact", "subset", "schema"]

_SPEC_KEYS = frozenset({"any_of", "optional", "normalize"})
_BFCL_PUNCTUATION = re.compile(r"[ ,./\-_*^]")


def is_spec(value: Any) -> bool:
    """An `{any_of: [...], optional: bool, normalize: bool}` argument spec (not an object value)."""
    return isinstance(value, dict) and bool(value) and set(value) <= _SPEC_KEYS


def _check_specs(value: Any, where: str) -> None:
    if is_spec(value):
        options = value.get("any_of")
        if "any_of" in value and not isinstance(options, list):
            raise ValueError(f"{where}: any_of must be a list of values")
        if options == [] and value.get("optional") is not True:
            raise ValueError(f"{where}: an empty any_of needs optional: true (the argument must be left out)")
        for flag in ("optional", "normalize"):
            if not isinstance(value.get(flag, False), bool):
                raise ValueError(f"{where}: {flag} must be true or false")
        for i, option in enumerate(options or []):
            _check_specs(option, f"{where}.any_of.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_specs(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_specs(item, f"{where}.{i}")


class ExpectedCall(BaseModel):
    """One expected tool call. `arguments` is the expected value (exact), the keys that must
    be there with these values (subset), or a JSON schema the arguments must satisfy (schema)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    name: str  # the tool's name
    arguments: dict[str, Any] | None = None  # None: any arguments
    match: ArgumentMatch = "exact"  # exact, subset or schema: how `arguments` is compared
    normalize: bool = False  # strings compared as BFCL does (case, spaces, ",./-_*^" ignored)

    @model_validator(mode="after")
    def _arguments_are_valid(self) -> ExpectedCall:
        if self.match == "schema":
            import jsonschema

            if self.arguments is None:
                raise ValueError("match 'schema' needs 'arguments' (the JSON schema)")
            try:
                jsonschema.Draft202012Validator.check_schema(self.arguments)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"arguments is not a valid JSON schema: {exc.message}") from None
        elif self.arguments is not None:
            _check_specs(self.arguments, "arguments")
        return self

    @model_serializer(mode="wrap")
    def _omit_default_normalize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.normalize:
            data.pop("normalize", None)  # suites and cases written before it keep their hash
        return data


class ToolExpectations(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    expected_tools: tuple[str, ...] | None = None  # names, in the expected order
    forbidden_tools: tuple[str, ...] = ()
    expected_tool_calls: tuple[ExpectedCall, ...] | None = None
    max_steps: int | None = Field(default=None, gt=0)

    @classmethod
    def from_case(
        cls,
        expected_tools: list[str] | None,
        forbidden_tools: list[str],
        expected_tool_calls: list[ExpectedCall] | None,
        max_steps: int | None,
    ) -> ToolExpectations | None:
        if (
            expected_tools is None
            and not forbidden_tools
            and expected_tool_calls is None
            and max_steps is None
        ):
            return None
        return cls(
            expected_tools=None if expected_tools is None else tuple(expected_tools),
            forbidden_tools=tuple(forbidden_tools),
            expected_tool_calls=None if expected_tool_calls is None else tuple(expected_tool_calls),
            max_steps=max_steps,
        )

    def names(self) -> tuple[str, ...] | None:
        """The expected tool names in order: from `expected_tools`, else from the calls."""
        if self.expected_tools is not None:
            return self.expected_tools
        if self.expected_tool_calls is not None:
            return tuple(c.name for c in self.expected_tool_calls)
        return None


def arguments_match(expected: ExpectedCall, actual: Any) -> str | None:
    """None when `actual` matches; otherwise why not."""
    if expected.arguments is None:
        return None
    if expected.match == "schema":
        return _schema_match(expected.arguments, actual)
    if not isinstance(actual, dict):
        return "arguments are not an object"
    return _object_match(
        expected.arguments, actual, expected.normalize, extra_keys=expected.match == "subset", path=""
    )


def _schema_match(schema: dict[str, Any], actual: Any) -> str | None:
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(actual))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"arguments{' at ' + where if where else ''}: {error.message}"


def _object_match(
    expected: dict[str, Any], actual: dict[str, Any], normalize: bool, extra_keys: bool, path: str
) -> str | None:
    if not extra_keys:
        unexpected = next((key for key in actual if key not in expected), None)
        if unexpected is not None:
            return f"unexpected argument '{path}{unexpected}'"
    for key, want in expected.items():
        if key not in actual:
            if is_spec(want) and want.get("optional", False):
                continue
            return f"argument '{path}{key}' missing"
        why = value_match(want, actual[key], normalize, f"{path}{key}")
        if why is not None:
            return why
    return None


def value_match(expected: Any, actual: Any, normalize: bool = False, path: str = "") -> str | None:
    """None when `actual` is the expected JSON value (or one of an `any_of`); else why not."""
    if is_spec(expected):
        options = expected.get("any_of")
        normalize = expected.get("normalize", normalize)
        if options is None:  # {optional: true} alone: any value
            return None
        if any(value_match(o, actual, normalize, path) is None for o in options):
            return None
        if not options:
            return f"argument '{path}' is {_short(actual)}, expected it left out"
        return f"argument '{path}' is {_short(actual)}, expected one of {_short(options)}"
    if _same_value(expected, actual, normalize, path):
        return None
    if isinstance(expected, dict) and isinstance(actual, dict):
        return _object_match(expected, actual, normalize, extra_keys=False, path=f"{path}.")
    return f"argument '{path}' is {_short(actual)}, expected {_short(expected)}"


def _same_value(expected: Any, actual: Any, normalize: bool, path: str) -> bool:
    """JSON equality with JSON types: bool is not a number; an integer is not a float."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int):
        return type(actual) is int and actual == expected
    if isinstance(expected, float):
        return isinstance(actual, int | float) and float(actual) == expected
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return False
        return bfcl_normal(actual) == bfcl_normal(expected) if normalize else actual == expected
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(
                value_match(e, a, normalize, f"{path}.{i}") is None
                for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            )
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict) and _object_match(expected, actual, normalize, False, f"{path}.") is None
        )
    return expected is None and actual is None


def bfcl_normal(text: str) -> str:
    """A string as BFCL's checker compares it: no spaces or ,./-_*^, lower case, ' as "."""
    return _BFCL_PUNCTUATION.sub("", text).lower().replace("'", '"')


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
