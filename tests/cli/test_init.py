"""`evalkit init`: the files it writes are a working project for every provider it offers, it
never overwrites a file, and what it prints is exactly what the getting-started page shows."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

from evalkit.spec import schema
from evalkit.spec.scaffold import PRESETS
from tests.docs.conftest import DOCS, parse_evalkit

FILES = ["evalkit.yaml", "suites/starter.yaml", "baselines/.gitkeep", ".github/workflows/evalkit.yml"]


def test_init_prints_what_the_quickstart_shows(workdir: Path, cli) -> None:
    page = (DOCS / "getting-started.md").read_text()
    shown = re.search(r"```text\n\$ evalkit init\n(.*?)\n```", page, re.S)
    assert shown is not None
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert result.output.rstrip("\n") == shown.group(1)
    assert sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*") if p.is_file()) == sorted(FILES)


@pytest.mark.parametrize("provider", sorted(PRESETS))
def test_each_provider_gives_a_valid_project(provider: str, workdir: Path, cli, monkeypatch) -> None:
    result = cli("init", "--provider", provider)
    assert result.exit_code == 0, result.output
    key_env = PRESETS[provider].key_env
    if key_env:
        assert f"api_key_env: {key_env}" in (workdir / "evalkit.yaml").read_text()
        assert f"export {key_env}=..." in result.output
        monkeypatch.setenv(key_env, "sk-test-0123456789abcdef")
    validated = cli("validate")
    assert validated.exit_code == 0, validated.output
    config = yaml.safe_load((workdir / "evalkit.yaml").read_text())
    jsonschema.validate(config, json.loads(schema.shipped("config")))
    jsonschema.validate(yaml.safe_load((workdir / FILES[1]).read_text()), json.loads(schema.shipped("suite")))
    workflow = yaml.safe_load((workdir / FILES[3]).read_text())
    steps = workflow["jobs"]["evaluate"]["steps"]
    env = next(s["env"] for s in steps if s.get("name", "").startswith("Evaluate"))
    assert (key_env in env) == bool(key_env)
    # `pip install evalkit` would get an unrelated project from PyPI: the install names its source
    install = next(s for s in steps if s.get("name") == "Install evalkit")
    assert install["env"]["EVALKIT_FROM"].startswith("git+https://")
    requirements = re.findall(r"pip install ([^&]*)", install["run"])
    ours = [r for r in requirements if r.startswith('"evalkit')]
    assert len(ours) == 1 and ours[0].rstrip().endswith('@ $EVALKIT_FROM"')
    if "local" in ours[0]:  # the embedded model: torch's CPU build, installed before evalkit asks for it
        assert requirements.index(ours[0]) > 0
        assert requirements[0].split() == ["torch", "--index-url", "https://download.pytorch.org/whl/cpu"]
    else:  # nothing else is installed for a hosted model
        assert requirements == ours
    for name in FILES:
        assert not re.search(
            r"\$(install|key_env|provider_block|provider|variant)\b", (workdir / name).read_text()
        )
    for step in steps:
        for line in step.get("run", "").split("&&"):
            words = shlex.split(re.sub(r"\$\{\{.*?\}\}", "", line))
            if words and words[0] == "evalkit":
                parse_evalkit(words[1:])


def test_init_never_overwrites_a_file(workdir: Path, cli) -> None:
    mine = workdir / "suites" / "starter.yaml"
    mine.parent.mkdir()
    mine.write_text("name: mine\n")
    result = cli("init")
    assert result.exit_code == 2
    assert "suites/starter.yaml: already exists" in result.output and "wrote nothing" in result.output
    assert mine.read_text() == "name: mine\n"
    assert not (workdir / "evalkit.yaml").exists() and not (workdir / ".github").exists()


def test_init_into_a_folder(tmp_path: Path, cli) -> None:
    result = cli("init", str(tmp_path / "project"), "-p", "ollama")
    assert result.exit_code == 0, result.output
    assert "127.0.0.1:11434" in (tmp_path / "project" / "evalkit.yaml").read_text()


@pytest.mark.parametrize("provider", sorted(PRESETS))
def test_every_model_init_writes_is_priced_by_the_database(provider: str) -> None:
    """A vendor's model that init writes is one the price database knows (a current name, not a
    retired one), so a first run's cost is measured; a self-hosted server is billed by no vendor."""
    from genai_prices import data_snapshot

    from evalkit import plugins
    from evalkit.spec.prices import database_price

    block = yaml.safe_load(PRESETS[provider].block)
    kind = block.pop("type")
    cls = plugins.providers.get(kind)
    provider_obj = cls(provider, cls.settings_model(**block))
    vendor = provider_obj.price_vendor()
    if provider in ("ollama", "vllm", "embedded"):
        assert vendor is None
        return
    assert vendor is not None
    price = database_price(vendor, block["model"])
    assert price is not None, f"{provider}: {block['model']} is not in the price database"
    assert price.database_model == block["model"]  # the name itself, not a prefix of another
    snapshot = data_snapshot.get_snapshot()
    (info,) = [m for p in snapshot.providers if p.id == vendor for m in p.models if m.id == block["model"]]
    assert not info.deprecated
