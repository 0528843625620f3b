"""Error texts grouped by cause: the words a person reads instead of results.jsonl."""

from __future__ import annotations

import pytest

from evalkit._util.causes import DNS, FATAL, MODEL_NOT_FOUND, REFUSED, cause_of, causes_text


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("gave up after 3 attempts: connection error (ClientConnectorDNSError)", DNS),
        ("[Errno -2] Name or service not known", DNS),
        ("gave up after 3 attempts: Cannot connect to host 127.0.0.1:9 [Connection refused]", REFUSED),
        ("HTTP 404: The model `gpt-9` does not exist", MODEL_NOT_FOUND),
        ("the Anthropic API does not know model 'x' (HTTP 404): not_found_error", MODEL_NOT_FOUND),
        ("gave up after 3 attempts: HTTP 503: overloaded", "server error (HTTP 5xx)"),
        (
            "provider 'api' at https://x refused the credentials (HTTP 401): bad key",
            "credentials refused (HTTP 401/403)",
        ),
        ("unparseable verdict: I think it is fine", "judge error: reply not parseable"),
        ("gave up after 2 attempts: request 1234 had a strange problem", "request N had a strange problem"),
    ],
)
def test_causes(text: str, cause: str) -> None:
    assert cause_of(text) == cause


def test_fatal_causes_and_the_text() -> None:
    assert {DNS, REFUSED, MODEL_NOT_FOUND} == FATAL
    assert causes_text({"timed out": 3, DNS: 20}) == "could not resolve host (20), timed out (3)"
    many = {f"cause {c}": 1 for c in "abcdefg"}
    assert causes_text(many).endswith("other causes (2)")
