"""The reference pages are generated from the code (docs/generate.py) and must say what the code
says today: the CLI, the registries, the config and suite schemas, exit codes and run files."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

import pytest

from tests.docs.conftest import DOCS


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATE = _generator()
PAGES = GENERATE.pages()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_generated_sections_are_current(page) -> None:
    """A failure here means the code changed: run `python docs/generate.py` and commit the pages."""
    text = page.read_text()
    assert GENERATE.render(text) == text


def test_every_generator_has_a_page() -> None:
    used = {m.group(2) for p in PAGES for m in GENERATE.SECTION.finditer(p.read_text())}
    assert used == set(GENERATE.GENERATORS)


def test_the_cli_page_names_every_command_and_option() -> None:
    import typer.main

    from evalkit.cli.app import app

    page = (DOCS / "reference" / "cli.md").read_text()
    root = typer.main.get_command(app)
    for path, command in GENERATE._commands(root):
        if path:
            assert f"## `evalkit {' '.join(path)}`" in page
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("-"):
                    assert f"`{opt}`" in page, (path, opt)


def test_a_changed_help_text_makes_the_page_stale(monkeypatch) -> None:
    """The check can fail: the page no longer matches once the code says something else."""
    page = (DOCS / "reference" / "exit-codes.md").read_text()
    from evalkit import errors

    monkeypatch.setitem(errors.EXIT_CODES, 2, "Something else entirely.")
    assert GENERATE.render(page) != page


def test_the_exit_code_table_covers_the_codes_in_use() -> None:
    from evalkit.errors import EXIT_CODES, AuthenticationError, DiskFullError, ExitCode, UserInputError

    used = {UserInputError("x").exit_code, AuthenticationError().exit_code, DiskFullError().exit_code}
    assert used <= set(ExitCode)
    assert set(ExitCode) == set(EXIT_CODES)
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 130, 143]


def test_every_run_file_is_described() -> None:
    from evalkit.rundir.dir import PURPOSE, RUN_FILES
    from evalkit.rundir.migrations import CURRENT

    assert set(PURPOSE) == set(RUN_FILES)
    assert set(GENERATE.SCHEMA_FILES) == set(CURRENT)


def test_markdown_escaping() -> None:
    assert GENERATE.md("reports/<run-id>/ a|b `x|<y>`") == r"reports/\<run-id\>/ a\|b `x|<y>`"
    assert re.search(r"`a\\\|b`", GENERATE.table(["h"], [["`a|b`"]]))
