"""evalkit's templates are compiled once and kept in the user's cache; a cache that cannot be
written or read costs only the compile."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from evalkit._util.jinjacache import bytecode_cache
from evalkit._util.paths import cache_dir


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates jinja compiles from source."""
    seen: list[str] = []
    real = jinja2.Environment.compile

    def counting(
        self: jinja2.Environment, source: str, name: str | None = None, *a: object, **k: object
    ) -> object:
        seen.append(str(name))
        return real(self, source, name, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return seen


def render(folder: Path) -> str:
    """A fresh environment each time, as a new process has."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), bytecode_cache=bytecode_cache())
    return env.get_template("t.j2").render(x=2)


def test_a_template_is_compiled_once_then_loaded_from_the_cache(tmp_path: Path, compiled: list[str]) -> None:
    (tmp_path / "t.j2").write_text("{{ x * 21 }}")
    assert render(tmp_path) == "42" and compiled == ["t.j2"]
    assert len(list((cache_dir() / "templates").iterdir())) == 1
    assert render(tmp_path) == "42" and compiled == ["t.j2"]  # loaded, not compiled
    (tmp_path / "t.j2").write_text("{{ x * 2 }}")  # a changed template is compiled again
    assert render(tmp_path) == "4" and compiled == ["t.j2", "t.j2"]


def test_an_unwritable_or_damaged_cache_only_costs_the_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: list[str]
) -> None:
    (tmp_path / "t.j2").write_text("{{ x * 21 }}")
    (tmp_path / "file").write_text("not a folder")  # nothing can be written below it
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "file"))
    assert render(tmp_path) == "42" and render(tmp_path) == "42"
    assert compiled == ["t.j2"] * 2
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "ok"))
    assert render(tmp_path) == "42"
    (entry,) = (tmp_path / "ok" / "templates").iterdir()
    entry.write_bytes(entry.read_bytes()[:40])  # cut short
    assert render(tmp_path) == "42" and compiled == ["t.j2"] * 4
