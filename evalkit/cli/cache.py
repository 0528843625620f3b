"""`evalkit cache stats | clear`: the response cache and the RAG indexes."""

from __future__ import annotations

from typing import Annotated

import typer

cache_app = typer.Typer(help="Inspect or clear the response cache and the RAG indexes.", no_args_is_help=True)


@cache_app.command("stats")
def cache_stats() -> None:
    """Entries, size and models in the response cache, and the RAG indexes."""
    from rich.table import Table

    from evalkit.cli.render import console, notices
    from evalkit.providers.cache import ResponseCache, default_path
    from evalkit.rag.index import list_indexes

    indexes = list_indexes()
    console.print(
        f"RAG indexes: {len(indexes)}, {sum(size for _, size, _ in indexes) / 1e6:.1f} MB", highlight=False
    )
    if not default_path().exists():
        console.print(f"no response cache at {default_path()}")
        return
    cache = ResponseCache()
    stats = cache.stats()
    cache.close()
    notices()
    console.print(
        f"{stats['path']}: {stats['entries']} entries, {stats['bytes'] / 1e6:.1f} MB", highlight=False
    )
    table = Table("namespace", "provider", "model", "entries")
    for row in stats["by_model"]:
        table.add_row(row["namespace"], row["provider"], str(row["model"]), str(row["entries"]))
    console.print(table)


@cache_app.command("clear")
def cache_clear(
    older_than: Annotated[
        float | None, typer.Option("--older-than", min=0, help="Only entries older than this many seconds.")
    ] = None,
) -> None:
    """Delete cached responses and RAG indexes (all, or those older than --older-than seconds;
    an index's age is the time since a run last used it)."""
    from evalkit.cli.render import console, notices
    from evalkit.providers.cache import ResponseCache, default_path
    from evalkit.rag.index import remove_indexes

    indexes = remove_indexes(older_than)
    removed = 0
    if default_path().exists():
        cache = ResponseCache()
        removed = cache.clear(older_than)
        cache.close()
        notices()
    console.print(f"removed {removed} cached response(s) and {indexes} RAG index(es)")
