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


def not_a_file(path: Path, absent: str = "not found") -> str:
    """Why `path`, which is no file, cannot be read as one: a folder's words, else `absent`."""
    return "is a directory, not a file" if path.is_dir() else absent


def shown(path: Path | str, start: Path | None = None) -> str:
    """A path as a person reads it: relative to the working directory the run started in (`start`,
    default the current one), so a report or log does not show the machine's own folders."""
    target = Path(path)
    base = (start or Path.cwd()).resolve()
    try:
        return str(target.resolve().relative_to(base)) or "."
    except ValueError:
        return os.path.relpath(target.resolve(), base) if target.is_absolute() else str(target)


GITIGNORE = "# made by evalkit: local run output, not for version control\n*\n"


def local_dir(path: Path) -> Path:
    """`path` as a folder of evalkit's local output (the default reports/, the history's
    .evalkit/): when evalkit creates it, it holds a .gitignore that ignores everything in it,
    as pytest's and ruff's caches do, so `git add .` never commits runs. A folder that exists
    is left as it is: its owner decides."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        (path / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    return path
