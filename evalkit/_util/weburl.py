"""A server's address a user writes (base_url, endpoint_url): checked where it is written.

urllib raises ValueError for a port out of range or a broken IPv6 host only when the port or
host is read, which happened while the providers were built (a traceback, exit 1)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator


def web_url(value: str) -> str:
    """An http(s) URL with a host and a valid port; the message never repeats the URL (it may
    hold a password)."""
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {str(exc).lower()}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL with a host (write it as http://HOST:PORT/...)")
    return value


WebUrl = Annotated[str, AfterValidator(web_url)]
