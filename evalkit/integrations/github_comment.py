"""One pull-request comment with a run's summary.md, created on the first run and edited in place
on every later one (found by a hidden marker), through GitHub's REST API:

    GET   /repos/{owner}/{repo}/issues/{number}/comments   (every page, 100 a page)
    PATCH /repos/{owner}/{repo}/issues/comments/{id}         when the marker is found
    POST  /repos/{owner}/{repo}/issues/{number}/comments     otherwise

Everything comes from the environment GitHub Actions sets: GITHUB_TOKEN (never printed or
written), GITHUB_REPOSITORY, GITHUB_EVENT_PATH (the pull request's number), GITHUB_API_URL. A
failed call is a GitHubError (one line, with no secret in it): `evalkit github comment` says
it and exits 0, so the comment never decides a job's outcome."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- evalkit-summary -->"
MAX_BODY = 65_000  # GitHub refuses comments over 65,536 characters
TIMEOUT_S = 10.0
MAX_PAGES = 50


class GitHubError(Exception):
    pass


@dataclass(frozen=True)
class Target:
    api: str  # e.g. https://api.github.com
    repository: str  # owner/name
    number: int  # the pull request (an issue, to the comments API)
    token: str

    def __repr__(self) -> str:  # the token never appears in a traceback or a log
        return f"Target(api={self.api!r}, repository={self.repository!r}, number={self.number})"


def target_from_env(env: dict[str, str] | None = None) -> Target:
    env = dict(os.environ if env is None else env)
    token = env.get("GITHUB_TOKEN", "")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not token or not repository:
        raise GitHubError("GITHUB_TOKEN and GITHUB_REPOSITORY must be set")
    number = env.get("EVALKIT_PR_NUMBER") or _number_from_event(env.get("GITHUB_EVENT_PATH"))
    if not number or not str(number).isdigit():
        raise GitHubError("not a pull request (no number in GITHUB_EVENT_PATH or EVALKIT_PR_NUMBER)")
    api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    return Target(api, repository, int(number), token)


def _number_from_event(path: str | None) -> str | None:
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return str(number) if number is not None else None


def body_of(summary: str, run_url: str | None = None) -> str:
    """The comment: the marker, the summary (cut to GitHub's limit), a link to the workflow run."""
    footer = f"\n\n[The workflow run and its report]({run_url})" if run_url else ""
    text = summary.strip()
    room = MAX_BODY - len(MARKER) - len(footer) - 200
    if len(text) > room:
        text = text[:room].rsplit("\n", 1)[0] + "\n\n… (cut: the full summary is in the run's artifact)"
    return f"{MARKER}\n{text}{footer}\n"


def _call(target: Target, method: str, url: str, payload: dict[str, Any] | None = None) -> tuple[Any, str]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {target.token}")
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read() or b"null"), response.headers.get("Link", "")
    except urllib.error.HTTPError as exc:
        raise GitHubError(f"{method} {_path(url)}: HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GitHubError(f"{method} {_path(url)}: {type(reason).__name__}: {reason}") from None


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url).split("?")[0]


def _next_page(link: str) -> str | None:
    match = re.search(r'<([^>]+)>;\s*rel="next"', link)
    return match.group(1) if match else None


def find_comment(target: Target) -> int | None:
    """The id of evalkit's comment on the pull request, if there is one (every page read)."""
    url: str | None = f"{target.api}/repos/{target.repository}/issues/{target.number}/comments?per_page=100"
    for _ in range(MAX_PAGES):
        if url is None:
            break
        comments, link = _call(target, "GET", url)
        for comment in comments or []:
            if MARKER in str(comment.get("body", "")):
                return int(comment["id"])
        url = _next_page(link)
    return None


def upsert(target: Target, body: str) -> tuple[str, int]:
    """Create the comment, or edit the one there: ("created" | "updated", its id)."""
    existing = find_comment(target)
    if existing is not None:
        url = f"{target.api}/repos/{target.repository}/issues/comments/{existing}"
        got, _ = _call(target, "PATCH", url, {"body": body})
        return "updated", int(got["id"])
    url = f"{target.api}/repos/{target.repository}/issues/{target.number}/comments"
    got, _ = _call(target, "POST", url, {"body": body})
    return "created", int(got["id"])


def run_url(env: dict[str, str] | None = None) -> str | None:
    """The workflow run's page, from the variables Actions sets."""
    env = dict(os.environ if env is None else env)
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return None
