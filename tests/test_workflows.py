"""The GitHub workflows parse, and every evalkit command and flag they run exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalkit.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def evalkit_calls(run: str) -> list[list[str]]:
    calls = []
    for part in re.split(r"&&|\|\||;|\n", run):
        words = shlex.split(part)
        for i, word in enumerate(words):
            if word.endswith("evalkit") and word != "-e":
                calls.append(words[i + 1 :])
    return calls


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    assert data.get("jobs")
    assert data.get("on", data.get(True))  # YAML 1.1 reads a bare `on:` key as True
    for job in data["jobs"].values():
        assert job.get("runs-on") and job.get("steps")
        for step in job["steps"]:
            assert "uses" in step or "run" in step
            run = step.get("run", "")
            if ".ci/run" in run:
                assert (ROOT / ".ci" / "run").exists()
            check_calls(path.name, run)


def check_calls(name: str, run: str) -> None:
    """Every `evalkit` command a step runs exists, with the flags it passes."""
    for args in evalkit_calls(run):
        command = args[0]
        help_text = CliRunner().invoke(app, [*args[:1], "--help"], env={"COLUMNS": "200"}).output
        assert "Usage" in help_text, f"{name}: evalkit {command} does not exist"
        if command in ("github", "history", "labels", "baseline", "cache", "import"):  # a group
            help_text = CliRunner().invoke(app, [*args[:2], "--help"], env={"COLUMNS": "200"}).output
            assert "Usage" in help_text, f"{name}: evalkit {' '.join(args[:2])} does not exist"
        for flag in (a.split("=")[0] for a in args if a.startswith("--")):
            assert flag in help_text, f"{name}: evalkit {command} has no {flag}"
        for a in args:
            if a in ("baselines", "baselines/"):
                assert (ROOT / "baselines").is_dir()


def test_the_action_is_composite_and_the_pr_workflow_uses_it() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite" and action["inputs"]["github-token"]["default"]
    steps = action["runs"]["steps"]
    for step in steps:
        assert "uses" in step or ("run" in step and step["shell"] == "bash")
        check_calls("action.yml", step.get("run", ""))
    runs = " ".join(step.get("run", "") for step in steps)
    assert "evalkit run" in runs and "evalkit github comment" in runs and "GITHUB_STEP_SUMMARY" in runs
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") for step in steps)
    assert steps[-1]["run"] == 'exit "${CODE:-1}"'  # the job fails when the run did
    pr = yaml.safe_load((ROOT / ".github" / "workflows" / "pr-eval.yml").read_text())
    (job,) = pr["jobs"].values()
    assert any(step.get("uses") == "./" for step in job["steps"])
    assert pr["permissions"]["pull-requests"] == "write"


def test_there_are_nightly_and_pr_workflows() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "nightly.yml", "pr-eval.yml"} <= names
