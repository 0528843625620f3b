"""The docs site builds without a single warning (broken links, missing pages, pages in no table
of contents all fail), and the README's links lead to pages that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.docs.conftest import DOCS, ROOT

SPHINX = [sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-q", "-b", "html"]


def _build(src: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SPHINX, str(src), str(out)], capture_output=True, text=True, timeout=300)


def test_the_docs_build_without_warnings(tmp_path: Path) -> None:
    result = _build(DOCS, tmp_path / "html")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    pages = {p.relative_to(DOCS).with_suffix("") for p in DOCS.rglob("*.md") if "_build" not in p.parts}
    built = {p.relative_to(tmp_path / "html").with_suffix("") for p in (tmp_path / "html").rglob("*.html")}
    assert pages <= built


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    """The check itself can fail: a copy of the docs with one dead link does not build."""
    import shutil

    copy = tmp_path / "docs"
    shutil.copytree(DOCS, copy, ignore=shutil.ignore_patterns("_build"))
    page = copy / "getting-started.md"
    page.write_text(page.read_text() + "\nSee [the missing page](guide/missing.md).\n")
    result = _build(copy, tmp_path / "html")
    assert result.returncode != 0
    assert "guide/missing.md" in result.stderr


def test_the_readme_links_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text()
    links = [link for link in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", readme) if "://" not in link]
    assert links, "the README links into the docs"
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing


def test_the_changelog_describes_this_version() -> None:
    """CHANGELOG.md's newest entry is the version pyproject.toml declares, and it links the policy."""
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\S+)", changelog, re.M)
    assert headings and headings[0] == version, headings
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", h) for h in headings)
    assert (
        "docs/explanation/versioning.md" in changelog and (DOCS / "explanation" / "versioning.md").is_file()
    )
