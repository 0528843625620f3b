"""report.html: one self-contained file, rendered from the run directory alone.

Untrusted text (prompts, outputs, references, reasons) travels as one JSON data block that
the page's script reads and shows with textContent only; jinja2 autoescapes everything it
renders; a Content-Security-Policy forbids every remote load and any script but our own.
"""

from __future__ import annotations

import base64
import bisect
import gzip
import hashlib
import itertools
import json
import operator
import tempfile
import zlib
from array import array
from collections import defaultdict
from collections.abc import Callable, Collection, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import jinja2
import pydantic_core
from markupsafe import Markup
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from evalkit._util import secrets
from evalkit._util.collector import ONE_PASS, long_run
from evalkit._util.jinjacache import bytecode_cache
from evalkit._util.numbers import (
    elapsed,
    figure,
    figure_delta,
    figure_interval,
    kind_of,
    metric_label,
    number,
    timestamp,
    token_counts,
)
from evalkit.compare.gate import (
    VERDICT_LABELS,
    VERDICT_SYMBOLS,
    DiffReport,
    GroupDiff,
    MetricDiff,
    case_lines,
    gate_footnote,
    truncation_text,
    verdict_label,
)
from evalkit.report import charts
from evalkit.report.lookup import Lookup
from evalkit.report.rows import ResultRow, ScoreRow, as_result, parse_row, read_rows
from evalkit.rundir.dir import RunDir
from evalkit.rundir.runinfo import RunInfo
from evalkit.tools.timeline import trace_rows
from evalkit.types import GROUP_VERDICTS, CaseResult

TEMPLATES = Path(__file__).parent / "templates"
# classic scripts, run in this order: common.js first (numbers, data, DOM helpers), the output
# matrix on its own, the case table, then labelling (labels.html.j2)
SCRIPTS = ("common.js", "matrix.js", "report.js", "labels.js")
STYLES = ("report.css", "labels.css")


class _Strings(dict[str | None, int | None]):
    """String interning within one chunk of cases: repeated prompts (system messages) are
    stored once per chunk. Each chunk has its own table, so the page decodes any chunk alone.
    `intern` (the dict's own lookup: a string seen before costs no Python call) gives a string's
    number in the table, None for None; the dict keeps the table's order (insertion order)."""

    def __init__(self) -> None:
        super().__init__({None: None})

    @property
    def intern(self) -> Callable[[str | None], int | None]:
        """The lookup as a function (a property: kept on the instance it would make a cycle,
        holding the chunk's strings until the collector's next full pass)."""
        return self.__getitem__

    def __missing__(self, text: str | None) -> int:
        k = self[text] = len(self) - 1  # None holds the first slot
        return k

    def __call__(self, text: str | None) -> int | None:
        return self[text]

    @property
    def table(self) -> list[str | None]:
        return list(self)[1:]


CHUNK = 2_000  # cases per chunk: the writer holds one chunk at a time, the page decodes one at a time
Chunk = tuple[dict[str, Any], dict[str, Any]]  # a chunk's index and its cases
VERDICTS = ("flip", "error", "fail", "none", "pass")  # the index's verdict codes, in the table's order


@dataclass
class _Context:
    """What each case's row needs from the run's other files."""

    summary: dict[str, Any]
    diff: dict[str, Any] | None
    info: RunInfo | None  # migrated; None: a report of a half-written run still renders
    lookup: Lookup  # the baseline's line and the vars of each case, from an on-disk index
    flips: set[tuple[str, str, str]]
    regressed: set[tuple[str, str, str]]
    deciding: dict[tuple[str, str], Any]


@contextmanager
def _context(run_dir: RunDir, lookup: Lookup | None = None) -> Iterator[_Context]:
    """The context of each case's row; `lookup`: one already loaded (kept open), else one is
    built from the directory's baseline copy and cases.jsonl."""
    summary = run_dir.summary_data() or {}
    diff = run_dir.diff_data()
    flips: set[tuple[str, str, str]] = set()
    regressed: set[tuple[str, str, str]] = set()
    for g in (diff or {}).get("groups", []):
        flips |= {(g["suite"], g["variant"], c) for c in g.get("pass_to_fail", [])}
        regressed |= {(g["suite"], g["variant"], c["case_id"]) for c in g.get("top_regressions", [])}
    deciding = {(g["suite"], g["variant"]): g.get("pass_metrics") for g in summary.get("groups", [])}
    if lookup is not None:
        yield _Context(summary, diff, run_dir.info_or_none(), lookup, flips, regressed, deciding)
        return
    with Lookup(run_dir.baseline_file, run_dir.cases_file) as lookup:
        yield _Context(summary, diff, run_dir.info_or_none(), lookup, flips, regressed, deciding)


