"""A run directory is data (issue 27 item 1): `evalkit score`, `report` and `diff` on a crafted
run directory import no code, read no file outside it and contact no host its run.json names,
unless the user's own config or `--trust-run-config` says so (and stderr says what is used)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.fake_openai import FakeOpenAI

SUITE = """
name: s
prompt: "{{ q }}"
scorers: [exact]
cases:
  - {id: c0, vars: {q: q0}, reference: "Paris"}
  - {id: c1, vars: {q: q1}, reference: "Lyon"}
"""
CONFIG = "providers:\n  api: {type: scripted, answers: {c0: Paris, c1: Rome}}\n"


def _run(workdir: Path, cli) -> Path:
    write(workdir / "suites" / "s.yaml", SUITE)
    write(workdir / "evalkit.yaml", CONFIG)
    result = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline")
    assert result.exit_code == 0, result.output
    (workdir / "evalkit.yaml").unlink()  # the one who scores it has no config of their own
    return workdir / "runs" / "a"


def _craft(run: Path, scorers: list[dict[str, Any]], **config: Any) -> None:
    info = json.loads((run / "run.json").read_text())
    info["suites"][0]["scorers"] += scorers
    info["config"].update(config)
    (run / "run.json").write_text(json.dumps(info))


@pytest.fixture
def judge_host() -> Any:
    server = FakeOpenAI(responder=lambda body: '{"verdict": "pass"}').start()
    yield server
    server.stop()


def test_a_metric_module_shipped_in_the_run_directory_is_not_imported(
    workdir: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run(workdir, cli)
    marker = workdir / "pwned"
    write(run / "metrics" / "evil" / "evil.py", f"open({str(marker)!r}, 'w').write('ran')\n")
    _craft(run, [{"type": "evaluate", "path": "metrics/evil"}])
    monkeypatch.chdir(run)  # the module path resolves from the working directory

    refused = cli("score", ".")
    assert refused.exit_code == 2, refused.output
    assert not marker.exists()
    flat = " ".join(refused.output.split())
    assert "path 'metrics/evil'" in flat and "--trust-run-config" in flat

    trusted = cli("score", ".", "--trust-run-config")  # the user says so: the module is used
    assert marker.exists(), trusted.output
    assert (
        "--trust-run-config: using the run's suite 's' scorer 2 (evaluate): path 'metrics/evil'"
        in " ".join(trusted.output.split())
    )


def test_a_judge_named_by_the_run_reads_no_local_file_and_contacts_no_host(
    workdir: Path, cli, judge_host: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run(workdir, cli)
    secret = write(workdir / "secret.txt", "TOPSECRET {{ output }}")
    monkeypatch.setenv("MY_KEY", "sk-user-0123456789abcdef")
    grader = {"type": "openai", "base_url": f"{judge_host.url}?code=hunter22secret", "model": "j"}
    judge = {"type": "judge", "provider": "grader", "mode": "pass_fail", "criteria": "ok"}
    _craft(
        run, [{**judge, "template": str(secret)}], providers={"grader": {**grader, "api_key_env": "MY_KEY"}}
    )

    refused = cli("score", str(run))
    assert refused.exit_code == 2, refused.output
    assert judge_host.requests == []
    flat = " ".join(refused.output.split())
    assert f"template '{secret}'" in flat
    assert "judge provider 'grader' (openai at http://127.0.0.1:" in flat and "hunter22secret" not in flat

    # without the template the judge is still the run's own provider: refused as well
    _craft(run, [], providers={"grader": grader})
    info = json.loads((run / "run.json").read_text())
    info["suites"][0]["scorers"][-1].pop("template")
    (run / "run.json").write_text(json.dumps(info))
    assert cli("score", str(run)).exit_code == 2 and judge_host.requests == []

    # the user's own config names the judge: it is asked, at the user's host, not the run's
    own = FakeOpenAI(responder=lambda body: '{"verdict": "fail"}').start()
    try:
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  grader: {{type: openai, base_url: '{own.url}', model: j}}\n",
        )
        scored = cli("score", str(run))
        assert scored.exit_code == 0, scored.output
        assert len(own.requests) == 2 and judge_host.requests == []
        assert "TOPSECRET" not in json.dumps(own.requests)
    finally:
        own.stop()


def test_the_baselines_folder_a_run_names_is_not_read_unless_asked(workdir: Path, cli) -> None:
    run = _run(workdir, cli)
    elsewhere = workdir / "elsewhere"
    write(workdir / "evalkit.yaml", CONFIG)
    assert cli("baseline", "save", str(run), "--to", str(elsewhere), "--force").exit_code == 0
    (workdir / "evalkit.yaml").unlink()
    info = json.loads((run / "run.json").read_text())
    info["options"]["baseline"] = str(elsewhere)
    (run / "run.json").write_text(json.dumps(info))

    scored = cli("score", str(run))
    assert not (run / "diff.json").exists()
    assert "not gated: the run was gated against" in " ".join(scored.output.split())
    asked = cli("score", str(run), "--baseline", str(elsewhere))
    assert (run / "diff.json").exists(), asked.output


@pytest.mark.parametrize("command", ["score", "report", "diff"])
def test_a_run_file_linking_outside_the_directory_is_refused(workdir: Path, cli, command: str) -> None:
    run = _run(workdir, cli)
    outside = write(workdir / "private.jsonl", "SECRET-LINE\n")
    (run / "results.jsonl").unlink()
    os.symlink(outside, run / "results.jsonl")
    args = [str(run), str(run)] if command == "diff" else [str(run)]
    result = cli(command, *args)
    assert result.exit_code == 2, result.output
    assert "outside the run directory" in result.output and "SECRET-LINE" not in result.output


@pytest.mark.parametrize(
    "damage",
    [
        {"scorers": [{"type": 5}]},
        {"messages": [{"role": "x"}]},
        {"params": {"temperature": "hot"}},
    ],
)
def test_a_crafted_run_json_is_exit_2_not_a_traceback(workdir: Path, cli, damage: dict[str, Any]) -> None:
    run = _run(workdir, cli)
    info = json.loads((run / "run.json").read_text())
    info["suites"][0].update(damage)
    (run / "run.json").write_text(json.dumps(info))
    result = cli("score", str(run))
    assert result.exit_code == 2 and "run.json: suite 's' is unreadable" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", ["score", "report"])
def test_a_report_that_is_a_folder_is_exit_2_not_a_traceback(workdir: Path, cli, command: str) -> None:
    run = _run(workdir, cli)
    (run / "report.html").unlink()
    (run / "report.html").mkdir()
    result = cli(command, str(run))
    assert result.exit_code == 2, result.output
    assert "cannot write report.html" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
