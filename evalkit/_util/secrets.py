"""Keep secrets inside the process: every string that leaves it can be scrubbed here.

Scrubbing is structural: `scrub_data` replaces secrets inside the *values* of data about to be
written (strings in dicts and lists), never in serialized JSON text, so it can never break a
file's syntax. What counts as a secret is decided once, at `register`: a value shorter than
`MIN_SECRET_LENGTH` characters (a dummy key like `1234` or `null` for a local server) cannot
be told from ordinary text, so it is not scrubbed (scrubbing it would rewrite outputs and
prompts); a warning says so instead. Every form a secret travels in is registered with it:
its URL-encoded form and, for a `user:password@` in a URL, the HTTP Basic credentials.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_lock = threading.Lock()
_known: set[str] = set()
_needles: tuple[str, ...] = ()  # each secret as it appears in JSON text (for the fast path)
_warnings: list[str] = []
REDACTED = "***"
MIN_SECRET_LENGTH = 8
# query keys whose values are ordinary settings; every other query value in a URL is a secret
# (Azure Functions' `?code=`, `pwd=`, `session=`, `sig=`: no list of secret names is complete)
PLAIN_QUERY_KEYS = frozenset(
    {"api-version", "api_version", "version", "format", "region", "deployment", "model", "stream"}
    | {"sslmode", "charset", "connect_timeout", "application_name", "driver", "mode", "timeout"}
)


def secret_query_key(key: str) -> bool:
    return key.lower() not in PLAIN_QUERY_KEYS


def register(value: str | None, what: str = "a secret", *, warn: bool = True) -> bool:
    """Remember a secret (an API key read from the environment, say) so it is never written.

    A value too short to scrub safely is not remembered (False) and leaves a warning
    (`take_warnings`): replacing `1234` everywhere would corrupt outputs that contain it."""
    if not value:
        return False
    if len(value) < MIN_SECRET_LENGTH:
        if not warn:
            return False
        _warn(
            f"{what} is only {len(value)} character(s): too short to tell from ordinary text, "
            f"so it is not scrubbed from what evalkit writes (real keys have {MIN_SECRET_LENGTH} or more)"
        )
        return False
    forms = {value, quote(value, safe=""), quote(value)}
    with _lock:
        _known.update(f for f in forms if len(f) >= MIN_SECRET_LENGTH)
        _refresh_needles()
    return True


def register_url(url: str, what: str = "base_url", *, warn: bool = True) -> None:
    """The secrets in a URL: a `user:password@` (with the HTTP Basic form a client derives
    from it) and every query value but those of `PLAIN_QUERY_KEYS` (`api-version=2024-06-01`
    is ordinary text). A value too short to scrub is still masked in every URL shown."""
    parts = urlsplit(url)
    if parts.password:
        password = unquote(parts.password)
        register(password, f"the password in {what}", warn=warn)
        register(parts.password, f"the password in {what}", warn=warn)
        user = unquote(parts.username or "")
        for form in (f"{user}:{password}", f"{parts.username}:{parts.password}"):
            basic = base64.b64encode(form.encode("latin-1", "replace")).decode("ascii")
            register(basic, f"the Basic credentials of {what}")
            register(base64.b64encode(form.encode("utf-8")).decode("ascii"), f"the credentials of {what}")
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if secret_query_key(key) and len(value) >= MIN_SECRET_LENGTH:
            register(value, f"the '{key}' value in {what}")


def _warn(message: str) -> None:
    with _lock:
        if message not in _warnings:
            _warnings.append(message)


def take_warnings() -> list[str]:
    """Warnings about secrets that could not be registered (the CLI shows them once)."""
    with _lock:
        out = list(_warnings)
        _warnings.clear()
    return out


def _refresh_needles() -> None:
    global _needles
    needles = set(_known)
    needles.update(json.dumps(s)[1:-1] for s in _known)  # escaped as JSON text shows them
    needles.update(json.dumps(s, ensure_ascii=False)[1:-1] for s in _known)
    _needles = tuple(sorted(needles, key=len, reverse=True))


def scrub(text: str) -> str:
    """Replace every known secret in `text` (a message or a value, not serialized JSON)."""
    with _lock:
        secrets = sorted(_known, key=len, reverse=True)
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def scrub_data(data: Any) -> Any:
    """`data` with every string value inside it (dict values, list items) scrubbed. Keys are
    left alone: they are field names, and a dummy key spelt like one must not break a schema."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, dict):
        return {k: scrub_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [scrub_data(v) for v in data]
    return data


def known() -> tuple[str, ...]:
    """What is scrubbed now (each secret as JSON text shows it): what was written earlier was
    scrubbed alike while this is equal."""
    return _needles


def may_contain_secret(text: str) -> bool:
    """Whether serialized text may hold a known secret (cheap: most lines hold none)."""
    needles = _needles
    return any(n in text for n in needles)


def scrub_json_text(text: str, **dumps: Any) -> str:
    """Serialized JSON with its secrets scrubbed value by value: parsed, scrubbed, re-serialized
    only when a secret shows up in it, so the result is always valid JSON."""
    if not may_contain_secret(text):
        return text
    return json.dumps(scrub_data(json.loads(text)), **dumps)


def redact_url(url: str) -> str:
    """A URL safe to log: no user:password, and every query value masked but plain settings'."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = urlencode(
        [
            (k, REDACTED if secret_query_key(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return scrub(urlunsplit((parts.scheme, netloc, parts.path, query, "")))
