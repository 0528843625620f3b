"""Small inline SVG charts, drawn at render time (no JavaScript, no external library)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]
W, H, PAD = 360, 160, 28


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def histogram(title: str, series: Mapping[str, Sequence[float]], bins: int = 10) -> str:
    """Overlaid histograms, one outline per variant, on a shared range."""
    values = [v for vs in series.values() for v in vs]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1.0
    width = (hi - lo) / bins
    counts: dict[str, list[float]] = {}
    for name, vs in series.items():
        c = [0] * bins
        for v in vs:
            c[min(bins - 1, int((v - lo) / width))] += 1
        counts[name] = [x / max(len(vs), 1) for x in c]
    top = max(max(c) for c in counts.values()) or 1.0
    parts = [_frame(title, lo, hi)]
    for k, shares in enumerate(counts.values()):
        color = PALETTE[k % len(PALETTE)]
        points = []
        for i, share in enumerate(shares):
            x0 = PAD + i * (W - 2 * PAD) / bins
            x1 = PAD + (i + 1) * (W - 2 * PAD) / bins
            y = H - PAD - share / top * (H - 2 * PAD)
            points += [f"{x0:.1f},{y:.1f}", f"{x1:.1f},{y:.1f}"]
        path = f"{PAD},{H - PAD} " + " ".join(points) + f" {W - PAD},{H - PAD}"
        style = f'fill="{color}" fill-opacity="0.18" stroke="{color}" stroke-width="1.5"'
        parts.append(f'<polyline points="{path}" {style}/>')
    parts.append(_legend(list(counts)))
    return _svg(title, parts)


def latency(
    title: str, series: Mapping[str, Sequence[float]], markers: Mapping[str, Mapping[str, float]]
) -> str:
    """Latency distributions (as histograms) with P50/P95/P99 markers per variant."""
    base = histogram(title, series, bins=20)
    values = [v for vs in series.values() for v in vs]
    if not base or not values:
        return base
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1.0
    marks = []
    for k, (name, ps) in enumerate(markers.items()):
        color = PALETTE[k % len(PALETTE)]
        for label, v in ps.items():
            x = PAD + (v - lo) / (hi - lo) * (W - 2 * PAD)
            marks.append(
                f'<line x1="{x:.1f}" y1="{PAD}" x2="{x:.1f}" y2="{H - PAD}" '
                f'stroke="{color}" stroke-dasharray="3 2">'
                f"<title>{escape(name)} {label} {_fmt(v)} ms</title></line>"
                f'<text x="{x + 2:.1f}" y="{PAD + 10 + 10 * k}" font-size="9" fill="{color}">{label}</text>'
            )
    return base.replace("</svg>", "".join(marks) + "</svg>")


def pareto(title: str, points: Sequence[tuple[str, float, float]], x_label: str, y_label: str) -> str:
    """Cost vs quality per variant; the Pareto-optimal ones (cheaper and better) are filled."""
    if not points:
        return ""
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    x_lo, x_hi = _span(min(xs), max(xs))
    y_lo, y_hi = _span(min(ys), max(ys))
    parts = [_frame(title, x_lo, x_hi, x_label=x_label, y_label=y_label)]
    for k, (name, x, y) in enumerate(points):
        dominated = any(ox <= x and oy >= y and (ox, oy) != (x, y) for _, ox, oy in points)
        cx = PAD + (x - x_lo) / (x_hi - x_lo) * (W - 2 * PAD)
        cy = H - PAD - (y - y_lo) / (y_hi - y_lo) * (H - 2 * PAD)
        color = PALETTE[k % len(PALETTE)]
        fill = "none" if dominated else color
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="{fill}" stroke="{color}" stroke-width="2">'
            f"<title>{escape(name)}: {x_label} {_fmt(x)}, {y_label} {_fmt(y)}"
            f"{' (dominated)' if dominated else ' (Pareto-optimal)'}</title></circle>"
            f'<text x="{cx + 8:.1f}" y="{cy + 4:.1f}" font-size="10" '
            f'fill="currentColor">{escape(name)}</text>'
        )
    return _svg(title, parts)


def _span(lo: float, hi: float) -> tuple[float, float]:
    """A drawable range: equal ends are padded by 10% of their size (not by 1, which dwarfs tiny costs)."""
    if hi > lo:
        return lo, hi
    pad = abs(lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def _frame(title: str, lo: float, hi: float, x_label: str = "", y_label: str = "") -> str:
    axis = 'stroke="currentColor" stroke-opacity="0.4"'
    parts = [
        f'<text x="{PAD}" y="14" font-size="11" font-weight="600" fill="currentColor">{escape(title)}</text>',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" {axis}/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" {axis}/>',
        f'<text x="{PAD}" y="{H - 12}" font-size="9" fill="currentColor">{_fmt(lo)}</text>',
        f'<text x="{W - PAD}" y="{H - 12}" font-size="9" text-anchor="end" '
        f'fill="currentColor">{_fmt(hi)}</text>',
    ]
    if x_label:
        parts.append(
            f'<text x="{W / 2}" y="{H - 2}" font-size="9" text-anchor="middle" fill="currentColor">'
            f"{escape(x_label)}</text>"
        )
    if y_label:
        parts.append(
            f'<text x="8" y="{H / 2}" font-size="9" transform="rotate(-90 8 {H / 2})" text-anchor="middle" '
            f'fill="currentColor">{escape(y_label)}</text>'
        )
    return "".join(parts)


def _legend(names: Sequence[str]) -> str:
    items = []
    for k, name in enumerate(names):
        color = PALETTE[k % len(PALETTE)]
        y = 24 + 12 * k
        items.append(
            f'<rect x="{W - PAD - 70}" y="{y - 8}" width="8" height="8" fill="{color}"/>'
            f'<text x="{W - PAD - 58}" y="{y}" font-size="9" fill="currentColor">{escape(name[:14])}</text>'
        )
    return "".join(items)


def _svg(title: str, parts: Sequence[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">'
        + "".join(parts)
        + "</svg>"
    )
