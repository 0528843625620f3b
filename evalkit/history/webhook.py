"""Send alerts to a webhook: a generic JSON POST or a Slack-compatible payload.

The URL and an optional bearer token are read from environment variables at send time; they
are never stored, logged or written into any file, and messages about a failed send omit them.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from evalkit.history.alerts import Alert
from evalkit.spec.history import Webhook


def slack_text(text: str) -> str:
    """Text for Slack's mrkdwn as Slack documents it: `&`, `<` and `>` as entities, so a name
    in the data cannot make a link (`<http://x|click>`), a mention or a channel ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _SameOriginAuth(urllib.request.HTTPRedirectHandler):
    """Follow a redirect, but send the bearer token only to the origin it was meant for."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme)


def payload(alerts: Sequence[Alert], run_id: str, fmt: str) -> dict[str, Any]:
    lines = [f"{a.suite} · {a.variant} · {a.rule}: {a.message}" for a in alerts]
    title = f"evalkit: {len(alerts)} alert(s) for run {run_id}"
    if fmt == "slack":
        text = "\n".join([f"*{slack_text(title)}*", *(f"• {slack_text(line)}" for line in lines)])
        return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
    return {"source": "evalkit", "run_id": run_id, "title": title, "alerts": [a.as_dict() for a in alerts]}


def send(alerts: Sequence[Alert], run_id: str, hook: Webhook) -> str:
    """POST the alerts; returns one line saying what happened (never raises, never names the URL)."""
    url = os.environ.get(hook.url_env)
    if not url:
        return f"webhook not sent: environment variable {hook.url_env} is not set"
    if not url.startswith(("http://", "https://")):
        return f"webhook not sent: {hook.url_env} is not an http(s) URL"
    headers = {"Content-Type": "application/json", "User-Agent": "evalkit"}
    if hook.token_env:
        token = os.environ.get(hook.token_env)
        if not token:
            return f"webhook not sent: environment variable {hook.token_env} is not set"
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(payload(alerts, run_id, hook.format)).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.build_opener(_SameOriginAuth).open(request, timeout=hook.timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"webhook not sent: the server answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"webhook not sent: {type(reason).__name__}"
    return f"webhook sent ({hook.format}, HTTP {status})"