def _scores(
    scores: dict[str, ScoreRow], among: Collection[str] | None, s: Callable[[str | None], int | None]
) -> tuple[dict[str, list[Any]], dict[str, Any], bool | None]:
    """The scores as the page shows them (in name order, reasons interned), their values (the
    index's), and whether the case passed (CaseResult.passed, its error aside): True when every
    pass/fail score among `among` (None: all) passed, None when there is none to judge by."""
    out, values, passed_all = {}, {}, None
    for name in sorted(scores) if len(scores) > 1 else scores:
        v = scores[name]
        value, passed = v["value"], v.get("passed")
        out[name] = [value, passed, s(v.get("reason"))]
        values[name] = value
        if passed is not None and (among is None or name in among):
            passed_all = passed and passed_all is not False
    return out, values, passed_all


# A case in the page's cases block is a list of these fields, in this order (the block names them
# once, in "keys"; the page makes each case an object again as it decodes a chunk): suite,
# variant, id, repeat, tags, messages, references, vars, output, error, baseline output,
# baseline scores, baseline passed, scores, latency, tokens, cost, verdict, regressed, cached,
# fallback, retrieval query, retrieved chunks, trace
CASE_KEYS: tuple[str, ...] = ("s", "v", "id", "r", "t", "m", "ref", "vr", "o", "e", "b", "bs", "bp", "sc")
CASE_KEYS += ("lat", "tok", "cost", "vd", "rg", "c", "fb", "rq", "rt", "tr")
_BP, _VD, _RG = (CASE_KEYS.index(k) for k in ("bp", "vd", "rg"))


def _case_row(
    r: ResultRow, ctx: _Context, base: dict[str, Any] | None, case_vars: str | None, s: Callable[..., Any]
) -> tuple[list[Any], dict[str, Any]]:
    """A case as the page's cases block holds it (CASE_KEYS), its text interned (`s`), and its
    scores' values. Dicts whose order the page shows (scores) are in name order: the block is
    written as it is built, keys not sorted (the baseline's come so from the lookup)."""
    suite, variant, case_id = r["suite"], r["variant"], r["case_id"]
    usage, retrieval, error = r.get("usage") or {}, r.get("retrieval"), r.get("error")
    scores, values, passed = _scores(r.get("scores") or {}, ctx.deciding.get((suite, variant)), s)
    key = (suite, variant, case_id)
    if error:
        verdict = "error"
    elif key in ctx.flips:
        verdict = "flip"
    else:
        verdict = "pass" if passed else ("fail" if passed is False else "none")
    row = [  # in CASE_KEYS' order
        s(suite),
        s(variant),
        case_id,
        r["repeat"],
        list(map(s, r.get("tags") or ())),
        [[m["role"], s(m["content"])] for m in r["messages"]],
        list(map(s, r.get("references") or ())),
        s(case_vars),
        s(r["output"]),
        s(error),
        s(base.get("output")) if base else None,
        base.get("scores") if base else None,
        _baseline_passed(base) if base else None,
        scores,
        r.get("latency_ms"),
        [usage.get("input_tokens"), usage.get("output_tokens")],
        r.get("cost_usd"),
        verdict,
        key in ctx.regressed,
        r.get("cached", False),
        r.get("fallback_from"),
        s(r.get("retrieval_query")),
        None if retrieval is None else [[s(c.id), s(c.doc_id), c.score, s(c.text)] for c in retrieval],
        timeline(as_result(r), s) if r.get("steps") or r.get("tool_calls") else None,
    ]
    return row, values


class _Series:
    """The values the charts draw, gathered as the cases stream past (numbers only)."""

    def __init__(self) -> None:
        self.by_metric: dict[str, dict[str, array[float]]] = defaultdict(
            lambda: defaultdict(lambda: array("d"))
        )
        self.latencies: dict[str, array[float]] = defaultdict(lambda: array("d"))
        self.labels: dict[tuple[str, str], str] = {}  # (suite, variant) → the charts' label

    def add(self, r: ResultRow) -> None:
        key = (r["suite"], r["variant"])
        variant = self.labels.get(key) or self.labels.setdefault(key, f"{key[0]} · {key[1]}")
        by_metric = self.by_metric
        for name, score in (r.get("scores") or {}).items():
            if (value := score["value"]) is not None:
                by_metric[name][variant].append(value)
        latency = r.get("latency_ms")
        if latency is not None and not r.get("cached", False):
            self.latencies[variant].append(latency)


def _hash(text: str | None) -> int:
    """A case's output as the index compares it (-2: none)."""
    return -2 if text is None else zlib.crc32(text.encode("utf-8", "surrogatepass"))


INDEX_COLUMNS = ("s", "v", "t", "id", "r", "vd", "rg", "lat", "oh", "bh", "bp")
VERDICT_CODES = {v: i for i, v in enumerate(VERDICTS)}
_NO_SCORE: Any = object()  # a case without that score (False in the index's column)
_NO_SCORES: dict[str, Any] = {}  # a case without a baseline (never changed)


