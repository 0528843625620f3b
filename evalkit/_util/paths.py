"""Where evalkit keeps per-user state (converted models, the response cache)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The response cache and other state: $EVALKIT_CACHE_DIR, else ~/.cache/evalkit."""
    root = os.environ.get("EVALKIT_CACHE_DIR")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "evalkit"


def models_dir() -> Path:
    """Converted local models: $EVALKIT_MODELS_DIR, else <cache_dir>/models."""
    root = os.environ.get("EVALKIT_MODELS_DIR")
    return Path(root).expanduser() if root else cache_dir() / "models"
