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
