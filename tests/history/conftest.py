"""The history tests' collection: the stdlib store (history.lite) records into SQLite files
only, so the `store` fixture's `lite` case is not made for the PostgreSQL backend at all (a
skipped test would say something was not run that never applied)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("store") == "lite" and params.get("sa_store") == "postgresql":
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
