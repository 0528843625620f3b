"""Help text a person reads: descriptions wrap at the terminal's width (a docstring's own line
breaks are not kept), a flag shows no `<bool>`, a value shows a plain metavar (`PATH`, `N`,
`TEXT`) instead of a Python type (`<list[Path]>`), and a required argument reads `RUN_A` on the
usage line, not typer's `{RUN_A}`."""

from __future__ import annotations

import re
from typing import Any

import typer.core

_SINGLE_NEWLINE = re.compile(r"(?<!\n)[ \t]*\n[ \t]*(?!\n)")
_LABELS = {"path": "PATH", "str": "TEXT", "int": "N", "int range": "N"}
_LABELS |= {"float": "NUMBER", "float range": "NUMBER"}


def reflow(text: str | None) -> str | None:
    """Join a paragraph's lines; keep blank lines between paragraphs."""
    if not text:
        return text
    return "\n\n".join(_SINGLE_NEWLINE.sub(" ", p.strip()) for p in re.split(r"\n\s*\n", text.strip()))


def _metavar(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    shown = str(param.display_type(ctx)).strip("<>")
    inner = re.fullmatch(r"list\[(.*)\]", shown)
    shown = inner.group(1) if inner else shown
    return _LABELS.get(shown.lower(), shown if "|" in shown else shown.upper())


def _usage_name(param: Any) -> str:
    """An argument on the usage line as click writes it: `RUN_A`, `[SUITES]...`, `RUN_DIRS...`."""
    name = param.metavar if param.required else f"[{param.metavar}]"
    return name + ("..." if param.nargs != 1 else "")


def _tidy_param(param: Any, ctx: Any) -> None:
    param.help = reflow(param.help)
    if param.metavar is not None:
        return
    if isinstance(param, typer.core.TyperArgument):
        label = _metavar(param, ctx)
        param.metavar = param.name.upper()
        vars(param)["display_type_rich"] = lambda ctx: label  # the type column: PATH, not <list[Path]>
        vars(param)["_usage_display_name"] = lambda: _usage_name(param)  # RUN_A, not typer's {RUN_A}
    else:
        param.metavar = _metavar(param, ctx)


def tidy_own(command: Any, ctx: Any) -> None:
    """Reflow the help of `command` and give each of its parameters a metavar."""
    command.help = reflow(command.help)
    command.short_help = reflow(command.short_help)
    help_option = command.get_help_option(ctx)  # created once and cached by click
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if isinstance(param, typer.core.TyperOption | typer.core.TyperArgument):
            _tidy_param(param, ctx)


def tidy(command: Any, ctx: Any) -> None:
    """`tidy_own` for `command` and everything under it."""
    tidy_own(command, ctx)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub, ctx)
