"""The README's set-up commands are tested: CI runs its test command verbatim, and the run
command installs every extra the docs use. Its examples are checked with the docs' own
(tests/docs/test_examples.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BASH = re.findall(r"```bash\n(.*?)\n```", README, re.S)


def test_readme_starts_with_the_two_commands() -> None:
    first_blocks = re.findall(r"```(\w*)\n(.*?)\n```", README, re.S)[:2]
    assert [lang for lang, _ in first_blocks] == ["bash", "bash"]
    run_cmd, test_cmd = (body.strip() for _, body in first_blocks)
    assert run_cmd.endswith("evalkit run") and "constraints.txt" in run_cmd
    assert test_cmd.endswith("python -m pytest") and "'.[dev]'" in test_cmd
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text().splitlines()


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_cmd = BASH[1].strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_cmd in ci_lines


def test_the_run_command_installs_every_extra_the_readme_uses() -> None:
    """Issue 14.17: `.[all]` first; it holds every extra the documentation names (not vllm: GPU)."""
    import tomllib

    run_cmd = BASH[0]
    assert "-e '.[all]'" in run_cmd
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    in_all = set(re.findall(r"evalkit\[([\w,]+)\]", extras["all"][0])[0].split(","))
    docs = README + "".join(p.read_text() for p in sorted((ROOT / "docs").rglob("*.md")))
    named = {x for group in re.findall(r"(?:evalkit|\.)\[([\w,]+)\]", docs) for x in group.split(",")}
    assert named - {"all", "dev", "docs", "vllm"} <= in_all  # vLLM is for GPU machines: its own extra
    assert {"local", "embeddings", "rag", "datasets"} <= in_all and "evalkit[all]" in extras["dev"]


def test_the_readme_stays_short() -> None:
    """Issue 24: the manual lives in docs/; the README is what evalkit is, the commands and links."""
    assert len(README.splitlines()) <= 200


def test_getting_started_gives_the_same_commands() -> None:
    page = (ROOT / "docs" / "getting-started.md").read_text()
    assert re.findall(r"```bash\n(.*?)\n```", page, re.S)[:2] == BASH[:2]
