"""report.html: one self-contained file, rendered from the run directory alone.

Untrusted text (prompts, outputs, references, reasons) travels as one JSON data block that
the page's script reads and shows with textContent only; jinja2 autoescapes everything it
renders; a Content-Security-Policy forbids every remote load and any script but our own.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from evalkit.calibrate import CALIBRATION
from evalkit.report import charts
from evalkit.rundir import (
    ALERTS,
    BASELINE_OUTPUTS,
    DIFF,
    REPORT,
    RESULTS,
    RUN_INFO,
    SUMMARY,
    read_json,
    read_results,
    write_text,
)

TEMPLATES = Path(__file__).parent / "templates"


class _Strings:
    """String interning: repeated prompts (system messages) are stored once."""

    def __init__(self) -> None:
        self.table: list[str] = []
        self.index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int | None:
        if text is None:
            return None
        if text not in self.index:
            self.index[text] = len(self.table)
            self.table.append(text)
        return self.index[text]


def build_data(run_dir: Path) -> dict[str, Any]:
    summary = read_json(run_dir / SUMMARY) or {}
    diff = read_json(run_dir / DIFF)
    info = read_json(run_dir / RUN_INFO) or {}
    baseline: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    if (run_dir / BASELINE_OUTPUTS).exists():
        for line in (run_dir / BASELINE_OUTPUTS).read_text().splitlines():
            record = json.loads(line)
            baseline[(record["suite"], record["variant"], record["case_id"], record.get("repeat", 0))] = (
                record
            )
    flips: set[tuple[str, str, str]] = set()
    regressed_cases: set[tuple[str, str, str]] = set()
    for g in (diff or {}).get("groups", []):
        flips |= {(g["suite"], g["variant"], c) for c in g.get("pass_to_fail", [])}
        regressed_cases |= {(g["suite"], g["variant"], c["case_id"]) for c in g.get("top_regressions", [])}

    s = _Strings()
    cases = []
    for r in read_results(run_dir / RESULTS):
        key = (r.suite, r.variant, r.case_id)
        passed = r.passed()
        base = baseline.get((r.suite, r.variant, r.case_id, r.repeat))
        verdict = (
            "error"
            if r.error
            else ("flip" if key in flips else ("pass" if passed else ("fail" if passed is False else "none")))
        )
        cases.append(
            {
                "s": s(r.suite),
                "v": s(r.variant),
                "id": r.case_id,
                "r": r.repeat,
                "t": [s(t) for t in r.tags],
                "m": [[m.role, s(m.content)] for m in r.messages],
                "ref": [s(x) for x in r.references],
                "o": s(r.output),
                "e": s(r.error),
                "b": s(base.get("output")) if base else None,
                "bs": base.get("scores") if base else None,
                "sc": {n: [v.value, v.passed, s(v.reason)] for n, v in r.scores.items()},
                "lat": r.latency_ms,
                "tok": [r.usage.input_tokens, r.usage.output_tokens],
                "cost": r.cost_usd,
                "vd": verdict,
                "rg": key in regressed_cases,
                "c": r.cached,
                "fb": r.fallback_from,
                "rq": s(r.retrieval_query),
                "rt": None
                if r.retrieval is None
                else [[s(c.id), s(c.doc_id), c.score, s(c.text)] for c in r.retrieval],
            }
        )
    alerts = (read_json(run_dir / ALERTS) or {}).get("alerts", [])  # written by the history step
    return {
        "strings": s.table,
        "cases": cases,
        "summary": summary,
        "diff": diff,
        "run": _run_meta(info),
        "alerts": alerts,
    }


def _run_meta(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": info.get("run_id"),
        "started_at": info.get("started_at"),
        "finished_at": info.get("finished_at"),
        "git_sha": info.get("git_sha"),
        "evalkit_version": info.get("evalkit_version"),
        "config_digest": info.get("config_digest"),
    }


def build_charts(data: dict[str, Any]) -> list[str]:
    strings = data["strings"]
    by_metric: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    latencies: dict[str, list[float]] = defaultdict(list)
    for c in data["cases"]:
        variant = f"{strings[c['s']]} · {strings[c['v']]}"
        for name, (value, _, _) in c["sc"].items():
            if value is not None:
                by_metric[name][variant].append(value)
        if c["lat"] is not None and not c["c"]:
            latencies[variant].append(c["lat"])
    out = [charts.histogram(f"{name} distribution", series) for name, series in sorted(by_metric.items())]
    markers = {}
    points = []
    for g in data["summary"].get("groups", []):
        label = f"{g['suite']} · {g['variant']}"
        lat = g.get("latency", {})
        markers[label] = {
            k: lat[f"{k.lower()}_ms"] for k in ("P50", "P95", "P99") if lat.get(f"{k.lower()}_ms") is not None
        }
        quality = g.get("pass_rate")
        if quality is None and g.get("metrics"):
            quality = next(iter(g["metrics"].values())).get("mean")
        if g.get("cost_per_case_usd") is not None and quality is not None:
            points.append((label, g["cost_per_case_usd"], quality))
    if latencies:
        out.append(charts.latency("latency (ms) with P50 / P95 / P99", latencies, markers))
    if points:
        out.append(charts.pareto("cost vs quality", points, "cost per case (USD)", "pass rate"))
    return [c for c in out if c]


def _asset(name: str) -> tuple[Markup, str]:
    """A script or style to inline, and its CSP hash."""
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    return Markup(text), base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def render(run_dir: Path) -> str:
    data = build_data(run_dir)
    script, script_hash = _asset("report.js")
    style, style_hash = _asset("report.css")
    labels_script, labels_hash = _asset("labels.js")  # labelling (partials/labels.html.j2)
    labels_style, labels_style_hash = _asset("labels.css")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # lenient: older runs lack newer fields
    )
    # JSON in a data block: "<" escaped so no text can close the <script> element
    blob = json.dumps(data, separators=(",", ":"), sort_keys=True).replace("<", "\\u003c")
    return env.get_template("report.html.j2").render(
        summary=data["summary"],
        diff=data["diff"],
        run=data["run"],
        alerts=data["alerts"],
        charts=[Markup(c) for c in build_charts(data)],
        data_json=Markup(blob),
        script=script,
        style=style,
        script_hash=script_hash,
        style_hash=style_hash,
        labels_script=labels_script,
        labels_style=labels_style,
        labels_hash=labels_hash,
        labels_style_hash=labels_style_hash,
        calibration=read_json(run_dir / CALIBRATION),
    )


def write(run_dir: Path) -> Path:
    path = run_dir / REPORT
    write_text(path, render(run_dir))
    return path
