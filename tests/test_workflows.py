"""The GitHub workflows parse and call commands that exist."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_workflows_are_valid_yaml_with_jobs() -> None:
    files = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert files
    for path in files:
        data = yaml.safe_load(path.read_text())
        assert data.get("jobs"), path
        on = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on:` key as True
        assert on, path
        for job in data["jobs"].values():
            assert job.get("runs-on") and job.get("steps")
            for step in job["steps"]:
                run = step.get("run", "")
                if ".ci/run" in run:
                    assert (ROOT / ".ci" / "run").exists()
