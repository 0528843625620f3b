from __future__ import annotations

import subprocess
import sys

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
