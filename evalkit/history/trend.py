"""The trend report: one self-contained HTML page over the history (no script at all; a CSP
allows only its own inline style; every text escaped by jinja2 or the SVG builder)."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from evalkit._util.jinjacache import bytecode_cache
from evalkit.history import charts
from evalkit.history.alerts import fmt, model_identity
from evalkit.history.series import Series, by_group, series_for
from evalkit.history.store import Filters, HistoryStore
from evalkit.rundir.files import write_text
from evalkit.spec.history import AlertRules

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_RUNS = 100
HEATMAP_ROWS = 60


def build(store: HistoryStore, filters: Filters, rules: AlertRules) -> dict[str, Any]:
    scope = Filters(**{**filters.__dict__, "last": filters.last or DEFAULT_RUNS})
    runs = store.runs(scope)
    ids = [r["run_id"] for r in runs]
    index = {rid: i for i, rid in enumerate(ids)}
    metrics = by_group(store.metrics(filters, ids)) if ids else {}
    sections = []
    for key, rows in (by_group(store.groups(filters, ids)) if ids else {}).items():
        sections.append(_section(store, key, rows, metrics.get(key, []), ids, index))
    return {
        "runs": runs,
        "sections": sections,
        "alerts": store.alerts(ids) if ids else [],  # what each run raised when it was recorded
        "judged": _judged(runs, rules),
        "filters": filters,
    }


def _judged(runs: list[dict[str, Any]], rules: AlertRules) -> str | None:
    """Why the report cannot say 'no alerts', or None when it can."""
    if len(runs) <= rules.min_history:
        return (
            f"only {len(runs)} run(s) match: trend alerts need {rules.min_history} earlier runs of a "
            "suite × variant, so none of these runs could raise one"
        )
    return None


def _section(
    store: HistoryStore,
    key: tuple[str, str],
    rows: list[dict[str, Any]],
    metric_rows: list[dict[str, Any]],
    ids: list[str],
    index: dict[str, int],
) -> dict[str, Any]:
    markers = change_markers(rows, index)
    n = len(ids)
    out = []
    names = list(dict.fromkeys(m["metric"] for m in metric_rows))
    for name in names:
        out.append(
            charts.trend(f"{name} (mean, 95% CI)", series_for(name, [], metric_rows), n, index, markers)
        )
    out.append(charts.trend("pass rate (95% CI)", series_for("pass_rate", rows, []), n, index, markers))
    latency = series_for("latency_p50_ms", rows, []) + series_for("latency_p95_ms", rows, [])
    out.append(charts.trend("latency P50 / P95 (ms)", latency, n, index, markers))
    out.append(
        charts.trend("cost per case (USD)", series_for("cost_per_case_usd", rows, []), n, index, markers)
    )
    out.append(charts.trend("error and retrieval-failure rates", _rates(rows), n, index, markers))
    cases, total = heatmap_rows(store, key, ids)
    last = rows[-1]
    return {
        "suite": key[0],
        "variant": key[1],
        "models": ", ".join(model_identity(last)),
        "latest": {
            "pass rate": _pct(last.get("pass_rate")),
            "error rate": _pct(last.get("error_rate")),
            "latency P95 ms": fmt(last["latency_p95_ms"]) if last.get("latency_p95_ms") is not None else "–",
        },
        "charts": [Markup(c) for c in out if c],
        "markers": [(ids[i], text) for i, text in sorted(markers.items())],
        "heatmap": Markup(charts.heatmap(cases, ids)),
        "heatmap_shown": len(cases),
        "heatmap_total": total,
    }


def _rates(rows: list[dict[str, Any]]) -> list[Series]:
    errors = Series(rows[0]["suite"], rows[0]["variant"], "error rate")
    retrieval = Series(rows[0]["suite"], rows[0]["variant"], "retrieval-failure rate")
    for g in rows:
        for s in (errors, retrieval):
            s.run_ids.append(g["run_id"])
            s.lows.append(None)
            s.highs.append(None)
        errors.values.append(g.get("error_rate"))
        failures, results = g.get("retrieval_failures"), g.get("results") or 0
        retrieval.values.append(failures / results if failures is not None and results else None)
    return [errors] + ([retrieval] if any(v is not None for v in retrieval.values) else [])


def change_markers(rows: Sequence[dict[str, Any]], index: dict[str, int]) -> dict[int, str]:
    """Where the model version, the prompt or the config changed from the run before."""
    out: dict[int, str] = {}
    for before, now in itertools.pairwise(rows):
        what = []
        if model_identity(before) != model_identity(now):
            what.append(f"model {', '.join(model_identity(before))} → {', '.join(model_identity(now))}")
        if before.get("prompt_hash") != now.get("prompt_hash"):
            what.append("prompt changed")
        if before.get("config_hash") != now.get("config_hash") or before.get("config_digest") != now.get(
            "config_digest"
        ):
            what.append("config changed")
        if what:
            out[index[now["run_id"]]] = f"{now['run_id']}: " + "; ".join(what)
    return out


def heatmap_rows(
    store: HistoryStore, key: tuple[str, str], ids: list[str]
) -> tuple[dict[str, list[str | None]], int]:
    """Per case, its verdict in each run; cases that flip first, then the most failing."""
    cells: dict[str, dict[str, list[tuple[bool | None, bool]]]] = defaultdict(lambda: defaultdict(list))
    for run_id, case_id, passed, errored in store.verdicts(ids, *key):
        cells[case_id][run_id].append((passed, errored))
    rows: dict[str, list[str | None]] = {}
    for case_id, by_run in cells.items():
        rows[case_id] = [_verdict(by_run.get(rid, [])) for rid in ids]

    def order(item: tuple[str, list[str | None]]) -> tuple[int, int, str]:
        kinds = {v for v in item[1] if v is not None}
        return (-len(kinds), -sum(v in ("fail", "error") for v in item[1]), item[0])

    ranked = sorted(rows.items(), key=order)[:HEATMAP_ROWS]
    return dict(ranked), len(rows)


def _verdict(cells: list[tuple[bool | None, bool]]) -> str | None:
    if not cells:
        return None
    if all(errored for _, errored in cells):
        return "error"
    judged = [p for p, _ in cells if p is not None]
    if not judged:
        return "none"
    return "pass" if all(judged) else "fail"


def _pct(value: float | None) -> str:
    return f"{value * 100:.1f}%" if value is not None else "–"


def render(context: dict[str, Any]) -> str:
    style = (TEMPLATES / "trend.css").read_text(encoding="utf-8")
    style_hash = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), bytecode_cache=bytecode_cache(), autoescape=True
    )
    return env.get_template("trend.html.j2").render(**context, style=Markup(style), style_hash=style_hash)


def write(store: HistoryStore, filters: Filters, rules: AlertRules, path: Path) -> Path:
    html = render(build(store, filters, rules))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, html)  # the one write path: atomic, secrets scrubbed
    return path
