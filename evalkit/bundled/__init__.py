"""Files that ship inside the package: the smoke suite `evalkit run` falls back to, and the
templates `evalkit init` writes. Read with plain paths: they are data files next to this module."""

from __future__ import annotations

from pathlib import Path

BUNDLED = Path(__file__).resolve().parent
SMOKE_SUITE = BUNDLED / "smoke.yaml"
INIT_TEMPLATES = BUNDLED / "init"
