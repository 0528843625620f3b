"""Why a request or a score failed, in a few words a person can act on: error texts from every
provider grouped by cause, so '20 errors: could not resolve host (20)' replaces reading
results.jsonl. Unknown texts keep their own first words."""

from __future__ import annotations

import re
from collections import Counter
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


# a number of its own (not a name's part: v1, gpt4) and not an HTTP status: an id or a size
_NUMBER = re.compile(r"(?<!HTTP )(?<![A-Za-z_\d])\d+")


def cause_of(text: str) -> str:
    """The cause of an error (or of an unmeasured score's reason): a known cause's words, else
    the error's own first line with its numbers as N (one cause, whatever ids or sizes it names)."""
    return _cause_and_text(text)[0]


def _cause_and_text(text: str) -> tuple[str, str | None]:
    """The cause, and for an unknown error its own first line (numbers kept), both cut to WIDTH."""
    for pattern, cause in _PATTERNS:
        if re.search(pattern, text, re.IGNORECASE):
            return cause, None
    # the first line (a newline's: U+2028 and the like are no line breaks in an error's text)
    first = _PREFIX.sub("", text.strip()).split("\n", 1)[0].rstrip("\r") if text.strip() else "unknown error"
    return _cut(_NUMBER.sub("N", first)), _cut(first)


def _cut(text: str) -> str:
    return text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"


class CauseTally:
    """Errors counted by cause (`cause_of`); a cause that only ever had one text is named by that
    text, its numbers kept ('injected 200', 'HTTP 400: … 8192 tokens'), and by the cause ('… N
    tokens') once its errors' texts differ."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._text: dict[str, str | None] = {}  # cause → its one text so far (None: several)

    def add(self, error: str, prefix: str = "") -> None:
        """Count `error` under its cause, `prefix` before it (a scorer's name, say)."""
        cause, text = _cause_and_text(error)
        key = prefix + cause
        self.counts[key] += 1
        if text is not None and self._text.setdefault(key, prefix + text) != prefix + text:
            self._text[key] = None

    def named(self) -> dict[str, int]:
        """The counts, most frequent first, each under its one text where it had one."""
        out: Counter[str] = Counter()
        for key, n in self.counts.items():
            out[self._text.get(key) or key] += n
        return dict(out.most_common())


def causes_text(counts: Mapping[str, int], limit: int = 5) -> str:
    """'could not resolve host (20), timed out (3)', most frequent first; past `limit` causes the
    rest as 'other causes (N)' (a single one left over is named: no word saved hiding it)."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) <= limit + 1:
        limit = len(ranked)
    shown = ", ".join(f"{cause} ({n:,})" for cause, n in ranked[:limit])
    rest = sum(n for _, n in ranked[limit:])
    return shown + (f", other causes ({rest:,})" if rest else "")
