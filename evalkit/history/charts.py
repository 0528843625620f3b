"""Inline SVG for the trend report: a series over runs with its CI band and change markers,
and the case × run pass/fail heatmap. Every text is escaped; numbers are fixed-point."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

from evalkit.history.alerts import fmt
from evalkit.history.series import Series

PALETTE = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1"]
Scale = Callable[[float], float]
W, H, PAD_L, PAD, TOP = 560, 170, 58, 16, 22


def trend(
    title: str,
    lines: Sequence[Series],
    n_runs: int,
    index: Mapping[str, int],
    markers: Mapping[int, str],
) -> str:
    """Lines over run positions (0 … n_runs-1), CI bands where known, dashed change markers."""
    values = [v for s in lines for v in [*s.values, *s.lows, *s.highs] if v is not None]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 0.5
    lo, hi = lo - pad, hi + pad

    def x(i: float) -> float:
        return PAD_L + (i / max(n_runs - 1, 1)) * (W - PAD_L - PAD)

    def y(v: float) -> float:
        return TOP + (1 - (v - lo) / (hi - lo)) * (H - TOP - PAD)

    parts = [
        f'<text x="{PAD_L}" y="14" class="title">{escape(title)}</text>',
        f'<text x="{PAD_L - 4}" y="{y(hi - pad):.1f}" class="tick" text-anchor="end">{fmt(hi - pad)}</text>',
        f'<text x="{PAD_L - 4}" y="{y(lo + pad):.1f}" class="tick" text-anchor="end">{fmt(lo + pad)}</text>',
        f'<line x1="{PAD_L}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" class="axis"/>',
    ]
    for i, what in sorted(markers.items()):
        parts.append(
            f'<line x1="{x(i):.1f}" y1="{TOP}" x2="{x(i):.1f}" y2="{H - PAD}" class="marker">'
            f"<title>{escape(what)}</title></line>"
        )
    for k, s in enumerate(lines):
        parts += _series(s, PALETTE[k % len(PALETTE)], index, x, y)
    if len(lines) > 1:
        for k, s in enumerate(reversed(lines)):
            color = PALETTE[(len(lines) - 1 - k) % len(PALETTE)]
            parts.append(
                f'<text x="{W - PAD - 110 * k}" y="14" class="tick" text-anchor="end" fill="{color}">'
                f"■ {escape(s.metric)}</text>"
            )
    return (
        f'<svg class="trend" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">'
        + "".join(parts)
        + "</svg>"
    )


def _series(s: Series, color: str, index: Mapping[str, int], x: Scale, y: Scale) -> list[str]:
    rows = list(zip(s.run_ids, s.values, s.lows, s.highs, strict=True))
    parts = []
    band = [(index[r], a, b) for r, _, a, b in rows if a is not None and b is not None]
    if len(band) > 1:
        upper = " ".join(f"{x(i):.1f},{y(b):.1f}" for i, _, b in band)
        lower = " ".join(f"{x(i):.1f},{y(a):.1f}" for i, a, _ in reversed(band))
        parts.append(f'<polygon points="{upper} {lower}" fill="{color}" class="band"/>')
    line = [(index[r], v, r) for r, v, _, _ in rows if v is not None]
    if len(line) > 1:
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v, _ in line)
        parts.append(f'<polyline points="{path}" stroke="{color}" class="line"/>')
    for i, v, run_id in line:
        tip = escape(f"{run_id}: {s.metric} {fmt(v)}")
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"><title>{tip}</title></circle>'
        )
    return parts


def heatmap(cases: Mapping[str, Sequence[str | None]], run_ids: Sequence[str]) -> str:
    """Rows: cases, columns: runs; a cell per verdict (pass / fail / error / none)."""
    if not cases:
        return ""
    cell, label = 9, 150
    width = label + cell * len(run_ids) + 4
    height = cell * len(cases) + 4
    parts = []
    for row, (case_id, verdicts) in enumerate(cases.items()):
        top = row * cell + 2
        name = escape(case_id[:28])
        parts.append(
            f'<text x="{label - 6}" y="{top + cell - 1}" class="case" text-anchor="end">{name}</text>'
        )
        for col, verdict in enumerate(verdicts):
            kind = verdict or "none"
            tip = f"{case_id} · {run_ids[col]}: {kind}"
            parts.append(
                f'<rect x="{label + col * cell}" y="{top}" width="{cell - 1}" height="{cell - 1}" '
                f'class="hm-{kind}"><title>{escape(tip)}</title></rect>'
            )
    return (
        f'<svg class="heatmap" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="cases by run: pass or fail">' + "".join(parts) + "</svg>"
    )