class _Index:
    """One chunk's index, column by column: everything the case table's rows, its filters and
    sorts and the output matrix's filters and sorts need, without the case's text. A case is
    one tuple (and its scores' values) as it passes; the columns are made once, at the end."""

    def __init__(self) -> None:
        self.names = _Strings()
        self._s = self.names.intern
        self.rows: list[tuple[Any, ...]] = []
        self.scores: list[dict[str, Any]] = []
        self.base_scores: list[dict[str, Any]] = []

    def add(self, row: list[Any], r: ResultRow, values: dict[str, Any], base: Any) -> None:
        """A case: its page row, its result and its scores' values (from _case_row), its baseline."""
        s = self._s
        latency = r.get("latency_ms")
        if base is None:
            base_hash, base_scores = None, _NO_SCORES
        else:
            base_output = base.get("output")
            base_hash = None if base_output is None else _hash(base_output)
            base_scores = base.get("scores") or {}
        self.rows.append(
            (
                s(r["suite"]),
                s(r["variant"]),
                list(map(s, r.get("tags") or ())),
                r["case_id"],
                r["repeat"],
                VERDICT_CODES[row[_VD]],
                int(row[_RG]),
                None if latency is None else round(latency, 2),
                -1 if r.get("error") else _hash(r["output"]),
                base_hash,
                row[_BP],
            )
        )
        self.scores.append(values)
        self.base_scores.append(base_scores)

    def data(self) -> dict[str, Any]:
        *_, data = self.building()
        assert data is not None
        return data

    def building(self) -> Iterator[dict[str, Any] | None]:
        """`data()` in three steps (a None after each), the data last."""
        columns = dict(zip(INDEX_COLUMNS, (list(c) for c in zip(*self.rows, strict=True)), strict=True))
        yield None
        scores = _score_columns(self.scores)
        yield None
        yield {
            "n": len(self.rows),
            "names": self.names.table,
            **columns,
            "sc": scores,
            "bs": _score_columns(self.base_scores),
        }


def _score_columns(per_case: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Each score's column: its value rounded, None when it has none, False for a case without it."""
    names = sorted({name for scores in per_case for name in scores})
    return {
        name: [
            False
            if (value := scores.get(name, _NO_SCORE)) is _NO_SCORE
            else (None if value is None else round(value, 6))
            for scores in per_case
        ]
        for name in names
    }


GZIP_LEVEL = 4  # level 5 took 40 % longer for blocks 5 to 8 % smaller (benchmarks page, round five)


def _json(data: dict[str, Any]) -> bytes:
    """JSON (UTF-8), secrets scrubbed value by value. pydantic-core writes it (a third of
    json.dumps' time); text it cannot write as UTF-8 (a lone surrogate from an older line)
    goes through json.dumps as before."""
    try:
        raw = pydantic_core.to_json(data)
        text = raw.decode("utf-8")
    except (PydanticSerializationError, UnicodeDecodeError):
        raw, text = b"", json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if not raw or secrets.may_contain_secret(text):
        text = secrets.scrub_json_text(text, separators=(",", ":"), ensure_ascii=False)
        raw = text.encode("utf-8", "surrogatepass")
    return raw


def _gzip64(raw: bytes) -> str:
    """Gzipped (no timestamp: the same run gives the same file) and base64-encoded: text that
    cannot close the <script> element it sits in."""
    return base64.b64encode(gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)).decode("ascii")


def _packed(data: dict[str, Any]) -> str:
    """A data block as the page holds it: JSON, scrubbed, gzipped, base64-encoded."""
    return _gzip64(_json(data))


JSON_SLICE = 125  # list items serialized at a time by `json_sliced` (a fraction of a millisecond)
JSON_SLICE_BYTES = 256 * 1024  # ... and at most about this many bytes (a longer item alone)


def _weight(value: Any) -> int:
    """About the length of `value`'s compact JSON and the comma after it, counted in characters
    (exact for ASCII text that needs no escaping; ints up to 7 digits count 8)."""
    if isinstance(value, str):
        return len(value) + 3
    if isinstance(value, list | tuple):
        return 2 + sum(map(_weight, value))
    if isinstance(value, dict):
        return 2 + sum(_weight(k) + _weight(v) for k, v in value.items())
    return 8


_PLAIN = frozenset({int, float, bool, type(None)})  # JSON_SLICE of these are a few KB at most


