"""Error texts grouped by cause: the words a person reads instead of results.jsonl."""

from __future__ import annotations

import pytest

from evalkit._util.causes import DNS, FATAL, MODEL_NOT_FOUND, REFUSED, CauseTally, cause_of, causes_text


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
        # an HTTP status and a name's digits stay: they say what happened
        (
            "HTTP 422: field messages.3 invalid in /v1/chat/completions",
            "HTTP 422: field messages.N invalid in /v1/chat/completions",
        ),
        ("first line\nsecond 2", "first line"),
        ("one\u2028line 7", "one\u2028line N"),  # U+2028 breaks no line of an error's text
    ],
)
def test_causes(text: str, cause: str) -> None:
    assert cause_of(text) == cause


def test_fatal_causes_and_the_text() -> None:
    assert {DNS, REFUSED, MODEL_NOT_FOUND} == FATAL
    assert causes_text({"timed out": 3, DNS: 20}) == "could not resolve host (20), timed out (3)"
    many = {f"cause {c}": 1 for c in "abcdefg"}
    assert causes_text(many).endswith("other causes (2)")
    six = {f"cause {c}": 1 for c in "abcdef"}
    assert "other causes" not in causes_text(six) and "cause f (1)" in causes_text(six)  # one left: named


def test_a_cause_with_one_text_is_named_by_it_with_its_numbers() -> None:
    """'HTTP N: maximum context length is N tokens' hid the status and the limit from the one place
    people read causes, though every error of it said the same: such a cause keeps its text."""
    tally = CauseTally()
    for _ in range(3):
        tally.add("gave up after 1 attempt: HTTP 400: context length is 8192 tokens")
    tally.add("request 12 failed")
    tally.add("request 13 failed")
    tally.add("injected 200", prefix="judge: ")
    tally.add("timed out after 30s")
    assert tally.named() == {
        "HTTP 400: context length is 8192 tokens": 3,
        "request N failed": 2,  # two texts: the cause
        "judge: injected 200": 1,
        "timed out": 1,
    }
