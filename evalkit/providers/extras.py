"""A provider whose SDK is not installed names the `pip install` line that brings it (exit 2,
before any model call), rather than failing on an import deep inside a run."""

from __future__ import annotations

import importlib.util

from evalkit.errors import UserInputError


def require(module: str, extra: str, what: str) -> None:
    """Raise a usage error naming `pip install 'evalkit[EXTRA]'` when `module` is missing."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UserInputError(
            f"{what} needs the '{module}' package, which is not installed: pip install 'evalkit[{extra}]'"
        )
