"""JSON Schemas of what users write - `evalkit.yaml` and suite files - from the pydantic models,
so editors can validate YAML as it is typed and the reference pages cannot drift.

The config schema also knows each built-in provider's own settings: a provider block whose
`type:` is a built-in is checked key by key (an `if`/`then` per type), as `evalkit validate` does.
The schemas ship inside the package (`evalkit/schemas/*.schema.json`); `evalkit schema` prints
them, and tests/spec/test_schema.py checks the shipped files equal what the models give today.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
KINDS = ("config", "suite")
FILES = {"config": "evalkit.schema.json", "suite": "suite.schema.json"}
_BASE = "https://evalkit.invalid/schemas/"  # an id, never fetched


def builtin_provider_settings() -> dict[str, Any]:
    """{type name: its settings model} for evalkit's own providers (not plugins)."""
    from evalkit import plugins

    out: dict[str, Any] = {}
    for entry in plugins.providers.entries():
        if entry.source != "builtin":
            continue
        model = getattr(plugins.providers.get(entry.name), "settings_model", None)
        if model is not None and model.model_fields:
            out[entry.name] = model
    return out


def _merge_defs(into: dict[str, Any], defs: dict[str, Any]) -> None:
    for name, schema in defs.items():
        if name in into and into[name] != schema:
            raise ValueError(f"two different schemas named {name}")
        into[name] = schema


def _provider_rules(schema: dict[str, Any]) -> None:
    defs = schema.setdefault("$defs", {})
    block = defs["ProviderConfig"]
    common = block["properties"]
    rules = []
    for name, model in sorted(builtin_provider_settings().items()):
        settings = model.model_json_schema(ref_template="#/$defs/{model}")
        describe(settings, model)
        _merge_defs(defs, settings.pop("$defs", {}))
        properties = {**settings.get("properties", {}), **common}
        properties["type"] = {"const": name, "description": common["type"].get("description", "")}
        then = {"properties": properties, "additionalProperties": False}
        rules.append({"if": {"properties": {"type": {"const": name}}, "required": ["type"]}, "then": then})
    block["allOf"] = rules


def _sweeps(schema: dict[str, Any]) -> None:
    """A RAG setting may be a list: the config expands it into one variant per value."""
    from evalkit.spec.rag import SWEEPABLE

    properties = schema["$defs"]["RagSettings"]["properties"]
    for name in SWEEPABLE:
        one = {k: v for k, v in properties[name].items() if k not in ("default", "title")}
        properties[name] = {
            "title": properties[name].get("title", name),
            **({"description": one["description"]} if "description" in one else {}),
            "anyOf": [one, {"type": "array", "items": one, "minItems": 1}],
            **({"default": properties[name]["default"]} if "default" in properties[name] else {}),
        }


def _models(root: Any) -> dict[str, Any]:
    """Every pydantic model reachable from `root`'s fields, by class name (as $defs names them)."""
    import typing

    from pydantic import BaseModel

    found: dict[str, Any] = {}
    todo = [root]
    while todo:
        model = todo.pop()
        if model.__name__ in found:
            continue
        found[model.__name__] = model
        for info in model.model_fields.values():
            stack = [info.annotation]
            while stack:
                tp = stack.pop()
                if isinstance(tp, type) and issubclass(tp, BaseModel):
                    todo.append(tp)
                stack.extend(typing.get_args(tp))
    return found


_FIELD = re.compile(r"^    (\w+): [^#]*?(?:#\s*(.*))?$")


def field_comments(model: Any) -> dict[str, str]:
    """{field: its comment in the source} - the comment on the field's line, else the comment
    lines right above it - so the schema (and the reference) describe each key as the code does.
    A field declared in a base class (shared provider settings) has the base's comment."""
    out: dict[str, str] = {}
    for cls in reversed(model.__mro__):  # the model's own comment wins over its bases'
        if cls.__module__.startswith("evalkit"):
            out.update(_own_comments(cls, model))
    return out


def _own_comments(cls: Any, model: Any) -> dict[str, str]:
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    above: list[str] = []
    for line in lines[1:]:
        stripped = line.strip()
        if line.startswith("    #") and not line.startswith("     "):
            above.append(stripped.lstrip("# ").strip())
            continue
        m = _FIELD.match(line)
        if m and m.group(1) in model.model_fields:
            text = " ".join([*above, m.group(2)] if m.group(2) else above)
            if text:
                out[model.model_fields[m.group(1)].alias or m.group(1)] = text
        above = []
    return out


def describe(schema: dict[str, Any], root: Any) -> None:
    """Fill in each key's description from the source comments, where the model gave none."""
    models = _models(root)
    targets = [(root.__name__, schema), *schema.get("$defs", {}).items()]
    for name, node in targets:
        model = models.get(name)
        if model is None:
            continue
        for key, text in field_comments(model).items():
            prop = node.get("properties", {}).get(key)
            if prop is not None and "description" not in prop:
                prop["description"] = text


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `evalkit.yaml` ("config") or a suite file ("suite")."""
    from evalkit.spec.config import Config
    from evalkit.spec.suite import SuiteSpec

    model = Config if kind == "config" else SuiteSpec
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    describe(schema, model)
    if kind == "config":
        _provider_rules(schema)
        _sweeps(schema)
    else:  # `max_new_failures: N` may also be written among the thresholds (it is moved out)
        schema["properties"]["thresholds"]["properties"] = {
            "max_new_failures": {
                "type": "integer",
                "minimum": 0,
                "title": "Max New Failures",
                "description": "the same as the suite's `max_new_failures`, written among the thresholds",
            }
        }
    title = "evalkit.yaml" if kind == "config" else "evalkit suite"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _BASE + FILES[kind],
        **schema,
        "title": title,
    }


def render(kind: str) -> str:
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def shipped(kind: str) -> str:
    return (SCHEMAS / FILES[kind]).read_text(encoding="utf-8")


def write_shipped() -> None:
    """Rewrite the shipped schema files from the models: `python -m evalkit.spec.schema`."""
    for kind in KINDS:
        (SCHEMAS / FILES[kind]).write_text(render(kind), encoding="utf-8")


if __name__ == "__main__":
    write_shipped()
