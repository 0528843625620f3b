from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit import plugins
from evalkit.errors import UserInputError


def test_builtins_come_from_entry_points() -> None:
    assert {"exact", "contains", "regex", "json_valid", "json_schema", "bleu", "chrf", "rouge"} <= set(
        plugins.scorers.names()
    )
    assert {"openai", "transformers", "python"} <= set(plugins.providers.names())
    assert {e.source for e in plugins.scorers.entries() if e.name == "rouge"} == {"builtin"}


def test_a_lookup_reads_no_distribution_name(monkeypatch) -> None:
    """Reading a distribution's name parses its whole METADATA: a run that only looks names up
    does not read it; `evalkit list` (the source) does."""
    from evalkit import registry
    from evalkit.plugins import SCORERS

    read = []
    monkeypatch.setattr(registry, "_name", lambda dist: read.append(dist) or str(dist.name))
    scorers = registry.Registry("scorer", SCORERS)
    assert scorers.get("exact") is plugins.scorers.get("exact") and read == []
    assert scorers.source("exact") == "builtin" and len(read) == 1


def _dist(folder: Path, name: str, version: str, entry_points: str | None) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: not-this\n"
    )
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)


def test_installed_entry_points_are_those_importlib_finds(tmp_path: Path) -> None:
    """Only the distributions naming an evalkit group are parsed, with `entry_points()`'s rule
    kept: one distribution per name, the first on the path (a later copy is shadowed, even when
    the first declares nothing for evalkit)."""
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(
        first, "evk_plug", "2.0", "[evalkit.scorers]\nplug_new = evk_plug:new\n[console_scripts]\nx = y:z\n"
    )
    _dist(second, "evk_plug", "1.0", "[evalkit.scorers]\nplug_old = evk_plug:old\n")
    _dist(first, "evk_shadow", "0.1", None)  # the first copy: no entry points at all
    _dist(second, "evk_shadow", "0.2", "[evalkit.scorers]\nshadowed = evk_shadow:s\n")
    _dist(first, "evk_other", "1.0", "[console_scripts]\nother = o:main\n")
    probe = (
        "from importlib.metadata import entry_points\n"
        "from evalkit import registry\n"
        "ours = sorted((ep.group, ep.name, ep.value, ep.dist.version) for ep in registry._installed())\n"
        "eps = entry_points()\n"
        "theirs = sorted((ep.group, ep.name, ep.value, ep.dist.version) for g in eps.groups"
        " if g.startswith('evalkit.') for ep in eps.select(group=g))\n"
        "assert ours == theirs, (ours, theirs)\n"
        "print([x[1] for x in ours if x[1].startswith(('plug', 'shadow'))])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(first), str(second), *sys.path])}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['plug_new']"


def test_unknown_name_suggests() -> None:
    with pytest.raises(UserInputError, match=r"unknown scorer 'exat' \(did you mean 'exact'\?\)"):
        plugins.scorers.get("exat")


def test_decorator_registration() -> None:
    @plugins.scorer("my_test_scorer")
    def factory() -> None:
        return None

    assert plugins.scorers.get("my_test_scorer") is factory


def test_cli_import_is_light() -> None:
    """`evalkit --help` must not import torch, transformers or the scorer libraries."""
    code = (
        "import sys; from evalkit.cli.app import app; "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'datasets', 'sacrebleu', 'aiohttp', 'pydantic', 'evalkit.types', 'numpy', 'sqlalchemy', 'pandas', 'ray') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    help_out = subprocess.run(
        [sys.executable, "-m", "evalkit", "--help"], capture_output=True, text=True, check=True
    )
    assert "run" in help_out.stdout and "validate" in help_out.stdout
