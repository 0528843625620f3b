"""The wheel stands alone (issue 24): built from the checkout with `python -m build`, checked by
`twine check`, installed into a fresh virtual environment outside the checkout, and used there
the way the getting-started page says - `evalkit init`, then `evalkit run` on the embedded model.
Templates, judge prompts, report assets, schemas and the smoke suite must all come from the wheel.

The fresh environment gets evalkit from the wheel alone; its dependencies (torch & co., which
would be a multi-GB download per test run) are reached through a .pth line to this checkout's
environment, which holds no evalkit files a run could fall back to: the editable install's import
hook is not loaded there, and the test checks that `evalkit` imports from the fresh environment."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_FILES = {
    "evalkit/bundled/smoke.yaml",
    "evalkit/bundled/init/starter.yaml",
    "evalkit/bundled/init/evalkit.yaml",
    "evalkit/bundled/init/workflow.yml",
    "evalkit/schemas/evalkit.schema.json",
    "evalkit/schemas/suite.schema.json",
    "evalkit/scorers/judge_templates/rubric.j2",
    "evalkit/report/templates/report.html.j2",
    "evalkit/report/templates/report.js",
    "evalkit/history/templates/trend.html.j2",
}


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=900, env={**os.environ, **env}
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--sdist",
            "--wheel",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        ROOT,
    )
    return out


def test_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    result = _run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], dist)
    assert result.stdout.count("PASSED") == 2
    names = set(zipfile.ZipFile(wheel).namelist())
    assert names >= DATA_FILES, DATA_FILES - names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "suites/", "baselines/"))]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the embedded model generates 5 answers on the CPU
def test_the_wheel_runs_outside_the_checkout(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        tmp_path,
    )
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path
        ).stdout.strip()
    )
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = _run([str(python), "-c", "import evalkit; print(evalkit.__file__)"], tmp_path).stdout
    assert where.startswith(str(site)), where

    project = tmp_path / "project"
    project.mkdir()
    evalkit = str(venv / "bin" / "evalkit")
    init = _run([evalkit, "init"], project)
    assert "Created 4 files" in init.stdout
    run = _run([evalkit, "run"], project, HF_HUB_OFFLINE="1", COLUMNS="100")
    assert "PASSED" in run.stdout and "suite starter" in run.stdout
    (run_dir,) = (project / "reports").iterdir()
    for name in ("results.jsonl", "summary.json", "report.html", "junit.xml", "summary.md", "run.json"):
        assert (run_dir / name).is_file(), name
    assert "<script" in (run_dir / "report.html").read_text()
    assert str(ROOT / "evalkit") not in (run_dir / "run.json").read_text()  # no code from the checkout