def json_slices(items: list[Any]) -> Iterator[list[Any]]:
    """`items` in slices of at most `JSON_SLICE` items whose JSON is at most about
    `JSON_SLICE_BYTES` (`_weight`), but for a single item longer than that, alone: one slice's
    `pydantic_core.to_json` holds the event loop for a fraction of a millisecond whether the
    items are numbers or 100 KB outputs. A list of numbers, of lists of numbers or of text is
    weighed at C speed (a chunk's columns and its strings table)."""
    kinds = set(map(type, items))
    if kinds <= _PLAIN:
        for at in range(0, len(items), JSON_SLICE):
            yield items[at : at + JSON_SLICE]
        return
    if kinds == {str}:
        weights: Iterator[int] = map(operator.add, map(len, items), itertools.repeat(3))
    elif kinds <= {list, tuple} and set(map(type, itertools.chain.from_iterable(items))) <= _PLAIN:
        counts = map(len, items)  # lists of numbers (a chunk's tags column): 8 an item, as `_weight`
        weights = map(operator.add, map(operator.mul, counts, itertools.repeat(8)), itertools.repeat(3))
    else:
        weights = map(_weight, items)
    ends = list(itertools.accumulate(weights))  # ends[k]: the weight of items[: k + 1]
    start = 0
    while start < len(items):
        base = ends[start - 1] if start else 0
        end = bisect.bisect_right(ends, base + JSON_SLICE_BYTES, lo=start)
        end = min(max(end, start + 1), start + JSON_SLICE)
        yield items[start:end]
        start = end


def json_sliced(data: dict[str, Any]) -> Iterator[bytes | None]:
    """`_json(data)` a slice at a time: each value on its own and a list `json_slices` at a
    time, a None yielded after each (a run's event loop goes on meanwhile: see
    `evalkit.report.casefeed`), the JSON last. pydantic-core writes compact JSON, so the
    slices joined are its JSON of the whole; where `_json` would go another way (text it cannot
    write, a secret to scrub) the last item is `_json(data)` itself."""
    parts = []
    try:
        for key, value in data.items():
            if isinstance(value, list):
                items = []
                for part in json_slices(value):
                    items.append(pydantic_core.to_json(part)[1:-1])
                    yield None
                parts.append(pydantic_core.to_json(key) + b":[" + b",".join(items) + b"]")
            else:
                parts.append(pydantic_core.to_json(key) + b":" + pydantic_core.to_json(value))
        raw = b"{" + b",".join(parts) + b"}"
        text = raw.decode("utf-8")
    except (PydanticSerializationError, UnicodeDecodeError):
        yield _json(data)
        return
    yield _json(data) if secrets.may_contain_secret(text) else raw


