"""The webhook: a generic JSON POST to a server on 127.0.0.1, and every way it can fail said in
one line that never names the URL or the token; the terminal sparkline."""

from __future__ import annotations

import pytest

from evalkit.history.alerts import Alert
from evalkit.history.series import Series
from evalkit.history.sparkline import sparkline, trend_row
from evalkit.history.webhook import send
from evalkit.spec.history import Webhook
from tests.history.hookserver import HookServer

ALERTS = [
    Alert(
        "quality", "warning", "qa", "v", "run-1", "exact 0.5 below its trailing level 0.9", "exact", 0.5, 0.9
    )
]


def test_generic_json_post(monkeypatch: pytest.MonkeyPatch) -> None:
    with HookServer() as hook:
        monkeypatch.setenv("MY_HOOK", f"{hook.url}/in/secret-path")
        said = send(ALERTS, "run-1", Webhook(url_env="MY_HOOK"))
    assert said == "webhook sent (json, HTTP 200)"
    body = hook.posts[0]["json"]
    assert body["run_id"] == "run-1" and body["alerts"][0]["metric"] == "exact"
    assert (
        body["alerts"][0]["message"] == ALERTS[0].message and "Authorization" not in hook.posts[0]["headers"]
    )


def test_failures_are_one_line_without_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "EVALKIT_ALERT_WEBHOOK is not set" in send(ALERTS, "r", Webhook())
    monkeypatch.setenv("EVALKIT_ALERT_WEBHOOK", "ftp://example.invalid/x")
    assert "not an http(s) URL" in send(ALERTS, "r", Webhook())
    with HookServer() as hook:
        url = f"{hook.url}/secret-path"
    monkeypatch.setenv("EVALKIT_ALERT_WEBHOOK", url)  # the server is gone: connection refused
    said = send(ALERTS, "r", Webhook(timeout_s=2))
    assert said.startswith("webhook not sent") and "secret-path" not in said and "127.0.0.1" not in said
    monkeypatch.setenv("EVALKIT_ALERT_WEBHOOK", "http://127.0.0.1:9/")
    assert "TOKEN_VAR is not set" in send(ALERTS, "r", Webhook(token_env="TOKEN_VAR"))


def test_sparkline() -> None:
    assert sparkline([0, 0.5, 1, None, 1]) == "▁▅█ █"
    assert sparkline([0.3, 0.3]) == "▅▅" and sparkline([None]) == " "
    assert len(sparkline(list(range(100)))) == 24
    s = Series(
        "a-very-long-suite-name-indeed", "variant", "m", ["r1", "r2"], [0.5, 0.25], [None] * 2, [None] * 2
    )
    label, runs, spark, last, change, span = trend_row(s)
    assert label.endswith("…") and len(label) == 22
    assert (runs, spark, last, change, span) == ("2", "█▁", "0.250", "-0.250", "0.250–0.500")


def test_the_token_is_not_sent_across_a_redirect_to_another_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "tok-0123456789abcdef")
    with HookServer() as other, HookServer(redirect_to=f"{other.url}/elsewhere") as hook:
        monkeypatch.setenv("MY_HOOK", f"{hook.url}/in")
        said = send(ALERTS, "run-1", Webhook(url_env="MY_HOOK", token_env="HOOK_TOKEN"))
    assert said.startswith("webhook sent")
    assert hook.posts[0]["headers"]["Authorization"] == "Bearer tok-0123456789abcdef"
    assert other.posts and "Authorization" not in other.posts[0]["headers"]


def test_slack_text_cannot_make_links_or_mentions() -> None:
    from evalkit.history.webhook import payload

    hostile = Alert("quality", "warning", "<http://evil.example|click> <!channel>", "v & w", "r", "m")
    text = payload([hostile], "run-1", "slack")["text"]
    assert (
        "<" not in text and ">" not in text and "&lt;http://evil.example|click&gt; &lt;!channel&gt;" in text
    )
    assert "v &amp; w" in text
