"""The composite action's own steps (action.yml), run by bash as a runner would run them after
the install step: a regressed pull request gets the job summary, one comment (edited in place on
a second push) on a fake GitHub API, and the job's exit code 1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.integrations.conftest import N_CASES, FakeGitHub, bless, scripted_config, suite_yaml

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghs_actionTestToken0123456789abcdef"


def run_action(workdir: Path, github: FakeGitHub, inputs: dict[str, str]) -> tuple[int, str]:
    """Every step after the install, with `${{ ... }}` filled in as Actions fills it."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    values.update(inputs, **{"github-token": TOKEN})
    outputs: dict[str, str] = {}
    files = {name: workdir / f".{name}" for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")}
    for path in files.values():
        path.write_text("")
    event = workdir / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    code = 0
    for step in action["runs"]["steps"]:
        if "run" not in step or step.get("name") == "Install evalkit":
            continue
        if "inputs.comment == 'true'" in step.get("if", "") and values["comment"] != "true":
            continue  # the step's `if:`

        def fill(text: str) -> str:
            text = re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], text)
            return re.sub(
                r"\$\{\{\s*steps\.run\.outputs\.([\w-]+)\s*\}\}", lambda m: outputs.get(m.group(1), ""), text
            )

        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            **{name: str(path) for name, path in files.items()},
            "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": "acme/app",
            "GITHUB_EVENT_PATH": str(event),
            **{k: fill(str(v)) for k, v in (step.get("env") or {}).items()},
        }
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=workdir, env=env, capture_output=True, text=True
        )
        for line in files["GITHUB_OUTPUT"].read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
        code = done.returncode
        if code != 0 and step is not action["runs"]["steps"][-1]:
            raise AssertionError(f"step {step.get('name')} failed: {done.stdout}{done.stderr}")
    return code, files["GITHUB_STEP_SUMMARY"].read_text()


def test_the_action_comments_once_and_fails_the_job_on_a_regression(workdir: Path) -> None:
    (workdir / "suites").mkdir()
    (workdir / "suites" / "qa.yaml").write_text(suite_yaml())
    (workdir / "evalkit.yaml").write_text(scripted_config())
    bless(workdir)
    (workdir / "evalkit.yaml").write_text(scripted_config(wrong=set(range(0, N_CASES, 2))))
    github = FakeGitHub(TOKEN, existing=3)
    try:
        code, summary = run_action(workdir, github, {"suites": "suites/"})
        again, _ = run_action(workdir, github, {"suites": "suites/"})
    finally:
        github.stop()
    assert code == again == 1  # regressed: the job fails
    assert "REGRESSED" in summary.upper() and (workdir / "reports" / "pr" / "results.jsonl").exists()
    ours = [c for c in github.comments if "<!-- evalkit-summary -->" in c["body"]]
    assert len(ours) == 1 and len(github.comments) == 4
    assert ours[0]["body"].split("\n", 1)[1].startswith(summary.strip()[:40])
    assert [m for m, _ in github.calls].count("PATCH") == 1


def test_a_passing_run_passes_the_job(workdir: Path) -> None:
    (workdir / "suites").mkdir()
    (workdir / "suites" / "qa.yaml").write_text(suite_yaml())
    (workdir / "evalkit.yaml").write_text(scripted_config())
    bless(workdir)
    github: Any = FakeGitHub(TOKEN)
    try:
        code, summary = run_action(workdir, github, {"comment": "false", "suites": "suites/"})
    finally:
        github.stop()
    assert code == 0 and summary.strip() and not github.calls  # comment: false posts nothing
