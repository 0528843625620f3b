"""No test writes into the user's real home or cache: every test has its own HOME and caches."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from evalkit._util.paths import cache_dir, models_dir
from tests.conftest import REAL_HOME, two_variant_config, write


def _holds(root: Path, marker: bytes) -> list[Path]:
    """The files under `root` that contain `marker` (the sqlite cache stores answers as text)."""
    return [p for p in root.rglob("*") if p.is_file() and marker in p.read_bytes()] if root.exists() else []


def test_home_and_caches_are_temporary(isolated_cache: Path) -> None:
    assert Path.home() != REAL_HOME and Path(os.environ["XDG_CACHE_HOME"]).is_relative_to(Path.home())
    assert cache_dir() == isolated_cache and not cache_dir().is_relative_to(REAL_HOME / ".cache")
    assert not models_dir().is_relative_to(REAL_HOME / ".cache")


def test_a_cached_run_leaves_the_real_cache_untouched(
    workdir: Path, fake_server, cli, isolated_cache
) -> None:
    marker = f"isolation-{uuid.uuid4().hex}"  # the fake model echoes it; the cache stores the answer
    write(
        workdir / "suites" / "qa.yaml",
        f'name: qa\nprompt: "{marker}"\nscorers: [chrf]\ncases:\n  - {{id: a, reference: x}}\n',
    )
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url))
    result = cli("run", "suites/qa.yaml", "-o", "runs/a")
    assert result.exit_code == 0, result.output
    assert _holds(isolated_cache, marker.encode())  # the run did cache its answers ...
    assert not _holds(REAL_HOME / ".cache" / "evalkit", marker.encode())  # ... and not in the user's
