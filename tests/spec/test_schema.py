"""The JSON Schemas shipped for editors are what the pydantic models say today, they accept every
config and suite the project ships or documents, and they reject a mistyped key."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from evalkit.spec import schema
from tests.docs.conftest import ROOT, blocks


@pytest.mark.parametrize("kind", schema.KINDS)
def test_the_shipped_schema_is_current(kind: str) -> None:
    """A model changed? Regenerate the shipped files: python -m evalkit.spec.schema"""
    assert schema.shipped(kind) == schema.render(kind)


def _validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(schema.shipped(kind)))


def test_the_shipped_files_validate() -> None:
    bundled = ROOT / "evalkit" / "bundled"
    suites = [*(ROOT / "suites").rglob("*.yaml"), bundled / "smoke.yaml", bundled / "init" / "starter.yaml"]
    configs = [p for p in suites if p.name == "evalkit.yaml"]
    for path in configs:
        _validator("config").validate(yaml.safe_load(path.read_text()))
    for path in set(suites) - set(configs):
        _validator("suite").validate(yaml.safe_load(path.read_text()))


def test_every_documented_example_validates() -> None:
    for block in blocks("yaml"):
        data = yaml.safe_load(block.body)
        if "jobs" in data:
            continue  # a GitHub workflow (tests/docs/test_examples.py checks those)
        if "name" in data:
            errors = list(_validator("suite").iter_errors(data))
        elif {"cases", "thresholds", "scorers", "tools", "agent"} >= set(data):
            errors = list(_validator("suite").iter_errors({"name": "x", "prompt": "p", "cases": [], **data}))
        else:
            errors = list(_validator("config").iter_errors(data))
        assert not errors, f"{block}: {[e.message for e in errors]}"


def test_a_mistyped_key_is_rejected() -> None:
    config = {"providers": {"api": {"type": "openai", "model": "m", "base_ur": "http://127.0.0.1:1/v1"}}}
    assert any("base_ur" in e.message for e in _validator("config").iter_errors(config))
    suite = {"name": "x", "prompt": "p", "cases": [], "scorer": ["exact"]}
    assert any("scorer" in e.message for e in _validator("suite").iter_errors(suite))


def test_evalkit_schema_prints_it(cli, workdir: Path) -> None:
    result = cli("schema", "suite")
    assert result.exit_code == 0 and json.loads(result.output)["title"] == "evalkit suite"
    assert cli("schema", "config", "-o", "e.json").exit_code == 0
    assert (workdir / "e.json").read_text() == schema.shipped("config")


def _undescribed(node: object, path: str) -> list[str]:
    """Every key under a `properties` anywhere in the schema that has no description."""
    if isinstance(node, list):
        return [m for i, item in enumerate(node) for m in _undescribed(item, f"{path}[{i}]")]
    if not isinstance(node, dict):
        return []
    missing = []
    for key, value in node.items():
        if key == "if":
            continue  # a condition (`type: openai` picks that provider's settings), not a key
        if key == "properties" and isinstance(value, dict):
            missing += [f"{path}.{name}" for name, prop in value.items() if not prop.get("description")]
        missing += _undescribed(value, f"{path}.{key}")
    return missing


@pytest.mark.parametrize("kind", schema.KINDS)
def test_every_key_a_user_writes_is_described(kind: str) -> None:
    """Each key of evalkit.yaml and suite files - built-in providers' settings included - has a
    description (a Field description or the comment on its line in the model's source), so the
    generated reference tables and editors' hovers say what it is."""
    missing = _undescribed(schema.json_schema(kind), kind)
    assert not missing, "no description:\n" + "\n".join(missing)


def test_the_description_check_sees_a_missing_one() -> None:
    fake = {"properties": {"a": {"description": "x"}}, "$defs": {"B": {"properties": {"b": {}}}}}
    fake["allOf"] = [{"if": {"properties": {"c": {}}}, "then": {"properties": {"d": {"description": "y"}}}}]
    assert _undescribed(fake, "s") == ["s.$defs.B.b"]


def test_the_schemas_do_not_depend_on_which_models_were_built_first(tmp_path: Path) -> None:
    """Loading a config or a suite builds some of their parts' validators first (so theirs are
    reused, not built twice): the schemas, and what they accept, are the same either way."""
    import subprocess
    import sys

    (tmp_path / "evalkit.yaml").write_text("providers:\n  p: {type: scripted, default: x}\n")
    (tmp_path / "s.yaml").write_text('name: s\nprompt: "{{ q }}"\ncases: [{id: a, vars: {q: x}}]\n')
    probe = (
        "import sys\nfrom pathlib import Path\nfrom evalkit.spec import schema\n"
        "if sys.argv[1] == 'loaded':\n"
        "    from evalkit.spec.config import load_config\n    from evalkit.spec.suite import load_suite\n"
        f"    load_config(Path({str(tmp_path / 'evalkit.yaml')!r})); load_suite(Path({str(tmp_path / 's.yaml')!r}))\n"
        "print(''.join(schema.render(kind) for kind in schema.KINDS))\n"
    )
    out = [
        subprocess.run(
            [sys.executable, "-c", probe, order], capture_output=True, text=True, check=True
        ).stdout
        for order in ("loaded", "fresh")
    ]
    assert out[0] == out[1] and '"Variant"' in out[0]
