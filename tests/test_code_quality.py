"""ruff and mypy are part of the test command, so CI keeps the code clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint_and_format() -> None:
    lint = run("ruff", "check", "evalkit", "tests", "benchmarks")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run("ruff", "format", "--check", "evalkit", "tests", "benchmarks")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_layers() -> None:
    """The contracts in pyproject.toml ([tool.importlinter]): nothing imports from a layer above
    it, and no import cycles where a contract forbids them; every contract is checked and kept."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and " 0 broken" in result.stdout, result.stdout[-3000:]
    assert "no import cycles between the modules of the CLI KEPT" in result.stdout


def test_the_public_facade_exports_what_a_plugin_author_needs_lazily() -> None:
    """Every name in evalkit.__all__ resolves; importing evalkit alone loads none of them."""
    code = (
        "import sys, evalkit\n"
        "assert 'evalkit.types' not in sys.modules and 'pydantic' not in sys.modules, sorted(sys.modules)\n"
        "for name in evalkit.__all__:\n"
        "    assert getattr(evalkit, name) is not None, name\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
