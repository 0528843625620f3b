"""evalkit.stages.provenance: what run.json says of the software a run used."""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

import pytest

from evalkit.stages.provenance import PACKAGES, package_version


def test_package_versions_are_those_importlib_metadata_reads() -> None:
    for name in (*PACKAGES, "evalkit", "pydantic", "PyYAML", "no-such-distribution"):
        try:
            expected: str | None = md.version(name)
        except md.PackageNotFoundError:
            expected = None
        assert package_version(name) == expected, name
    assert package_version("evalkit") is not None


def test_only_the_headers_give_the_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read from the headers (the long description after them is not parsed): a `Version:` line
    in the description is text, not the version."""
    info = tmp_path / "evalkit_probe_dist-1.2.3.dist-info"
    info.mkdir()
    body = "A description.\n\nVersion: 9.9.9\n" + "more text\n" * 1000
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: evalkit-probe-dist\nVersion: 1.2.3\n\n{body}"
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert package_version("evalkit-probe-dist") == md.version("evalkit-probe-dist") == "1.2.3"


def test_the_version_header_is_read_as_the_email_parser_reads_it() -> None:
    """Every installed distribution's headers (and a few odd blocks): the same value as the
    email parser's, which importlib.metadata reads them with."""
    from email.parser import HeaderParser

    from evalkit.stages.provenance import header

    blocks = [
        "Name: x\nversion:  1.0 \n",
        "Name: x\nSummary: a\n  folded: line\nVersion: 2.0\n",
        "Name: x\n",
        "Name: x\nVersion: 3.0\nVersion: 4.0\n",
    ]
    for dist in md.distributions():
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        blocks.append(text.partition("\n\n")[0])
    assert len(blocks) > 20
    for head in blocks:
        found = HeaderParser().parsestr(head)["Version"]
        assert header(head, "Version") == (None if found is None else str(found).strip()), head[:200]


def test_git_asked_at_once_says_what_git_asked_in_turn_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from evalkit.stages.provenance import Git, git_dirty, git_sha

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e.invalid", *args], check=True)

    monkeypatch.chdir(tmp_path)
    seen = []
    for step in ("outside a repository", "clean", "dirty"):
        if step == "clean":
            git("init", "-q")
            (tmp_path / "f").write_text("a")
            git("add", "f")
            git("commit", "-qm", "f")
        elif step == "dirty":
            (tmp_path / "f").write_text("b")
        with Git() as asked:
            found = asked.read()
        sha = git_sha()
        assert found == (sha, git_dirty(sha)), step
        seen.append(found[1])
    assert seen == [None, False, True]
    with Git():  # left unread (bad input stopped the run): its processes are reaped
        pass
