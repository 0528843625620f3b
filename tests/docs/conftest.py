"""The documentation's pages and their code blocks, for the tests that run or validate them."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

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
