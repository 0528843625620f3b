"""Small charts drawn at render time as inline SVG (no JavaScript, no external library).

Distributions are small multiples: one strip per variant on a shared axis, so they never blur
together. Names, legends and figures are HTML text around the SVG (they wrap, never truncate or
overlap a bar). A metric with one value everywhere is said in words, not drawn on an axis; a
pass/fail metric is a bar of its pass share per variant. Every number goes through numbers.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape

from evalkit._util.numbers import Kind, number

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]
W, ROW, PAD = 360, 34, 6  # width, height of one variant's strip, side padding
PLOT_H = 180  # the cost-vs-quality plot
BIN_SLICE = 8_192  # values binned at a time


def _swatch(k: int) -> str:
    color = PALETTE[k % len(PALETTE)]
    return (
        f'<svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" '
        f'rx="2" fill="{color}"/></svg>'
    )


def _figure(title: str, body: str, note: str = "") -> str:
    extra = f'<p class="chart-note">{escape(note)}</p>' if note else ""
    return f'<figure class="chart-fig"><figcaption>{escape(title)}</figcaption>{body}{extra}</figure>'


def _label(k: int, name: str, detail: str) -> str:
    return (
        f'<div class="sm-label">{_swatch(k)}<span class="sm-name">{escape(name)}</span>'
        f'<span class="sm-detail">{escape(detail)}</span></div>'
    )


def _span_of(series: Mapping[str, Sequence[float]]) -> tuple[float, float, int] | None:
    """The lowest and highest value of all variants and how many there are (None: no value),
    without a list of them all (a million-case run's values are arrays of doubles: a list of
    them would hold a Python float per value, 32 MB)."""
    filled = [vs for vs in series.values() if len(vs)]
    if not filled:
        return None
    return min(min(vs) for vs in filled), max(max(vs) for vs in filled), sum(len(vs) for vs in filled)


def _x(v: float, lo: float, hi: float) -> float:
    return PAD + (v - lo) / (hi - lo) * (W - 2 * PAD)


def _binned(values: Sequence[float], lo: float, hi: float, bins: int) -> list[int]:
    """How many values fall in each of `bins` equal bins from lo to hi (hi in the last): the bins
    of a slice of values computed in one comprehension and counted by Counter (C), not a Python
    loop; a slice at a time, so no list of every value's bin."""
    span, at = hi - lo, Counter[int]()
    for start in range(0, len(values), BIN_SLICE):
        at.update([int((v - lo) / span * bins) for v in values[start : start + BIN_SLICE]])
    counts = [0] * bins
    for i, c in at.items():
        counts[min(bins - 1, max(0, i))] += c
    return counts


def _strip(values: Sequence[float], lo: float, hi: float, color: str, bins: int, title: str) -> str:
    counts = _binned(values, lo, hi, bins)
    top = max(counts) or 1
    step = (W - 2 * PAD) / bins
    bars = []
    for i, c in enumerate(counts):
        if c:
            h = c / top * (ROW - 6)
            bars.append(
                f'<rect x="{PAD + i * step + 0.5:.1f}" y="{ROW - 2 - h:.1f}" width="{max(step - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{color}"/>'
            )
    base = (
        f'<line x1="{PAD}" y1="{ROW - 1.5}" x2="{W - PAD}" y2="{ROW - 1.5}" '
        'stroke="currentColor" stroke-opacity="0.35"/>'
    )
    return (
        f'<svg class="chart strip" viewBox="0 0 {W} {ROW}" role="img" aria-label="{escape(title)}">'
        + base
        + "".join(bars)
        + "</svg>"
    )


def _axis(lo: float, hi: float, kind: Kind) -> str:
    mid = (lo + hi) / 2
    return (
        '<div class="sm-axis" aria-hidden="true">'
        + "".join(f"<span>{number(v, kind)}</span>" for v in (lo, mid, hi))
        + "</div>"
    )


def distribution(
    title: str, series: Mapping[str, Sequence[float]], kind: Kind = "score", bins: int = 20
) -> str:
    """One metric across variants: small multiples, a pass-share bar, or a sentence."""
    span = _span_of(series)
    if span is None:
        return ""
    lo, hi, n = span
    if lo == hi:
        return _figure(
            title,
            "",
            f"Every measured value is {number(lo, kind)} ({number(n, 'count')} values): nothing to plot.",
        )
    if all(vs.count(0.0) + vs.count(1.0) == len(vs) for vs in series.values()):
        return _shares(title, series)
    rows = []
    for k, (name, vs) in enumerate(series.items()):
        mean = sum(vs) / len(vs) if vs else None
        detail = f"n = {number(len(vs), 'count')} · mean {number(mean, kind)}"
        rows.append(_label(k, name, detail) + _strip(vs, lo, hi, PALETTE[k % len(PALETTE)], bins, name))
    return _figure(title, '<div class="sm">' + "".join(rows) + _axis(lo, hi, kind) + "</div>")


