"""How every number a person reads is written: by kind, never in scientific notation.

One module for the terminal, summary.md, junit.xml, the HTML report and its charts
(templates/common.js mirrors it for per-case values; a browser test checks that they agree).

- ms: thousands separators, one decimal below 100 ms (``66,330 ms``, ``4.7 ms``)
- rate: a percentage with one decimal (``83.3%``)
- score: fixed precision: 3 decimals below 10, 1 above, separators from 1,000 (``0.812``, ``53.9``)
- cost: dollars, cents from $1, else up to three significant digits (``$12.35``, ``$0.0000112``)
- count: an integer with separators (``12,000``)
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

Kind = Literal["ms", "rate", "score", "cost", "count"]
MISSING = "–"


def kind_of(metric: str) -> Kind:
    """The kind of a named figure: summary and gate metric names follow these suffixes."""
    if metric.endswith("_ms") or metric.startswith("latency"):
        return "ms"
    if metric.endswith("_usd") or metric.startswith("cost"):
        return "cost"
    if metric.endswith("_rate") or metric.endswith("_share"):
        return "rate"
    return "score"


LABELS = {
    "latency_p50_ms": "latency P50 ms",
    "latency_p95_ms": "latency P95 ms",
    "latency_p99_ms": "latency P99 ms",
    "cost_per_case_usd": "cost per 1k cases",
    "pass_rate": "pass rate",
    "error_rate": "error rate",
    "truncation_rate": "truncation rate",
}


SCALE = {"cost_per_case_usd": 1000.0}  # a case costs fractions of a cent: shown per 1,000 cases


def metric_label(metric: str) -> str:
    """How a built-in figure is named for people; scorer metrics keep their own names."""
    return LABELS.get(metric, metric)


def _scaled(metric: str, value: float | None) -> float | None:
    return None if value is None else value * SCALE.get(metric, 1.0)


def figure(metric: str, value: float | None) -> str:
    """A named metric's value, written for its kind (and scale)."""
    return number(_scaled(metric, value), kind_of(metric))


def figure_delta(metric: str, value: float | None) -> str:
    return signed(_scaled(metric, value), kind_of(metric))


def figure_interval(metric: str, low: float | None, high: float | None) -> str:
    return interval(_scaled(metric, low), _scaled(metric, high), kind_of(metric))


def _fixed(value: float, decimals: int) -> str:
    text = f"{value:,.{decimals}f}"
    if text.lstrip("-").strip("0.,") == "":  # -0.000 reads as a sign that is not there
        text = text.lstrip("-")
    return text


def _cost_digits(value: float) -> int:
    """Decimals that keep three significant digits of a dollar amount (at least cents)."""
    if value == 0 or abs(value) >= 1:
        return 2
    return max(2, 2 - math.floor(math.log10(abs(value))))


def number(value: float | None, kind: Kind = "score") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if kind == "count":
        return f"{math.floor(value + 0.5):,}"  # half up, as the browser rounds
    if kind == "rate":
        return _fixed(value * 100, 1) + "%"
    if kind == "ms":
        return _fixed(value, 0 if abs(value) >= 100 else 1)
    if kind == "cost":
        text = _fixed(abs(value), _cost_digits(value))
        if "." in text and abs(value) < 1:  # $0.50, $0.0004: no zeros past the third digit
            text = text.rstrip("0")
            text += "0" * max(0, 2 - len(text.split(".")[1]))
        return ("-" if value < 0 and text.strip("0.,") else "") + "$" + text
    return _fixed(value, 3 if abs(value) < 10 else 1)


def token_counts(input_tokens: float | None, output_tokens: float | None, counted: bool) -> str:
    """ "in / out" tokens; "– / –" when no result reported any (a scripted or Python provider counts
    none: 0 would claim the model read nothing)."""
    if not counted and not input_tokens and not output_tokens:
        return f"{MISSING} / {MISSING}"
    return f"{number(input_tokens, 'count')} / {number(output_tokens, 'count')}"


def signed(value: float | None, kind: Kind = "score") -> str:
    """A difference: always with its sign (``+0.125``, ``-1,250 ms``, ``+$0.0012``); rates in points."""
    if value is None:
        return MISSING
    text = _fixed(abs(value) * 100, 1) + " pp" if kind == "rate" else number(abs(value), kind)
    if text.strip("$0.,% p") == "":
        return "±" + text
    return ("-" if value < 0 else "+") + text


def interval(low: float | None, high: float | None, kind: Kind = "score", sign: bool = True) -> str:
    if low is None or high is None:
        return MISSING
    show = signed if sign else number
    return f"[{show(low, kind)}, {show(high, kind)}]"


def plain(value: float) -> str:
    """A setting as a user would write it in YAML (``0.5``, ``5000``): for stable names."""
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def ms(value: float | None) -> str:
    """Latency with its unit."""
    return MISSING if value is None else number(value, "ms") + " ms"


def p_value(p: float | None) -> str:
    if p is None:
        return MISSING
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def timestamp(iso: str | None) -> str:
    """A moment as a person reads it, in UTC to the minute: ``2026-12-07 07:09 UTC``."""
    from datetime import UTC, datetime

    if not iso:
        return MISSING
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float | None) -> str:
    """A span of time in the two largest units: ``0.4 s``, ``42 s``, ``2 min 25 s``, ``3 h 05 min``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return MISSING
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def elapsed(start_iso: str | None, end_iso: str | None) -> str:
    """The duration between two ISO timestamps (``–`` when either is missing)."""
    from datetime import datetime

    if not start_iso or not end_iso:
        return MISSING
    try:
        return duration((datetime.fromisoformat(end_iso) - datetime.fromisoformat(start_iso)).total_seconds())
    except (ValueError, TypeError):
        return MISSING
