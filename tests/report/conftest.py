from __future__ import annotations

from typing import Any


def settle(page: Any, section: str = "#cases") -> Any:
    """Wait until a section of the report is done: a search reads the case chunks one at a time
    and the cells of a page are decoded from theirs, so its tables fill in asynchronously (the
    section is aria-busy meanwhile). Returns the page."""
    page.wait_for_selector(f"{section}:not([aria-busy])", timeout=60_000)
    return page
