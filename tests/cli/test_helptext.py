"""Help text wraps cleanly at 80 and 120 columns: no line longer than the terminal, no break
before a word that would have fit (a docstring's own line breaks), no Python type as a metavar
(`<bool>`, `<list[Path]>`) - for every command and subcommand."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from evalkit.cli.app import app
from evalkit.cli.helptext import reflow


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def ragged_breaks(text: str) -> list[str]:
    """Panel lines broken although the next line's first word would have fitted after them."""
    lines = [line for line in text.splitlines() if line.startswith("│") and line.endswith("│")]
    bad = []
    for above, below in itertools.pairwise(lines):
        inner_above, inner_below = above[1:-1], below[1:-1]
        start = len(inner_below) - len(inner_below.lstrip())
        columns = [m.end() - 1 for m in re.finditer(r"\s{2,}\S", inner_above.rstrip())]
        if start < 3 or not columns or start != columns[-1]:
            continue  # not the continuation of the description above
        if inner_below.lstrip().startswith(("[default:", "[required]", "[env var:")):
            continue  # typer's own line for the default
        room = len(inner_above) - len(inner_above.rstrip()) - 2  # a space before the word, one padding
        if len(inner_below.split()[0]) <= room:
            bad.append(f"{above}\n{below}")
    return bad


def test_the_ragged_detector_sees_a_hard_break() -> None:
    ragged = "│ run   Run suites against variants, write       │\n│       reports/x, record it in               │\n"
    ragged += "│       the run history.                      │"
    assert ragged_breaks(ragged) and not ragged_breaks(ragged.splitlines()[0])
    assert reflow("one\ntwo\n\nthree\n  four") == "one two\n\nthree four"


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "evalkit")
def test_help_wraps_cleanly(path: tuple[str, ...], width: int) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    text = result.output
    too_long = [line for line in text.splitlines() if len(line.rstrip()) > width]
    assert not too_long, "\n".join(too_long)
    assert not re.search(r"<(bool|list\[|path|int|str|float)", text), text
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert not re.search(r"[{}]", usage), usage  # RUN_A, not typer's {RUN_A}
    assert not ragged_breaks(text), "\n\n".join(ragged_breaks(text))


def test_version_has_no_metavar() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"})
    (line,) = [x for x in result.output.splitlines() if "--version" in x]
    assert line.split()[1:3] == ["--version", "Show"], line
    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and re.fullmatch(r"evalkit \d+\.\d+\.\d+\S*\n", version.output)


def test_usage_names_arguments_as_click_does() -> None:
    usage = {
        ("diff",): "evalkit diff [OPTIONS] RUN_A RUN_B",
        ("score",): "evalkit score [OPTIONS] RUN_DIR [SUITES]...",
        ("merge",): "evalkit merge [OPTIONS] RUN_DIRS...",
        ("init",): "evalkit init [OPTIONS] [DIRECTORY]",
    }
    for path, expected in usage.items():
        result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert f"Usage: {expected}" in result.output, result.output
    missing = CliRunner().invoke(app, ["diff"], env={"COLUMNS": "100"})
    assert missing.exit_code == 2 and "RUN_A" in missing.output and "{" not in missing.output
