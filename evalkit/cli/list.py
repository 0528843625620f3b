"""`evalkit list`: the registered providers, scorers and retrievers."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class ListWhat(StrEnum):
    providers = "providers"
    scorers = "scorers"
    retrievers = "retrievers"


def list_(what: Annotated[ListWhat, typer.Argument(help="providers, scorers or retrievers")]) -> None:
    """List the registered providers, scorers or custom retrievers (built-in and plugins)."""
    from rich.table import Table

    from evalkit import registry
    from evalkit.cli.render import console, escape

    if what is ListWhat.retrievers:
        from evalkit.rag.retrievers import retrievers as reg
        from evalkit.spec.rag import BUILTIN_RETRIEVERS

        for name in BUILTIN_RETRIEVERS:
            console.print(f"{name}  [dim](built in: over the LanceDB index of a corpus)[/]", highlight=False)
    else:
        reg = registry.providers if what is ListWhat.providers else registry.scorers
    table = Table("name", "from", "description")
    if what is ListWhat.scorers:
        table.add_column("install", no_wrap=True)
    for entry in reg.entries():
        obj = reg.get(entry.name)
        doc = getattr(obj, "description", "") or " ".join(
            (obj.__doc__ or "").strip().split("\n\n")[0].split()
        )
        row = [entry.name, entry.source, doc]
        if what is ListWhat.scorers:
            extra = getattr(obj, "extra", None)
            row.append(
                escape(f"evalkit[{extra}]") if extra else "(core)" if entry.source == "builtin" else ""
            )
        table.add_row(*row)
    if table.row_count:
        console.print(table)
    elif what is ListWhat.retrievers:
        console.print("no custom retrievers registered (see docs/extending/retrievers.md)")
