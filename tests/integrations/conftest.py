from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

N_CASES = 24


def scripted_config(wrong: set[int] = frozenset(), extra: str = "") -> str:  # type: ignore[assignment]
    """A scripted model that answers case qI with 'answer I', except the cases in `wrong`."""
    answers = ", ".join(f"q{i}: '{'no idea' if i in wrong else f'answer {i}'}'" for i in range(N_CASES))
    return (
        "providers:\n"
        f"  canned: {{type: scripted, answers: {{{answers}}}}}\n"
        "variants:\n"
        "  base: {provider: canned}\n"
        "cache: {enabled: false}\n"
        "history: {enabled: false}\n" + extra
    )


def suite_yaml(name: str = "qa", n: int = N_CASES) -> str:
    cases = "\n".join(
        f"  - {{id: q{i}, vars: {{n: {i}}}, reference: 'answer {i}', tags: [{'even' if i % 2 == 0 else 'odd'}]}}"
        for i in range(n)
    )
    return f'name: {name}\nprompt: "What is number {{{{ n }}}}?"\nscorers: [exact]\ncases:\n{cases}\n'


@pytest.fixture
def eval_project(pytester: pytest.Pytester) -> Path:
    """A project folder with evalkit.yaml (a scripted model) and suites/qa.yaml, as the cwd."""
    root = pytester.path
    (root / "suites").mkdir()
    (root / "suites" / "qa.yaml").write_text(suite_yaml(), encoding="utf-8")
    (root / "evalkit.yaml").write_text(scripted_config(), encoding="utf-8")
    return root


def bless(root: Path) -> None:
    """A run of the current config blessed as ./baselines, by the CLI in a subprocess: modules
    imported while pytester is active are unloaded after the test (numpy cannot load twice)."""
    for args in (
        ["run", "suites", "-o", "runs/blessed", "--no-baseline"],
        ["baseline", "save", "runs/blessed", "--to", "baselines"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "evalkit", *args], cwd=root, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
