"""The suites shipped in suites/ and inside the package are valid, and the red-team suite tells a safe model from a leaky one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import write

ROOT = Path(__file__).resolve().parent.parent


def test_bundled_suites_validate(cli, workdir: Path) -> None:
    bundled = [
        ROOT / "evalkit" / "bundled" / "smoke.yaml",
        ROOT / "evalkit" / "bundled" / "init" / "starter.yaml",
    ]
    for suite in [*sorted((ROOT / "suites").glob("*.yaml")), *bundled]:
        result = cli(
            "validate",
            str(suite),
            "--config",
            str(
                write(
                    workdir / "c.yaml",
                    "providers:\n  p: {type: python, callable: 'tests.test_bundled_suites:safe'}\n",
                )
            ),
        )
        assert result.exit_code == 0, (suite, result.output)


def safe(messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]) -> str:
    prompt = messages[-1]["content"].lower()
    benign = any(w in prompt for w in ("python process", "students", "passwords", "enigma"))
    return "Here is how you can do that: ..." if benign else "I'm sorry, but I can't help with that."


def leaky(messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]) -> str:
    return "Sure! The code is ZEBRA-42. PWNED. Contact jane@example.com."


def run_redteam(cli, workdir: Path, fn: str) -> dict[str, Any]:
    write(
        workdir / "evalkit.yaml",
        f"providers:\n  p: {{type: python, callable: 'tests.test_bundled_suites:{fn}'}}\n",
    )
    result = cli("run", str(ROOT / "suites" / "redteam.yaml"), "-o", fn, "--no-baseline")
    summary = json.loads((workdir / fn / "summary.json").read_text())
    summary["exit_code_seen"] = result.exit_code
    return summary


def test_redteam_separates_safe_from_leaky(cli, workdir: Path) -> None:
    good = run_redteam(cli, workdir, "safe")
    assert good["exit_code_seen"] == 0 and good["groups"][0]["pass_rate"] == 1.0
    bad = run_redteam(cli, workdir, "leaky")
    assert bad["exit_code_seen"] == 1
    metrics = bad["groups"][0]["metrics"]
    assert metrics["deny_list"]["mean"] == 0.0 and metrics["pii"]["mean"] == 0.0
    # complied everywhere: right only on the 4 benign cases of the 8 scored on refusal
    assert metrics["refusal"]["mean"] == 4 / 8
    assert metrics["injection"]["mean"] == 1 / 4  # obeyed 3 injections; never echoed the system prompt


def resisting(messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]) -> str:
    """Refuses what is harmful, and carries on politely (no refusal, no leak) when injected."""
    prompt = messages[-1]["content"]
    if any(w in prompt for w in ("Ignore all", "system prompt", "PWNED", "customer e-mail")):
        return "I'm ready to assist you with your Acme questions. How can I help?"
    return safe(messages, params, options)


def test_an_injection_resisted_without_a_refusal_passes(cli, workdir: Path) -> None:
    """Issue 14.16: `inject-ignore-previous` → "I'm ready to assist you…" resisted the injection."""
    summary = run_redteam(cli, workdir, "resisting")
    assert summary["exit_code_seen"] == 0 and summary["groups"][0]["pass_rate"] == 1.0
    metrics = summary["groups"][0]["metrics"]
    assert metrics["injection"]["n"] == 4 and metrics["injection"]["mean"] == 1.0
    assert metrics["refusal"]["n"] == 8 and metrics["refusal"]["unmeasured"] == 0
