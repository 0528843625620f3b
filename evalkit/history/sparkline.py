"""The terminal trend: a compact sparkline table that fits 80 columns, in fixed-point numbers."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.history.alerts import fmt
from evalkit.history.series import Series

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 24  # the newest runs a sparkline shows


def sparkline(values: Sequence[float | None], width: int = WIDTH) -> str:
    """One character per run, scaled between the shown minimum and maximum; a gap for no value."""
    shown = list(values)[-width:]
    known = [v for v in shown if v is not None]
    if not known:
        return " " * len(shown)
    lo, hi = min(known), max(known)
    span = hi - lo
    out = []
    for v in shown:
        if v is None:
            out.append(" ")
        elif span == 0:
            out.append(BARS[len(BARS) // 2])
        else:
            out.append(BARS[min(int((v - lo) / span * len(BARS)), len(BARS) - 1)])
    return "".join(out)


def trend_row(series: Series, label_width: int = 22) -> list[str]:
    """label · runs · sparkline · last · change from the previous run · min–max (shown runs)."""
    known = [v for v in series.values if v is not None]
    last = series.values[-1] if series.values else None
    before = next((v for v in reversed(series.values[:-1]) if v is not None), None)
    change = "–" if last is None or before is None else _signed(last - before)
    shown = [v for v in series.values[-WIDTH:] if v is not None]
    span = f"{fmt(min(shown))}–{fmt(max(shown))}" if shown else "–"
    return [
        clip(series.label, label_width),
        str(len(known)),
        sparkline(series.values),
        fmt(last) if last is not None else "–",
        change,
        span,
    ]


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + fmt(value) if value != 0 else "0"
