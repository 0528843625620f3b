"""Issue 29.7: a run from a working tree with uncommitted changes says so in run.json, the
history and the report; a clean tree does not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import write


def git(workdir: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=workdir,
        check=True,
        capture_output=True,
    )


def test_a_dirty_tree_is_marked(workdir: Path, cli: Any) -> None:
    write(workdir / "evalkit.yaml", "providers:\n  api: {type: scripted, default: Paris}\n")
    write(
        workdir / "s.yaml",
        "name: s\nprompt: hi\nscorers: [contains]\ncases:\n  - {id: c1, reference: Paris}\n",
    )
    git(workdir, "init", "-q")
    git(workdir, "add", "evalkit.yaml", "s.yaml")
    git(workdir, "commit", "-qm", "suite")
    assert cli("run", "s.yaml", "-o", "clean", "--no-baseline").exit_code == 0
    assert json.loads((workdir / "clean" / "run.json").read_text())["git_dirty"] is False
    (workdir / "s.yaml").write_text((workdir / "s.yaml").read_text().replace("hi", "hello"))
    assert cli("run", "s.yaml", "-o", "dirty", "--no-baseline").exit_code == 0
    info = json.loads((workdir / "dirty" / "run.json").read_text())
    assert info["git_dirty"] is True and info["git_sha"]
    assert "(uncommitted changes)" in (workdir / "dirty" / "report.html").read_text()
    listing = " ".join(cli("history").output.split())
    assert f"{info['git_sha'][:7]}-dirty" in listing and listing.count("-dirty") == 1
