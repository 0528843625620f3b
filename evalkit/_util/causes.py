"""Why a request or a score failed, in a few words a person can act on: error texts from every
provider grouped by cause, so '20 errors: could not resolve host (20)' replaces reading
results.jsonl. Unknown texts keep their own first words."""

from __future__ import annotations

import re
from collections.abc import Mapping

DNS = "could not resolve host"
REFUSED = "connection refused"
MODEL_NOT_FOUND = "model not found (HTTP 404)"
# causes where every later request to the same connection will fail the same way: a run stops
# early on them (see stages.execute) instead of retrying every case
FATAL = frozenset({DNS, REFUSED, MODEL_NOT_FOUND})

_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"DNSError|name or service not known|name resolution|getaddrinfo|nodename nor servname", DNS),
    (r"connection ?refused|ConnectionRefused|Errno 111", REFUSED),
    (r"HTTP 404.*model|model.*(not found|does not exist|HTTP 404)|does not know model", MODEL_NOT_FOUND),
    (r"HTTP 404", "not found (HTTP 404)"),
    (r"HTTP 40[13]|refused the credentials|AuthenticationError", "credentials refused (HTTP 401/403)"),
    (r"HTTP 429|rate.?limit", "rate limited (HTTP 429)"),
    (r"HTTP 5\d\d", "server error (HTTP 5xx)"),
    (r"time(d)? ?out|TimeoutError|deadline", "timed out"),
    (r"connection error|ClientConnector|ServerDisconnected|connection reset", "connection failed"),
    (r"unparseable verdict", "judge error: reply not parseable"),
    (r"outside \d", "judge error: score out of range"),
)
_PREFIX = re.compile(r"^gave up after \d+ attempts?: ")
WIDTH = 60  # characters of an unknown error's own text kept as its cause


def cause_of(text: str) -> str:
    """The cause of an error (or of an unmeasured score's reason)."""
    for pattern, cause in _PATTERNS:
        if re.search(pattern, text, re.IGNORECASE):
            return cause
    first = _PREFIX.sub("", text.strip()).splitlines()[0] if text.strip() else "unknown error"
    first = re.sub(r"\d+", "N", first)  # one cause, whatever ids or sizes it names
    return first if len(first) <= WIDTH else first[: WIDTH - 1] + "…"


def causes_text(counts: Mapping[str, int], limit: int = 5) -> str:
    """'could not resolve host (20), timed out (3)', most frequent first."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{cause} ({n:,})" for cause, n in ranked[:limit])
    rest = sum(n for _, n in ranked[limit:])
    return shown + (f", other causes ({rest:,})" if rest else "")