def _shares(title: str, series: Mapping[str, Sequence[float]]) -> str:
    """A 0/1 metric: the share of ones per variant, as bars on a 0–100 % scale."""
    rows = []
    for k, (name, vs) in enumerate(series.items()):
        share = sum(vs) / len(vs) if vs else 0.0
        color = PALETTE[k % len(PALETTE)]
        width = share * (W - 2 * PAD)
        bar = (
            f'<svg class="chart strip" viewBox="0 0 {W} 14" role="img" aria-label="{escape(name)}">'
            f'<rect x="{PAD}" y="2" width="{W - 2 * PAD}" height="10" '
            'fill="currentColor" fill-opacity="0.08"/>'
            f'<rect x="{PAD}" y="2" width="{width:.1f}" height="10" fill="{color}"/></svg>'
        )
        detail = f"{number(share, 'rate')} of {number(len(vs), 'count')}"
        rows.append(_label(k, name, detail) + bar)
    return _figure(title + " (share passing)", '<div class="sm">' + "".join(rows) + "</div>")


def latency(
    title: str, series: Mapping[str, Sequence[float]], markers: Mapping[str, Mapping[str, float]]
) -> str:
    """Latency per variant on a shared axis, with P50/P95/P99 ticks (their values in the label)."""
    span = _span_of(series)
    if span is None:
        return ""
    lo, hi, _ = span
    if lo == hi:
        return _figure(title, "", f"Every latency is {number(lo, 'ms')} ms: nothing to plot.")
    rows = []
    for k, (name, vs) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        marks = markers.get(name, {})
        detail = " · ".join(f"{p} {number(v, 'ms')}" for p, v in marks.items()) + " ms" if marks else ""
        strip = _strip(vs, lo, hi, color, 30, name)
        ticks = "".join(
            f'<line x1="{_x(v, lo, hi):.1f}" y1="0" x2="{_x(v, lo, hi):.1f}" y2="{ROW}" '
            f'stroke="currentColor" stroke-width="{1 + i}" stroke-dasharray="2 2">'
            f"<title>{p} {number(v, 'ms')} ms</title></line>"
            for i, (p, v) in enumerate(marks.items())
            if lo <= v <= hi
        )
        rows.append(_label(k, name, detail) + strip.replace("</svg>", ticks + "</svg>"))
    legend = '<p class="chart-note">dashed ticks: P50, P95, P99 (thicker = higher)</p>'
    return _figure(title, '<div class="sm">' + "".join(rows) + _axis(lo, hi, "ms") + "</div>" + legend)


def pareto(
    title: str,
    points: Sequence[tuple[str, float, float]],
    x_label: str,
    y_label: str,
    y_kind: Kind = "rate",
) -> str:
    """Cost vs quality per variant; Pareto-optimal ones (none cheaper and better) are filled.
    Names are in a legend below, and later points are smaller, so coinciding ones stay visible."""
    if not points:
        return ""
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    x_lo, x_hi = _span(min(xs), max(xs))
    y_lo, y_hi = _span(min(ys), max(ys))
    left, bottom = 48, PLOT_H - 22
    axis = 'stroke="currentColor" stroke-opacity="0.4"'
    parts = [
        f'<line x1="{left}" y1="{bottom}" x2="{W - PAD}" y2="{bottom}" {axis}/>',
        f'<line x1="{left}" y1="8" x2="{left}" y2="{bottom}" {axis}/>',
        f'<text x="{left}" y="{PLOT_H - 8}" font-size="10" fill="currentColor">{number(x_lo, "cost")}</text>',
        f'<text x="{W - PAD}" y="{PLOT_H - 8}" font-size="10" text-anchor="end" fill="currentColor">'
        f"{number(x_hi, 'cost')}</text>",
        f'<text x="{left - 4}" y="{bottom}" font-size="10" text-anchor="end" fill="currentColor">'
        f"{number(y_lo, y_kind)}</text>",
        f'<text x="{left - 4}" y="16" font-size="10" text-anchor="end" fill="currentColor">'
        f"{number(y_hi, y_kind)}</text>",
    ]
    legend = []
    for k, (name, x, y) in enumerate(points):
        dominated = any(ox <= x and oy >= y and (ox, oy) != (x, y) for _, ox, oy in points)
        cx = left + 8 + (x - x_lo) / (x_hi - x_lo) * (W - PAD - left - 16)
        cy = bottom - 8 - (y - y_lo) / (y_hi - y_lo) * (bottom - 24)
        color = PALETTE[k % len(PALETTE)]
        status = "dominated" if dominated else "Pareto-optimal"
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{8 - 2 * min(k, 3)}" '
            f'fill="{"none" if dominated else color}" stroke="{color}" stroke-width="2">'
            f"<title>{escape(name)}</title></circle>"
        )
        legend.append(
            _label(k, name, f"{number(x, 'cost')} per case · {y_label} {number(y, y_kind)} · {status}")
        )
    svg = (
        f'<svg class="chart" viewBox="0 0 {W} {PLOT_H}" role="img" aria-label="{escape(title)}">'
        + "".join(parts)
        + "</svg>"
    )
    note = (
        f"across: {x_label}; up: {y_label}; filled: Pareto-optimal (no other variant is cheaper and better)"
    )
    return _figure(title, svg + '<div class="sm">' + "".join(legend) + "</div>", note)


def _span(lo: float, hi: float) -> tuple[float, float]:
    """A drawable range: equal ends are padded by 10% of their size (not by 1, which dwarfs tiny costs)."""
    if hi > lo:
        return lo, hi
    pad = abs(lo) * 0.1 or 1.0
    return lo - pad, hi + pad
