"""The documentation's pages and their code blocks, for the tests that run or validate them."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [*sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts), ROOT / "README.md"]
_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)\n\1```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    body: str

    def __str__(self) -> str:  # the test id: where the block is
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(*langs: str) -> list[Block]:
    """Every fenced block of these languages in the docs and the README, dedented."""
    found: list[Block] = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            if m.group(2) in langs:
                line = text.count("\n", 0, m.start()) + 1
                found.append(Block(page, line, m.group(2), textwrap.dedent(m.group(3))))
    return found


def parse_evalkit(args: list[str]) -> None:
    """Parse a command line as `evalkit` would, down to the leaf command, running nothing."""
    import typer.main

    from evalkit.cli.app import app

    command: Any = typer.main.get_command(app)  # typer's own (vendored) click classes
    ctx = command.make_context("evalkit", args)
    while hasattr(command, "resolve_command"):  # a group: go down to the subcommand
        rest = [*ctx._protected_args, *ctx.args]  # click keeps the subcommand here
        if not rest and command.invoke_without_command:
            return  # `evalkit history` alone is a command too
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        command, ctx = sub, sub.make_context(name, rest, parent=ctx)
