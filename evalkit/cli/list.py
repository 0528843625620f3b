"""`evalkit list`: the registered providers, scorers and retrievers."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from evalkit.registry import Registry


class ListWhat(StrEnum):
    providers = "providers"
    scorers = "scorers"
    retrievers = "retrievers"


def list_(what: Annotated[ListWhat, typer.Argument(help="providers, scorers or retrievers")]) -> None:
    """List the registered providers, scorers or custom retrievers (built-in and plugins)."""
    from rich.table import Table

    from evalkit import plugins
    from evalkit.cli.render import console, escape

    registries: dict[ListWhat, Registry[Any]] = {
        ListWhat.providers: plugins.providers,
        ListWhat.scorers: plugins.scorers,
        ListWhat.retrievers: plugins.retrievers,
    }
    reg = registries[what]
    table = Table("name", "from", "description")
    if what is ListWhat.scorers:
        table.add_column("install", no_wrap=True)
    for entry in reg.entries():
        obj = reg.get(entry.name)
        if isinstance(obj, plugins.CorpusIndex):
            console.print(
                f"{entry.name}  [dim](built in: over the LanceDB index of a corpus)[/]", highlight=False
            )
            continue
        info = plugins.declared_info(obj) if what is ListWhat.scorers else None
        doc = (info.description if info else "") or " ".join(
            (obj.__doc__ or "").strip().split("\n\n")[0].split()
        )
        row = [entry.name, entry.source, doc]
        if what is ListWhat.scorers:
            extra = plugins.install_extra(obj)
            row.append(
                escape(f"evalkit[{extra}]") if extra else "(core)" if entry.source == "builtin" else ""
            )
        table.add_row(*row)
    if table.row_count:
        console.print(table)
    elif what is ListWhat.retrievers:
        console.print("no custom retrievers registered (see docs/extending/retrievers.md)")
