"""Keep secrets inside the process: every string that leaves it can be scrubbed here."""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_lock = threading.Lock()
_known: set[str] = set()
REDACTED = "***"
_SECRET_QUERY_KEYS = re.compile(r"key|token|secret|sig|auth|pass|cred", re.I)


def register(value: str | None) -> None:
    """Remember a secret value (an API key read from the environment) so it is never written."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)


def scrub(text: str) -> str:
    """Replace every known secret in `text`."""
    with _lock:
        secrets = sorted(_known, key=len, reverse=True)
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact_url(url: str) -> str:
    """A URL safe to log: no user:password, and secret-looking query values masked."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    query = urlencode(
        [
            (k, REDACTED if _SECRET_QUERY_KEYS.search(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return scrub(urlunsplit((parts.scheme, netloc, parts.path, query, "")))
