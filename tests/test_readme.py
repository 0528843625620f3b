"""The README's commands and examples are tested: CI runs its test command verbatim, and every
YAML example in it is a valid suite or config."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from evalkit.spec.config import Config
from evalkit.spec.suite import SuiteSpec

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BASH = re.findall(r"```bash\n(.*?)\n```", README, re.S)
YAML = [textwrap.dedent(body) for _, body in re.findall(r"^( *)```yaml\n(.*?)\n\1```", README, re.S | re.M)]


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


@pytest.mark.parametrize("block", [b for b in YAML if b.lstrip().startswith("providers:")])
def test_config_examples_validate(block: str) -> None:
    Config.model_validate(yaml.safe_load(block))


@pytest.mark.parametrize("block", [b for b in YAML if b.lstrip().startswith("name:")])
def test_suite_examples_validate(block: str) -> None:
    SuiteSpec.model_validate(yaml.safe_load(block))


@pytest.mark.parametrize("block", [b for b in YAML if b.lstrip().startswith(("cases:", "thresholds:"))])
def test_case_source_examples_validate(block: str) -> None:
    SuiteSpec.model_validate({"name": "x", "prompt": "p", "cases": [], **yaml.safe_load(block)})


def test_readme_has_examples() -> None:
    assert any(b.lstrip().startswith("providers:") for b in YAML)
    assert any(b.lstrip().startswith("name:") for b in YAML)


def test_the_run_command_installs_every_extra_the_readme_uses() -> None:
    """Issue 14.17: `.[all]` first; it holds every extra the documentation names (not vllm: GPU)."""
    import tomllib

    run_cmd = BASH[0]
    assert "-e '.[all]'" in run_cmd
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    in_all = set(re.findall(r"evalkit\[([\w,]+)\]", extras["all"][0])[0].split(","))
    named = {x for group in re.findall(r"(?:evalkit|\.)\[([\w,]+)\]", README) for x in group.split(",")}
    assert named - {"all", "dev", "vllm"} <= in_all  # vLLM is for GPU machines: its own extra
    assert {"local", "embeddings", "rag", "datasets"} <= in_all and "evalkit[all]" in extras["dev"]


def test_the_scorer_example_registers_and_scores() -> None:
    """The plugin example under "Writing a scorer" works as written, with the transforms."""
    from evalkit.scorers.base import build_scorer
    from evalkit.types import ScoreInput

    (example,) = [b for b in re.findall(r"```python\n(.*?)\n```", README, re.S) if "@evalkit.scorer" in b]
    exec(compile(example, "README.md", "exec", dont_inherit=True), {"__name__": "readme_example"})
    configured = build_scorer(
        SuiteSpec.model_validate(
            {
                "name": "x",
                "prompt": "p",
                "cases": [],
                "scorers": [{"type": "length", "unit": "words", "threshold": 3}],
            }
        ).scorers[0],
        "README",
    )
    rows = configured.score([ScoreInput(output="one two three four", references=(), vars={}, case_id="c")])
    assert [(s.name, s.value, s.passed) for s in rows[0]] == [("length", 4.0, False)]  # lower is better
    assert configured.info.higher_is_better is False and configured.info.description == "output length"
