"""What a case expects of a trajectory: tools to call, tools never to call, calls with their
arguments (matched exactly, as a subset, or against a JSON schema) and a step budget."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ArgumentMatch = Literal["exact", "subset", "schema"]


class ExpectedCall(BaseModel):
    """One expected tool call. `arguments` is the expected value (exact), the keys that must
    be there with these values (subset), or a JSON schema the arguments must satisfy (schema)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    arguments: dict[str, Any] | None = None  # None: any arguments
    match: ArgumentMatch = "exact"

    @model_validator(mode="after")
    def _schema_is_valid(self) -> ExpectedCall:
        if self.match == "schema":
            import jsonschema

            if self.arguments is None:
                raise ValueError("match 'schema' needs 'arguments' (the JSON schema)")
            try:
                jsonschema.Draft202012Validator.check_schema(self.arguments)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"arguments is not a valid JSON schema: {exc.message}") from None
        return self


class ToolExpectations(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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
    if expected.match == "exact":
        return None if actual == expected.arguments else "arguments differ"
    if expected.match == "subset":
        if not isinstance(actual, dict):
            return "arguments are not an object"
        for key, value in expected.arguments.items():
            if key not in actual:
                return f"argument '{key}' missing"
            if actual[key] != value:
                return f"argument '{key}' is {_short(actual[key])}, expected {_short(value)}"
        return None
    import jsonschema

    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(expected.arguments).iter_errors(actual)
    )
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"arguments{' at ' + where if where else ''}: {error.message}"


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
