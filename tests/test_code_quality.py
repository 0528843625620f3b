"""ruff and mypy are part of the test command, so CI keeps the code clean."""

from __future__ import annotations

import ast
import os
import shutil
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


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the evalkit package found first on the path from `root`."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--verbose"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_import_layers() -> None:
    """The contracts in pyproject.toml ([tool.importlinter]): the layers, report and compare
    rendered from files, providers | scorers | rag independent, no cycles between siblings."""
    result = lint_imports(ROOT)
    assert result.returncode == 0 and "Contracts: 4 kept, 0 broken." in result.stdout, result.stdout[-3000:]


def test_the_contracts_fail_on_a_report_module_that_imports_a_provider(tmp_path: Path) -> None:
    """The contracts can fail: in a copy of the package, one import of a provider from a report
    module breaks the "reports come from files" contract (the layers alone would allow it: the
    report sits above providers), naming the line."""
    shutil.copytree(ROOT / "evalkit", tmp_path / "evalkit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    module = tmp_path / "evalkit" / "report" / "markdown.py"
    source = module.read_text()
    module.write_text(source + "\n\nfrom evalkit.providers import scripted as _injected  # noqa: E402\n")
    lines = len(module.read_text().splitlines())
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Contracts: 3 kept, 1 broken." in result.stdout, result.stdout[-3000:]
    assert "import no stage, \nprovider or scorer BROKEN" in result.stdout
    assert f"evalkit.report.markdown -> evalkit.providers.scripted (l.{lines})" in result.stdout


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


def test_every_exit_code_is_named_by_the_exit_code_enum() -> None:
    """Issue 23: exit codes were literals in five modules. Whatever decides one names
    `evalkit.errors.ExitCode`: no `typer.Exit(<number>)`, `sys.exit(<number>)`, `exit_code = <number>`
    or `return "<status>", <number>` anywhere in evalkit/."""
    found = []
    for path in sorted((ROOT / "evalkit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            literal: ast.expr | None = None
            if isinstance(node, ast.Call) and node.args:
                name = ast.unparse(node.func)
                if name in ("typer.Exit", "sys.exit", "SystemExit", "Exit"):
                    literal = node.args[0]
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(ast.unparse(t).endswith("exit_code") for t in targets):
                    literal = node.value
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
                first = node.value.elts[0] if node.value.elts else None
                if isinstance(first, ast.Constant) and first.value in (
                    "passed",
                    "failed",
                    "errors",
                    "regressed",
                ):
                    literal = node.value.elts[-1]
            if isinstance(literal, ast.Constant) and isinstance(literal.value, int):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert found == []


def test_one_strict_base_model_not_a_copy_per_module() -> None:
    """Issue 23: eight modules each defined a two-line `class Model(BaseModel)` / `Strict`. A class
    whose whole body is `model_config = ...` is allowed once, in evalkit/_util/models.py."""
    copies = []
    for path in sorted((ROOT / "evalkit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ClassDef):
                continue
            body = [n for n in node.body if not isinstance(n, ast.Expr)]  # docstrings aside
            if len(body) == 1 and "model_config" in ast.unparse(body[0]):
                copies.append(f"{path.relative_to(ROOT)} {node.name}")
    assert copies == ["evalkit/_util/models.py Record", "evalkit/_util/models.py Spec"]


def test_one_class_per_name_for_what_a_run_stores() -> None:
    """The run's MetricInfo (evalkit.types) and the baseline's two-field record were both called
    MetricInfo; a reader of run.json or metrics.json now finds one class per name."""
    from evalkit.compare import baseline
    from evalkit.types import MetricInfo

    assert not hasattr(baseline, "MetricInfo")
    assert baseline.BaselineMetric.model_fields.keys() == {"higher_is_better", "informational"}
    assert "corpus" in MetricInfo.model_fields


def test_no_test_module_imports_another_test_module() -> None:
    """Shared helpers live in conftest.py files or tests/helpers/, never in a test_*.py that other
    test modules import (which runs that module's tests' setup, and hides what is shared); and an
    exit code is asserted exactly, not as `in (0, 1)`."""
    found = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source, str(path))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(n.startswith("tests.") and n.rsplit(".", 1)[-1].startswith("test_") for n in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if "exit_code in (" in source and path.name != "test_code_quality.py":
            found.append(f"{path.relative_to(ROOT)}: exit_code in (...)")
    assert found == []
