"""The folders evalkit creates for its local output (the default reports/, the history's
.evalkit/) carry a .gitignore: in a git repository, `git add .` after a run commits nothing of
them. Through the real CLI and the real git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from evalkit._util.paths import GITIGNORE
from tests.conftest import write

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def project(workdir: Path) -> None:
    write(workdir / "evalkit.yaml", "providers:\n  p: {type: scripted, default: ok}\n")
    write(workdir / "s.yaml", 'name: s\nprompt: "q"\nscorers: [exact]\ncases:\n  - {id: a, reference: ok}\n')
    git(workdir, "init", "-q")


def test_a_run_leaves_nothing_for_git_to_add(workdir: Path, cli) -> None:
    project(workdir)
    result = cli("run", "s.yaml")
    assert result.exit_code == 0, result.output
    assert (workdir / "reports" / ".gitignore").read_text() == GITIGNORE
    assert (workdir / ".evalkit" / ".gitignore").read_text() == GITIGNORE
    assert any((workdir / "reports").glob("*/results.jsonl"))
    assert (workdir / ".evalkit" / "history.sqlite").is_file()
    untracked = git(workdir, "status", "--porcelain", "--untracked-files=all").split("\n")
    assert sorted(line for line in untracked if line) == ["?? evalkit.yaml", "?? s.yaml"]
    # a second run (into the existing folders) keeps it so
    assert cli("run", "s.yaml").exit_code == 0
    assert git(workdir, "status", "--porcelain").split() == ["??", "evalkit.yaml", "??", "s.yaml"]


def test_folders_the_user_made_are_left_alone(workdir: Path, cli) -> None:
    project(workdir)
    (workdir / "reports").mkdir()
    result = cli("run", "s.yaml", "--no-history")
    assert result.exit_code == 0, result.output
    assert not (workdir / "reports" / ".gitignore").exists()
    assert not (workdir / ".evalkit").exists()  # --no-history: no history folder either
    # --out names the user's own folder: no .gitignore is added to it or its parents
    assert cli("run", "s.yaml", "--no-history", "--out", "mine/r1").exit_code == 0
    assert (
        not (workdir / "mine" / ".gitignore").exists()
        and not (workdir / "mine" / "r1" / ".gitignore").exists()
    )
