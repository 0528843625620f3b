"""The one pull-request comment, against a fake GitHub REST API on 127.0.0.1: created once,
edited in place after, other comments untouched (found across pages), failures one warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.integrations.github_comment import MARKER, MAX_BODY, body_of
from tests.integrations.conftest import FakeGitHub

TOKEN = "ghs_fakeTokenForTheTestOnly0123456789"


@pytest.fixture
def pr_env(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    event = workdir / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": 7}}))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    run = workdir / "run"
    run.mkdir()
    (run / "summary.md").write_text(
        "## evalkit: PASSED\n\n| metric | value |\n| --- | --- |\n| exact | 1.000 |\n"
    )
    return run


def test_one_comment_created_then_edited_in_place(
    pr_env: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub(TOKEN, existing=150)  # two pages of other people's comments
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    try:
        first = cli("github", "comment", str(pr_env))
        assert first.exit_code == 0, first.output
        assert "created the pull-request comment" in first.output and "acme/app#7" in first.output
        ours = [c for c in github.comments if MARKER in c["body"]]
        assert len(ours) == 1 and "## evalkit: PASSED" in ours[0]["body"]
        assert (
            "[The workflow run and its report](https://github.com/acme/app/actions/runs/42)"
            in ours[0]["body"]
        )
        (pr_env / "summary.md").write_text("## evalkit: REGRESSED\n")
        second = cli("github", "comment", str(pr_env))
        assert second.exit_code == 0 and "updated the pull-request comment" in second.output
    finally:
        github.stop()
    ours = [c for c in github.comments if MARKER in c["body"]]
    assert len(ours) == 1 and "REGRESSED" in ours[0]["body"] and len(github.comments) == 151
    assert [m for m, _ in github.calls].count("POST") == 1 and [m for m, _ in github.calls].count(
        "PATCH"
    ) == 1
    assert sum(1 for m, p in github.calls if m == "GET" and "page=2" in p) == 2  # every page was read
    assert all(c["body"] == f"a reviewer's comment {i}" for i, c in enumerate(github.comments[:150]))
    assert TOKEN not in first.output + second.output


def test_an_api_failure_is_one_warning_and_exit_0(
    pr_env: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub("another-token")  # refuses our token: 401
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    try:
        refused = cli("github", "comment", str(pr_env))
    finally:
        github.stop()
    assert refused.exit_code == 0 and "warning: no pull-request comment" in refused.output
    assert "HTTP 401" in " ".join(refused.output.split()) and TOKEN not in refused.output
    monkeypatch.setenv("GITHUB_API_URL", github.url)  # stopped: nothing listens any more
    down = cli("github", "comment", str(pr_env))
    assert down.exit_code == 0 and down.output.count("warning: no pull-request comment") == 1
    monkeypatch.delenv("GITHUB_EVENT_PATH")
    not_pr = cli("github", "comment", str(pr_env))
    assert not_pr.exit_code == 0 and "not a pull request" in not_pr.output


def test_a_long_summary_is_cut_to_githubs_limit() -> None:
    body = body_of("| row |\n" * 20_000, "https://example.test/run")
    assert len(body) <= MAX_BODY and body.startswith(MARKER) and "(cut: the full summary" in body
