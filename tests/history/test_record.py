"""`evalkit run` records into the history and checks the trend; a database that is down never
loses the run; `evalkit history import` backfills; alerts reach alerts.json, report.html, the
terminal, the exit code (--fail-on-alert) and a webhook on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import qa_suite_yaml, write
from tests.fake_openai import FakeOpenAI
from tests.history.hookserver import HookServer

SECRET = "s3cr3t-hook-token-9f8e"


def config(url: str, model: str, extra: str = "") -> str:
    return (
        f"providers:\n  api: {{type: openai, base_url: '{url}', model: {model}}}\n"
        "variants:\n  v: {provider: api, params: {temperature: 0, max_tokens: 16}}\n"
        "history:\n  alerts: {min_history: 3}\n"
        "  webhook: {url_env: HOOK_URL, token_env: HOOK_TOKEN, format: slack}\n" + extra
    )


@pytest.fixture
def project(workdir: Path, fake_server: FakeOpenAI) -> Path:
    write(workdir / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_server.url, "good-model"))
    return workdir


def test_runs_are_recorded_and_a_quality_drop_alerts(
    project: Path, fake_server: FakeOpenAI, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HookServer() as hook:
        monkeypatch.setenv("HOOK_URL", f"{hook.url}/hooks/{SECRET}")
        monkeypatch.setenv("HOOK_TOKEN", SECRET)
        for i in range(3):
            result = cli("run", "qa.yaml", "-o", f"r{i}", "--no-baseline", "--fail-on-alert")
            assert result.exit_code == 0, result.output
            assert "recorded in the history" in result.output and "no trend alerts" in result.output
            assert (project / ".evalkit" / "history.sqlite").is_file()
            assert json.loads((project / f"r{i}" / "alerts.json").read_text()) == {"alerts": []}
        write(project / "evalkit.yaml", config(fake_server.url, "bad-model"))
        result = cli("run", "qa.yaml", "-o", "r3", "--no-baseline", "--fail-on-alert")
    assert result.exit_code == 4, result.output
    alerts = json.loads((project / "r3" / "alerts.json").read_text())["alerts"]
    rules = {(a["rule"], a["metric"]) for a in alerts}
    assert ("quality", "exact") in rules and ("quality", "pass_rate") in rules
    assert ("model_change", None) in rules
    assert "exact 0 below its trailing level 1.00" in result.output
    html = (project / "r3" / "report.html").read_text()
    assert 'id="alerts"' in html and "model changed: good-model-2026-01-01 (fp_fake) → bad-model" in html

    assert len(hook.posts) == 1  # slack-compatible payload, bearer token from the environment
    post = hook.posts[0]
    assert post["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert "exact 0 below" in post["json"]["text"] and post["json"]["blocks"][0]["type"] == "section"
    for path in project.rglob("*"):  # the URL and token are never written anywhere
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in result.output

    listing = cli("history", "--metric", "exact")
    assert listing.exit_code == 0, listing.output
    assert all(len(line) <= 80 for line in listing.output.splitlines()), listing.output
    assert listing.output.count("r") and "qa · v" in listing.output
    assert "▇▇▇" in listing.output or "███" in listing.output  # three runs at 1, then 0: ▁
    assert cli("history", "check", "--fail-on-alert").exit_code == 4
    assert cli("history", "check", "--variant", "nope").exit_code == 0
    missing = cli("history", "check", "run-that-never-was")
    assert missing.exit_code == 2 and "no run 'run-that-never-was'" in missing.output


def test_a_database_that_is_down_never_loses_the_run(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALKIT_HISTORY_URL", "postgresql+psycopg://evalkit:hunter2@127.0.0.1:1/history")
    result = cli("run", "qa.yaml", "-o", "r0", "--no-baseline", "--fail-on-alert")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "unavailable" in said and "Connection refused" in said and "evalkit history import r0" in said
    assert "hunter2" not in said and "***" in said
    assert (project / "r0" / "summary.json").exists() and not (project / "r0" / "alerts.json").exists()

    monkeypatch.delenv("EVALKIT_HISTORY_URL")
    artifacts = project / "downloaded" / "evalkit-nightly-1"
    artifacts.parent.mkdir()
    (project / "r0").rename(artifacts)
    partial = project / "downloaded" / "interrupted-run"
    partial.mkdir()
    for name in ("run.json", "results.jsonl"):
        (partial / name).write_bytes((artifacts / name).read_bytes())
    (partial / "summary.json").write_text('{"status": "interrupted", "groups": []}')
    imported = cli("history", "import", "downloaded", "--branch", "main", "--tag", "nightly")
    assert imported.exit_code == 0, imported.output
    assert "imported" in imported.output and "skipped" in imported.output
    assert cli("history", "import", "qa.yaml").exit_code == 2  # not a run directory
    listing = cli("history", "--tag", "nightly")
    assert "main" in listing.output and "nightly" in listing.output
    assert "no runs" in cli("history", "--tag", "other").output
    assert cli("history", "--since", "yesterday").exit_code == 2


def test_history_settings_are_checked(project: Path, fake_server: FakeOpenAI, cli) -> None:
    write(project / "evalkit.yaml", config(fake_server.url, "good-model", "  alert: {}\n"))
    result = cli("run", "qa.yaml", "--no-baseline")
    assert result.exit_code == 2
    assert "evalkit.yaml:" in result.output and "history.alert" in result.output


def test_history_can_be_switched_off(project: Path, fake_server: FakeOpenAI, cli) -> None:
    text = config(fake_server.url, "good-model").replace("history:\n", "history:\n  enabled: false\n")
    write(project / "evalkit.yaml", text)
    result = cli("run", "qa.yaml", "-o", "r0", "--no-baseline")
    assert result.exit_code == 0 and "history" not in result.output
    assert not (project / ".evalkit").exists()


def test_a_night_with_alerts_reads_the_same_on_every_surface(
    project: Path, fake_server: FakeOpenAI, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 29.2: exit 4, the last line, summary.json, run.json, summary.md, junit.xml, the
    report, `evalkit history` and the tag-filtered trend report all say 'passed with N alerts'."""
    import xml.etree.ElementTree as ET

    monkeypatch.setenv("EVALKIT_HISTORY_TAG", "nightly")
    write(project / "evalkit.yaml", config(fake_server.url, "good-model").split("  webhook")[0])
    for i in range(3):
        assert cli("run", "qa.yaml", "-o", f"r{i}", "--no-baseline", "--fail-on-alert").exit_code == 0
    write(project / "evalkit.yaml", config(fake_server.url, "bad-model").split("  webhook")[0])
    result = cli("run", "qa.yaml", "-o", "r3", "--no-baseline", "--fail-on-alert")
    assert result.exit_code == 4, result.output
    n = len(json.loads((project / "r3" / "alerts.json").read_text())["alerts"])
    assert n >= 3
    words = f"PASSED with {n} alerts"
    last = [line for line in result.output.splitlines() if line.strip()][-1]
    assert last == f"{words} · exit 4 (--fail-on-alert)"
    summary = json.loads((project / "r3" / "summary.json").read_text())
    assert (summary["status"], summary["alerts"], summary["exit_code"]) == ("passed", n, 4)
    info = json.loads((project / "r3" / "run.json").read_text())
    assert (info["alerts"], info["exit_code"]) == (n, 4)
    assert (project / "r3" / "summary.md").read_text().startswith(f"## evalkit: ⚠️ {words}")
    root = ET.parse(project / "r3" / "junit.xml").getroot()
    failed = [tc.get("name") for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert failed == ["trend alerts"] and root.get("failures") == "1"  # red, as the exit code says
    html = (project / "r3" / "report.html").read_text()
    assert f"Passed with {n} trend alerts · exit 4" in html
    listing = cli("history", "--tag", "nightly")
    said = " ".join(listing.output.split())  # 80 columns: long cells wrap, none is cut
    assert f"passed with {n}" in said and "alerts · exit 4" in said and "…" not in said, listing.output
    run_id = json.loads((project / "r3" / "run.json").read_text())["run_id"]
    head, tail = run_id.rsplit("-", 1)
    assert head in said and f"-{tail}" in said  # the whole id, wrapped at its last hyphen
    assert cli("history", "report", "--tag", "nightly", "-o", "trend.html").exit_code == 0
    trend = (project / "trend.html").read_text()
    assert trend.count('<li class="alert') == n and "no alerts" not in trend
    assert "below its trailing level" in trend


def _scripted_run(workdir: Path, cli, out: str) -> Path:
    write(workdir / "evalkit.yaml", "providers:\n  api: {type: scripted, default: ok}\n")
    write(workdir / "s.yaml", 'name: s\nprompt: "q"\nscorers: [exact]\ncases:\n  - {id: c, reference: ok}\n')
    result = cli("run", "s.yaml", "-o", out, "--no-baseline", "--no-history")
    assert result.exit_code == 0, result.output
    return workdir / out


@pytest.mark.parametrize(
    "damage",
    [{"groups": [1]}, {"groups": [{"suite": "s"}]}, {"exit_code": "x"}, {"groups": [{"metrics": []}]}],
)
def test_importing_a_wrong_typed_summary_is_exit_2(workdir: Path, cli, damage: dict) -> None:
    run = _scripted_run(workdir, cli, "r")
    summary = json.loads((run / "summary.json").read_text())
    summary.update(damage)
    (run / "summary.json").write_text(json.dumps(summary))
    result = cli("history", "import", str(run), "--url", f"sqlite:///{workdir / 'h.sqlite'}")
    assert result.exit_code == 2, result.output
    assert "summary.json is not one evalkit wrote" in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_import_that_reuses_another_runs_id_is_refused(workdir: Path, cli) -> None:
    a, b = _scripted_run(workdir, cli, "a"), _scripted_run(workdir, cli, "b")
    info_a = json.loads((a / "run.json").read_text())
    info_b = json.loads((b / "run.json").read_text())
    info_b["run_id"], info_b["started_at"] = info_a["run_id"], "2026-01-01T00:00:00+00:00"
    (b / "run.json").write_text(json.dumps(info_b))
    url = f"sqlite:///{workdir / 'h.sqlite'}"
    assert cli("history", "import", str(a), "--url", url).exit_code == 0
    refused = cli("history", "import", str(b), "--url", url)
    assert refused.exit_code == 2 and "already in the history for another run" in " ".join(
        refused.output.split()
    )
    assert cli("history", "import", str(a), "--url", url).exit_code == 0  # the same run again: replaced


def test_recording_rewrites_summary_json_only_where_it_changes(
    workdir: Path, fake_server: FakeOpenAI, cli
) -> None:
    """No alerts and the exit code unchanged (most runs): summary.json already says so and is
    left as concluding wrote it; run.json says the run was checked. An alert rewrites both."""
    from evalkit.history.record import mark_alerts
    from evalkit.rundir.dir import RunDir

    write(workdir / "qa.yaml", qa_suite_yaml(scorers="[exact]"))
    write(workdir / "evalkit.yaml", config(fake_server.url, "good-model"))
    assert cli("run", "qa.yaml", "-o", "r", "--no-baseline", "--no-history").exit_code == 0
    run = RunDir(workdir / "r")
    before = run.summary_file.stat()
    assert run.info().alerts is None
    mark_alerts(run, [], 0)
    after = run.summary_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert run.info().alerts == 0 and json.loads(run.alerts_file.read_text()) == {"alerts": []}
    alert = {"suite": "qa", "variant": "v", "rule": "quality", "severity": "warning", "message": "m"}
    mark_alerts(run, [alert], 4)
    summary = json.loads(run.summary_file.read_text())
    assert (summary["alerts"], summary["exit_code"]) == (1, 4) and run.info().alerts == 1