def case_chunks(
    run_dir: RunDir, ctx: _Context, series: _Series, chunk: int | None = None
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The cases in chunks of `chunk` (default CHUNK): each chunk's index (see _Index) and its
    cases, with the strings they share; results.jsonl is read once, a result at a time."""
    chunk = chunk or CHUNK
    batch: list[ResultRow] = []
    for r in read_rows(run_dir.results_file):
        series.add(r)
        batch.append(r)
        if len(batch) >= chunk:
            yield _chunk(batch, ctx)
            batch = []
    if batch:
        yield _chunk(batch, ctx)


def _chunk(batch: list[ResultRow], ctx: _Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """A chunk's index and cases, their baselines and vars looked up a chunk at a time."""
    chunk = _Chunk(ctx)
    chunk.add(batch)
    return chunk.data()


class _Chunk:
    """A chunk's index and cases as its results are added, a few at a time or all at once (the
    same rows either way: the strings are interned in the results' order), their baselines and
    vars looked up a batch at a time."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.strings, self.index = _Strings(), _Index()
        self.rows: list[list[Any]] = []
        self.n = 0

    def add(self, batch: list[ResultRow]) -> None:
        ctx = self.ctx
        bases = ctx.lookup.baselines((r["suite"], r["variant"], r["case_id"], r["repeat"]) for r in batch)
        case_vars = ctx.lookup.vars((r["suite"], r["case_id"]) for r in batch)
        s, add, found, rows = self.strings.intern, self.index.add, case_vars.get, self.rows
        for r in batch:
            base = bases.get((r["suite"], r["variant"], r["case_id"], r["repeat"])) if bases else None
            row, values = _case_row(r, ctx, base, found((r["suite"], r["case_id"])), s)
            rows.append(row)
            add(row, r, values, base)
        self.n += len(batch)

    def data(self) -> Chunk:
        return self.index.data(), self.cases()

    def cases(self) -> dict[str, Any]:
        return {"strings": self.strings.table, "keys": CASE_KEYS, "cases": self.rows}


def build_data(where: RunDir | Path, chunk: int | None = None) -> dict[str, Any]:
    """Everything the page's data holds (for tests and small runs; the report itself is
    written chunk by chunk): the meta block and the chunks, each its index and its cases."""
    run_dir = RunDir.of(where)
    with _context(run_dir) as ctx:
        chunks = list(case_chunks(run_dir, ctx, _Series(), chunk))
        return {**_meta(run_dir, ctx), "chunks": chunks}


def _meta(run_dir: RunDir, ctx: _Context) -> dict[str, Any]:
    alerts = run_dir.alerts()  # written by the history step
    return {"summary": ctx.summary, "diff": ctx.diff, "run": _run_meta(ctx.info), "alerts": alerts}


CASE_LISTS = ("added", "removed", "changed_input", "pass_to_fail", "fail_to_pass", "still_failing")
PAGE_CASE_LIST = 20  # ids of each list kept in the page's data block (the overview lists as many)


def page_diff(diff: dict[str, Any] | None) -> dict[str, Any] | None:
    """diff.json as the page's data block carries it: each group's case lists cut to their first
    PAGE_CASE_LIST ids (a gated run of a million cases lists hundreds of thousands, which the page
    would parse at load and never read: the cases' verdicts travel in the index)."""
    if not diff:
        return diff
    groups = [
        {k: v[:PAGE_CASE_LIST] if k in CASE_LISTS and isinstance(v, list) else v for k, v in g.items()}
        for g in diff.get("groups", [])
    ]
    return {**diff, "groups": groups}


def _baseline_passed(base: dict[str, Any] | None) -> bool | None:
    """Whether the baseline's side of a case passed every pass/fail scorer (None: nothing to say)."""
    if not base or base.get("error") is not None or not base.get("passed"):
        return None
    return all(base["passed"].values())


def timeline(result: CaseResult, s: Callable[[str | None], int | None]) -> list[list[Any]] | None:
    """The trace as rows [id, type, name, input, output, latency ms, error, failed a scorer];
    a result with tool calls but no steps shows its calls."""
    rows = trace_rows(result)
    if rows is None:
        return None
    return [[s(a), s(b), s(c), s(d), s(e), lat, s(err), bad] for a, b, c, d, e, lat, err, bad in rows]


RUN_META = ("run_id", "started_at", "finished_at", "git_sha", "git_dirty", "evalkit_version", "config_digest")


def _run_meta(info: RunInfo | None) -> dict[str, Any]:
    meta: dict[str, Any] = {name: getattr(info, name, None) for name in RUN_META}
    meta["started"] = timestamp(meta["started_at"])
    meta["took"] = elapsed(meta["started_at"], meta["finished_at"])
    return meta


def build_charts(summary: dict[str, Any], series: _Series) -> list[str]:
    by_metric, latencies = series.by_metric, series.latencies
    out = [charts.distribution(name, groups, kind_of(name)) for name, groups in sorted(by_metric.items())]
    markers = {}
    points = []
    for g in summary.get("groups", []):
        label = f"{g['suite']} · {g['variant']}"
        lat = g.get("latency", {})
        markers[label] = {
            k: lat[f"{k.lower()}_ms"] for k in ("P50", "P95", "P99") if lat.get(f"{k.lower()}_ms") is not None
        }
        quality, name = g.get("pass_rate"), "pass rate"
        if quality is None and g.get("metrics"):
            name, first = next(iter(g["metrics"].items()))
            quality = first.get("mean")
        if g.get("cost_per_case_usd") is not None and quality is not None:
            points.append((label, g["cost_per_case_usd"], quality, name))
    if latencies:
        out.append(charts.latency("latency (ms) with P50 / P95 / P99", latencies, markers))
    if points and len({p[3] for p in points}) == 1:
        y = points[0][3]
        kind = "rate" if y == "pass rate" else kind_of(y)
        out.append(charts.pareto("cost vs quality", [p[:3] for p in points], "cost per case", y, kind))
    return [c for c in out if c]


def _asset(name: str) -> tuple[Markup, str]:
    """A script or style to inline, and its CSP hash."""
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    return Markup(text), base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _verdict(m: dict[str, Any]) -> tuple[str, str]:
    """The verdict code and the words gate.verdict_label gives it (older diff.json: the code)."""
    code = str(m.get("verdict", "unmeasured"))
    try:
        return code, verdict_label(MetricDiff.model_validate(m))
    except ValidationError:
        return code, VERDICT_LABELS.get(code, code)


def _case_lines(gd: dict[str, Any] | None) -> list[str]:
    """pass → fail and fail → pass cases, in the words every surface uses (older diff.json: none)."""
    try:
        return case_lines(GroupDiff.model_validate(gd)) if gd else []
    except ValidationError:
        return []


def causes(summary: dict[str, Any]) -> list[str]:
    """Why requests failed and scores went unmeasured, by cause (the terminal's words)."""
    from evalkit._util.causes import causes_text
    from evalkit.compare.aggregate import Summary

    try:
        s = Summary.model_validate(summary)
    except ValidationError:
        return []
    errors, unmeasured = s.error_causes(), s.unmeasured_causes()
    out = [f"{sum(errors.values()):,} errors: {causes_text(errors)}"] if errors else []
    if unmeasured:
        out.append(f"{sum(unmeasured.values()):,} unmeasured scores: {causes_text(unmeasured)}")
    return out


def footnote(diff: dict[str, Any] | None) -> str | None:
    try:
        return gate_footnote(DiffReport.model_validate(diff)) if diff else None
    except ValidationError:
        return None


def _gate_line(gd: dict[str, Any] | None) -> str | None:
    """The suite × variant's gate outcome in the words of evalkit.types.GROUP_VERDICTS."""
    if not gd:
        return None
    label = GROUP_VERDICTS.get(str(gd.get("verdict")))
    words = f"{label.symbol} {label.words}" if label else str(gd.get("verdict"))
    return f"{words} · {gd.get('paired', 0)} paired cases"


def _truncation_line(gd: dict[str, Any] | None) -> str | None:
    """The truncation rate against the baseline's (the terminal's words)."""
    if not gd or not gd.get("truncation"):
        return None
    try:
        return truncation_text(GroupDiff.model_validate(gd))
    except ValidationError:
        return None


def _judge_figures(g: dict[str, Any]) -> dict[str, str]:
    """Each judge's own calls, tokens and cost (the terminal's and summary.md's words)."""
    from evalkit.compare.judgecost import judge_text
    from evalkit.types import JudgeUsage

    out = {}
    for name, raw in (g.get("judges") or {}).items():
        try:
            out[f"judge {name}"] = judge_text(name, JudgeUsage.model_validate(raw))[len(name) + 2 :]
        except ValidationError:
            continue
    return out


def _metric_row(name: str, mean: float | None, unmeasured: int, md: dict[str, Any] | None) -> dict[str, Any]:
    code, label = _verdict(md) if md else ("none", "–")
    md = md or {}
    return {
        "name": metric_label(name),
        "verdict": code,
        "symbol": VERDICT_SYMBOLS.get(code, ""),
        "label": label,
        "baseline": figure(name, md.get("baseline")),
        "candidate": figure(name, mean),
        "unmeasured": unmeasured,
        "delta": figure_delta(name, md.get("delta")),
        "ci": figure_interval(name, md.get("ci_low"), md.get("ci_high")),
    }


def overview(summary: dict[str, Any], diff: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What the overview shows per suite × variant, every number already written for people."""
    diffs = {(g["suite"], g["variant"]): g for g in (diff or {}).get("groups", [])}
    out = []
    for g in summary.get("groups", []):
        gd = diffs.get((g["suite"], g["variant"]))
        by_name = {m["metric"]: m for m in (gd or {}).get("metrics", [])}
        rows = [
            {
                **_metric_row(name, m.get("mean"), m.get("unmeasured", 0), by_name.get(name)),
                "informational": bool(m.get("informational")),  # shown, never part of a pass
            }
            for name, m in g.get("metrics", {}).items()
        ]
        lat = g.get("latency", {})
        for name, value in (
            ("latency_p95_ms", lat.get("p95_ms")),
            ("cost_per_case_usd", g.get("cost_per_case_usd")),
        ):
            md = by_name.get(name)
            if md and md.get("delta") is not None:
                rows.append(_metric_row(name, value, 0, md))
        tokens = g.get("tokens", {})
        consistency = g.get("consistency")
        out.append(
            {
                "g": g,
                "rows": rows,
                "warnings": (gd or {}).get("warnings", []),
                "baseline_run": (gd or {}).get("baseline_run"),
                "gate": _gate_line(gd),
                "cases": _case_lines(gd) + [t for t in [_truncation_line(gd)] if t],
                "prompt_diffs": [p["diff"] for p in (gd or {}).get("provenance", []) if p.get("diff")],
                "changes": [
                    f"{p['what']} {p['baseline']} → {p['candidate']}"
                    + (f" ({p['detail']})" if p.get("detail") else "")
                    for p in (gd or {}).get("provenance", [])
                ],
                "figures": {
                    "pass rate": number(g.get("pass_rate"), "rate"),
                    "latency P50 / P95 / P99": " / ".join(
                        number(lat.get(k), "ms") for k in ("p50_ms", "p95_ms", "p99_ms")
                    )
                    + " ms",
                    "tokens in / out": token_counts(
                        tokens.get("input"),
                        tokens.get("output"),
                        tokens.get("mean_input_per_case") is not None,
                    ),
                    "cost": number(g.get("cost_usd"), "cost"),
                    "errors": number(g.get("errors"), "count"),
                    **(
                        {"truncated": f"{number(g.get('truncation_rate'), 'rate')} ({g['truncated']})"}
                        if g.get("truncated")
                        else {}
                    ),
                    **(
                        {"flaky cases": number(consistency.get("flaky_share"), "rate")} if consistency else {}
                    ),
                    **_judge_figures(g),
                },
            }
        )
    return out


def frontier(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each suite's cost–quality frontier, every figure written for people (the terminal's words)."""
    from evalkit.compare.frontier import SuiteFrontier, marks_text, pick_text, rule_text, vs_best_text

    out = []
    for raw in summary.get("frontier", []):
        try:
            f = SuiteFrontier.model_validate(raw)
        except ValidationError:
            continue
        rows = [
            {
                "variant": v.variant,
                "pick": v.variant == f.pick,
                "dominated": bool(v.dominated_by),
                "cells": [
                    number(v.pass_rate, "rate"),
                    number(v.quality, kind_of(f.metric or "")),
                    number(v.cost_per_case_usd, "cost"),
                    number(v.latency_p95_ms, "ms"),
                ],
                "vs_best": vs_best_text(f, v),
                "marks": marks_text(f, v),
            }
            for v in f.variants
        ]
        out.append(
            {
                "suite": f.suite,
                "metric": f.metric or "–",
                "rows": rows,
                "pick": pick_text(f),
                "rule": rule_text(f),
            }
        )
    return out


CASES_MARK = "<!--evalkit-cases-->"
SPOOL_BYTES = 8 * 2**20  # packed blocks held in memory up to this size, then in a scratch file


def render_pieces(run_dir: RunDir, fed: Fed | None = None) -> Generator[str]:
    """The page in pieces: each chunk's index and cases are packed and written to two scratch
    files (in memory while small) as they are built (collecting the charts' values), then the
    page is put together around them: every index first (the page reads them at load), then
    the cases (read a chunk at a time, when the page needs them). `fed`: the chunks a run built
    while it wrote results.jsonl (`evalkit.report.casefeed`), taken where they are what reading
    the file gives (the chunks whose rows the gate changed rebuilt from their lines)."""
    if fed is not None:
        with fed:
            yield from _fed_pieces(run_dir, fed)
        return
    series = _Series()
    with (
        _context(run_dir) as ctx,
        tempfile.SpooledTemporaryFile(SPOOL_BYTES, "w+", encoding="ascii") as indexes,
        tempfile.SpooledTemporaryFile(SPOOL_BYTES, "w+", encoding="ascii") as cases,
    ):
        _pack_all(case_chunks(run_dir, ctx, series), indexes, cases)
        head, _, tail = _page(run_dir, ctx, series).partition(CASES_MARK)
        yield head
        yield from _blocks(indexes, cases)
        yield tail


@dataclass
class Fed:
    """report.html's chunks, built and packed while a run wrote results.jsonl
    (`evalkit.report.casefeed`) with no gate yet: the packed blocks (as `render_pieces` writes
    them), the charts' values, the lookup the rows were built with, each (suite, variant)'s pass
    rule they were built with, each chunk's bytes in results.jsonl and, for a gated run, the
    hash of each of its rows' (suite, variant, case id): a chunk holding a case the gate
    flipped or counts among the top regressions is rebuilt from its lines."""

    indexes: IO[str]
    cases: IO[str]
    series: _Series
    lookup: Lookup
    deciding: dict[tuple[str, str], Any]
    ranges: list[tuple[int, int]]
    keys: list[array[int]] | None
    release: Callable[[], None]  # lets everything go; may be called again

    def __enter__(self) -> Fed:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _fed_pieces(run_dir: RunDir, fed: Fed) -> Iterator[str]:
    with _context(run_dir, fed.lookup) as ctx:
        rebuild = _to_rebuild(fed, ctx)
        if rebuild is None:  # rows built with another pass rule, or a gate's cases not traced
            yield from render_pieces(run_dir)
            return
        with (
            tempfile.SpooledTemporaryFile(SPOOL_BYTES, "w+", encoding="ascii") as indexes,
            tempfile.SpooledTemporaryFile(SPOOL_BYTES, "w+", encoding="ascii") as cases,
        ):
            _pack_all(_rebuilt(run_dir, ctx, [fed.ranges[k] for k in rebuild]), indexes, cases)
            head, _, tail = _page(run_dir, ctx, fed.series).partition(CASES_MARK)
            yield head
            yield from _blocks(fed.indexes, fed.cases, (set(rebuild), indexes, cases))
            yield tail


def _to_rebuild(fed: Fed, ctx: _Context) -> list[int] | None:
    """The chunks whose rows the gate changes (a flip, a top regression), in order; None: the
    fed rows cannot be kept (built with another pass rule, or a gate whose cases were not traced)."""
    if any(fed.deciding.get(key) != ctx.deciding.get(key) for key in fed.series.labels):
        return None
    touched = ctx.flips | ctx.regressed
    if not touched:
        return []
    if fed.keys is None:
        return None
    wanted = set(map(hash, touched))
    return [k for k, hashes in enumerate(fed.keys) if not wanted.isdisjoint(hashes)]


def _rebuilt(run_dir: RunDir, ctx: _Context, ranges: list[tuple[int, int]]) -> Iterator[Chunk]:
    """The chunks of these byte ranges of results.jsonl, read again and built in the gate's context."""
    with run_dir.results_file.open("rb") as fh:
        for start, end in ranges:
            fh.seek(start)
            # newlines only: JSON writes U+2028, U+2029 and NEL as they are (str.splitlines splits there)
            lines = fh.read(end - start).decode("utf-8").split("\n")
            yield _chunk([parse_row(line) for line in lines if line and not line.isspace()], ctx)


def _pack_all(chunks: Iterable[Chunk], indexes: IO[str], cases: IO[str]) -> None:
    """Each chunk's index and cases packed and written, in order. A chunk is gzipped on a
    second thread (zlib lets go of the GIL) while the next is built: one chunk waits at most."""

    def gzipped(n: int, index: bytes, chunk: bytes) -> tuple[int, str, str]:
        return n, _gzip64(index), _gzip64(chunk)

    def write(job: Future[tuple[int, str, str]]) -> None:
        n, index, chunk = job.result()
        indexes.write(f"{n} {index}\n")
        cases.write(chunk + "\n")

    with ThreadPoolExecutor(1, thread_name_prefix="evalkit-report-gzip") as pool:
        previous = None
        for index, chunk in chunks:
            job = pool.submit(gzipped, index["n"], _json(index), _json(chunk))
            if previous is not None:
                write(previous)
            previous = job
        if previous is not None:
            write(previous)


Replaced = tuple[set[int], IO[str], IO[str]]  # these chunks' blocks are in those two files, in order


def _blocks(indexes: IO[str], cases: IO[str], replaced: Replaced | None = None) -> Iterator[str]:
    which, new_indexes, new_cases = replaced or (set(), indexes, cases)
    for line in _lines(indexes, new_indexes, which):
        n, text = line.split()
        yield f'<script type="text/plain" class="evalkit-index" data-n="{n}">{text}</script>\n'
    for line in _lines(cases, new_cases, which):
        yield f'<script type="text/plain" class="evalkit-cases">{line.rstrip()}</script>\n'


def _lines(spool: IO[str], replacing: IO[str], which: set[int]) -> Iterator[str]:
    """The lines of `spool`, the k-th taken from `replacing` (in order) for each k in `which`."""
    spool.seek(0)
    if replacing is not spool:
        replacing.seek(0)
    for k, line in enumerate(spool):
        yield replacing.readline() if k in which else line


def _page(run_dir: RunDir, ctx: _Context, series: _Series) -> str:
    meta = _meta(run_dir, ctx)
    scripts = [_asset(name) for name in SCRIPTS]
    styles = [_asset(name) for name in STYLES]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        bytecode_cache=bytecode_cache(),  # compiled once per evalkit version, not per run
        autoescape=True,  # lenient: older runs lack newer fields
    )
    env.filters["num"] = number  # {{ value | num("cost") }}: numbers.py, as everywhere
    # JSON in a data block: "<" escaped so no text can close the <script> element
    page_meta = {**meta, "diff": page_diff(meta["diff"])}
    blob = json.dumps(page_meta, separators=(",", ":"), sort_keys=True).replace("<", "\\u003c")
    return env.get_template("report.html.j2").render(
        summary=meta["summary"],
        diff=meta["diff"],
        run=meta["run"],
        alerts=meta["alerts"],
        overview=overview(meta["summary"], meta["diff"]),
        frontier=frontier(meta["summary"]),
        footnote=footnote(meta["diff"]),
        causes=causes(meta["summary"]),
        results=number(meta["summary"].get("results"), "count"),
        errors=number(meta["summary"].get("errors"), "count"),
        charts=[Markup(c) for c in build_charts(meta["summary"], series)],
        data_json=Markup(blob),
        cases_mark=Markup(CASES_MARK),
        scripts=[text for text, _ in scripts],
        styles=[text for text, _ in styles],
        script_hashes=[h for _, h in scripts],
        style_hashes=[h for _, h in styles],
        calibration=run_dir.calibration_data(),
    )


def render(where: RunDir | Path) -> str:
    return "".join(render_pieces(RunDir.of(where)))


def write(run_dir: RunDir, fed: Fed | None = None) -> Path:
    """Write report.html piece by piece (each piece scrubbed; a piece is a whole JSON block or
    template text, so no secret spans two): memory stays flat at any number of cases. The
    caller holds the run directory's lock. `fed`: see `render_pieces`; released here whatever
    happens, also where the pieces were never asked for (the report file could not be made)."""
    pieces = render_pieces(run_dir, fed)
    try:
        with long_run(ONE_PASS):
            return run_dir.write_report(pieces)
    finally:
        pieces.close()  # its `with` blocks exit where it began
        if fed is not None:
            fed.release()  # where it never began: the scratch files, the lookup, the thread
