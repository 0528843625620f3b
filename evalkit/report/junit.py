"""junit.xml, as CI dashboards read it: per suite × variant a test case per case (passing ones
too), per gated metric, per threshold and per `max_new_failures` rule.

The counts agree with the exit code: a `<failure>` or `<error>` appears only for what fails the
run (a regressed metric, a threshold not met, more new failing cases than `max_new_failures`
allows, errors over the budget, an interrupted run). A failing case that does not fail the run
is a `<skipped>` test case whose message says why: a known failure (it failed in the baseline
too), a new failure in a suite × variant that did not regress, or a failure with no baseline to
compare with. In one that regressed, every case that passed in the baseline and fails now is a
`<failure>`. Errors
within the error budget are skipped the same way."""

from __future__ import annotations

import marshal
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import NamedTuple

from evalkit._util.numbers import figure, figure_delta, figure_interval, metric_label, p_value, plain
from evalkit._util.scratch import scratch_db
from evalkit._util.textsafe import xml_text
from evalkit.compare.aggregate import GroupSummary, Summary
from evalkit.compare.gate import DiffReport, GroupDiff, MetricDiff, truncation_text, verdict_label
from evalkit.errors import ExitCode
from evalkit.types import CaseResult

CASE_TEXT_LIMIT = 2_000  # characters of a case's output or error embedded per test case
MESSAGE_LIMIT = 200  # characters of a failure's one-line message
BATCH = 2000  # results upserted per statement batch
PIECE_CASES = 256  # test cases per piece written (each piece is scrubbed of secrets on its own)


def metric_line(m: MetricDiff) -> str:
    name = m.metric
    ci = f" 95% CI {figure_interval(name, m.ci_low, m.ci_high)}" if m.ci_low is not None else ""
    p = ""
    if m.p_value is not None:
        p = (
            f", p_adj = {p_value(m.p_adjusted)}"
            if m.p_adjusted is not None
            else f", p = {p_value(m.p_value)}"
        )
    return (
        f"{metric_label(name)}: {figure(name, m.baseline)} → {figure(name, m.candidate)} "
        f"(Δ {figure_delta(name, m.delta)}{ci}{p}) {verdict_label(m)}"
    )


class _Test:
    """One <testcase> being built: its attributes and its children, already serialized."""

    __slots__ = ("children", "head")

    def __init__(self, head: str):
        self.head = head
        self.children: list[str] = []

    def xml(self) -> str:
        """As ElementTree writes it indented at level 2 (`ET.indent(el, "  ", level=2)`)."""
        if not self.children:
            return f"\n    <testcase {self.head} />"
        inner = "\n      ".join(self.children)
        return f"\n    <testcase {self.head}>\n      {inner}\n    </testcase>"


def _attr(text: str) -> str:
    """An attribute value escaped as ElementTree escapes it: as character data, and more."""
    text = _cdata(text)
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    if "\n" in text:
        text = text.replace("\n", "&#10;")
    if "\t" in text:
        text = text.replace("\t", "&#09;")
    return text


def _cdata(text: str) -> str:
    """Character data escaped as ElementTree escapes it."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


# what ElementTree writes first (`ET.tostring(el, encoding="unicode", xml_declaration=True)`)
DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"


def _empty_element(tag: str, attrs: Sequence[tuple[str, str]]) -> str:
    """An empty element as `ET.tostring` writes it: its attributes in order, escaped alike
    (written here: importing xml.etree for the two heads of the file was 3 ms of every run)."""
    return f"<{tag} " + " ".join(f'{key}="{_attr(value)}"' for key, value in attrs) + " />"


def _leaf(tag: str, attrs: str, text: str) -> str:
    open_tag = f"<{tag} {attrs}" if attrs else f"<{tag}"
    return f"{open_tag}>{_cdata(text)}</{tag}>" if text else f"{open_tag} />"


class _Suite:
    """One <testsuite> being written: each test case is serialized (indented as in the whole
    document, escaped as ElementTree escapes) to a scratch file as soon as the next one starts,
    so a suite of a million cases holds one at a time; the counts go into its opening tag at
    the end."""

    def __init__(self, name: str, classname: str):
        self.name, self.classname = name, classname
        self.tests = self.failures = self.errors = self.skipped = 0
        # newline="": read back character for character, a "\r" in an output kept as it is
        self.body = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115 (closed by pieces())
        self.sizes = array("q")  # each test case's length in the scratch file, in characters
        self.pending: _Test | None = None
        self._classname = f'classname="{_attr(classname)}"'

    def case(self, name: str, out: str | None = None) -> _Test:
        self.flush()
        self.tests += 1
        test = _Test(f'{self._classname} name="{_attr(xml_text(name, MESSAGE_LIMIT))}"')
        if out:
            test.children.append(_leaf("system-out", "", xml_text(out, CASE_TEXT_LIMIT)))
        self.pending = test
        return test

    def outcome(self, case: _Test, tag: str, message: str, kind: str, detail: str = "") -> None:
        self.failures += tag == "failure"
        self.errors += tag == "error"
        self.skipped += tag == "skipped"
        attrs = f'message="{_attr(xml_text(message[:MESSAGE_LIMIT]))}" type="{_attr(kind)}"'
        case.children.append(_leaf(tag, attrs, xml_text(detail, CASE_TEXT_LIMIT) if detail else ""))

    def flush(self) -> None:
        if self.pending is not None:
            text = self.pending.xml()
            self.body.write(text)
            self.sizes.append(len(text))
            self.pending = None

    def pieces(self) -> Iterator[str]:
        """The whole <testsuite> element, whole test cases per piece (then the scratch file is
        gone)."""
        self.flush()
        counts = [(key, str(getattr(self, key))) for key in ("tests", "failures", "errors", "skipped")]
        empty = _empty_element("testsuite", [("name", self.name), *counts])
        if not self.tests:
            yield "\n  " + empty
            return
        yield "\n  " + empty.removesuffix(" />") + ">"
        self.body.seek(0)
        for start in range(0, len(self.sizes), PIECE_CASES):
            yield self.body.read(sum(self.sizes[start : start + PIECE_CASES]))
        self.body.close()
        yield "\n  </testsuite>"


class _Kept(NamedTuple):
    """What a test case shows of a result: not its prompt, retrieval or trace (a failing
    result kept whole cost 11 KB, so junit.xml of 10,000 failing cases held 113 MB). Each
    score as (name, value, passed, reason)."""

    repeat: int
    output: str | None
    error: str | None
    scores: tuple[tuple[str, float | None, bool | None, str | None], ...]

    @staticmethod
    def dumps(r: CaseResult) -> bytes:
        """What is kept of `r`, as the scratch file keeps it: marshalled (strings, numbers and
        None only; the process's own file)."""
        scores = tuple([(n, s.value, s.passed, s.reason) for n, s in r.scores.items()])
        return marshal.dumps((r.repeat, r.output, r.error, scores))

    @classmethod
    def loads(cls, data: bytes | None) -> _Kept | None:
        return None if data is None else cls._make(marshal.loads(data))


@dataclass
class _Case:
    """A case's repeats in one suite × variant: the first failing and the first errored result
    are kept (what the test case shows), the rest only counted."""

    failed: _Kept | None = None
    errored: _Kept | None = None
    results: int = 0


class Cases:
    """The test cases' results per suite × variant, gathered one result at a time (so conclude
    can fill it in the same pass over results.jsonl that aggregates them) into a scratch SQLite
    file, appended in arrival order and read back case by case in id order (sorted once, by an
    index made when first read): memory does not grow with the run. `deciding(suite, variant)`:
    that group's pass rule (the scores that decide a case's pass; None: all marks)."""

    def __init__(self, deciding: Callable[[str, str], Sequence[str] | None]):
        self.deciding = deciding
        self._db = scratch_db("CREATE TABLE cases (gid INTEGER, case_id TEXT, failed BLOB, errored BLOB);")
        self._groups: dict[tuple[str, str], int] = {}
        self._pending: list[tuple[int, str, bytes | None, bytes | None]] = []
        self._indexed = False

    def add(self, r: CaseResult) -> None:
        errored = failed = None
        if r.error is not None:
            errored = _Kept.dumps(r)
        elif r.passed(self.deciding(r.suite, r.variant)) is False:
            failed = _Kept.dumps(r)
        gid = self._groups.setdefault((r.suite, r.variant), len(self._groups))
        self._pending.append((gid, r.case_id, failed, errored))
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._indexed:
            self._db.execute("DROP INDEX by_case")
            self._indexed = False
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO cases VALUES (?, ?, ?, ?)", self._pending)
        self._db.execute("COMMIT")
        self._pending = []

    def of(self, suite: str, variant: str) -> Iterator[tuple[str, _Case]]:
        """A suite × variant's cases, in case id order: each with its first failing and first
        errored result (in arrival order) and how many results it has."""
        self._flush()
        gid = self._groups.get((suite, variant))
        if gid is None:
            return
        if not self._indexed:  # rowid: arrival order, a case's results read back in it
            self._db.execute("CREATE INDEX by_case ON cases (gid, case_id)")
            self._indexed = True
        cursor = self._db.execute(
            "SELECT case_id, failed, errored FROM cases WHERE gid = ? ORDER BY case_id, rowid", (gid,)
        )
        rows = (row for batch in iter(lambda: cursor.fetchmany(1000), []) for row in batch)
        for case_id, group in groupby(rows, key=lambda row: row[0]):
            case = _Case()
            for _, failed, errored in group:
                case.results += 1
                if failed is not None and case.failed is None:
                    case.failed = _Kept.loads(failed)
                if errored is not None and case.errored is None:
                    case.errored = _Kept.loads(errored)
            yield case_id, case


def _cases(results: Iterable[CaseResult], summary: Summary) -> Cases:
    rules = {(g.suite, g.variant): g.pass_metrics for g in summary.groups}  # the suite's pass rule
    cases = Cases(lambda suite, variant: rules.get((suite, variant)))
    for r in results:
        cases.add(r)
    return cases


def _failure_detail(r: _Kept, among: Sequence[str] | None) -> tuple[str, str]:
    reasons = [
        f"{n}: {reason or figure(n, value)}"
        for n, value, passed, reason in r.scores
        if passed is False and (among is None or n in among)
    ]
    repeat = f"repeat {r.repeat}: " if r.repeat else ""
    return repeat + "; ".join(reasons), "\n".join(reasons) + "\n\noutput:\n" + (r.output or "")


@dataclass(frozen=True)
class _Outcomes:
    """A group's gate outcome with its case lists as sets (a case is looked up in O(1))."""

    gd: GroupDiff
    pass_to_fail: frozenset[str]
    still_failing: frozenset[str]

    @classmethod
    def of(cls, gd: GroupDiff | None) -> _Outcomes | None:
        return None if gd is None else cls(gd, frozenset(gd.pass_to_fail), frozenset(gd.still_failing))


def _case_test(
    suite: _Suite, case_id: str, case: _Case, outcomes: _Outcomes | None, g: GroupSummary, errors_fail: bool
) -> None:
    el = suite.case(f"case {case_id}")
    gd = outcomes.gd if outcomes is not None else None
    if case.failed is not None:
        message, detail = _failure_detail(case.failed, g.pass_metrics)
        if outcomes is not None and case_id in outcomes.pass_to_fail and outcomes.gd.verdict == "regressed":
            suite.outcome(
                el, "failure", f"new failure (passed in the baseline): {message}", "new-failure", detail
            )
        elif outcomes is not None and case_id in outcomes.still_failing:
            suite.outcome(
                el,
                "skipped",
                f"known failure: failed in the baseline too: {message}",
                "known-failure",
                detail,
            )
        elif outcomes is not None and case_id in outcomes.pass_to_fail:
            why = (
                "new failure, within max_new_failures"
                if outcomes.gd.max_new_failures is not None
                else "new failure (passed in the baseline), not gated: set max_new_failures to gate it"
            )
            suite.outcome(el, "skipped", f"{why}: {message}", "new-failure", detail)
        else:
            where = "not compared with a baseline" if gd is None else "not paired with the baseline"
            suite.outcome(el, "skipped", f"fails ({where}; not gated): {message}", "case", detail)
    elif case.errored is not None:
        error = case.errored.error or ""
        tag = "error" if errors_fail else "skipped"
        within = "" if errors_fail else "within the error budget: "
        suite.outcome(el, tag, f"{within}generation error: {error}", "generation", error)


def _gate_tests(suite: _Suite, gd: GroupDiff) -> None:
    changes = "".join(
        f"\nchanged since the baseline: {p.what} {p.baseline} → {p.candidate}" for p in gd.provenance
    )
    truncation = truncation_text(gd)
    changes += f"\n{truncation}" if truncation else ""
    for m in gd.metrics:
        if not m.gated:
            continue
        el = suite.case(f"gate {m.metric} vs baseline", metric_line(m) + changes)
        if m.verdict == "regressed":
            suite.outcome(el, "failure", metric_line(m), "regression", metric_line(m))
    if gd.max_new_failures is not None:
        el = suite.case(f"threshold max_new_failures {gd.max_new_failures}", gd.new_failures_text())
        if gd.too_many_new_failures:
            detail = "pass → fail: " + ", ".join(gd.pass_to_fail)
            suite.outcome(el, "failure", gd.new_failures_text(), "new-failures", detail)


def _threshold_tests(suite: _Suite, g: GroupSummary) -> None:
    for t in g.thresholds:
        # the test's name stays what the suite says (CI tools track tests by name)
        bounds = " ".join(f"{k} {plain(v)}" for k, v in (("min", t.min), ("max", t.max)) if v is not None)
        el = suite.case(f"threshold {t.metric} {bounds}")
        if not t.passed:
            suite.outcome(el, "failure", t.reason, "threshold", t.reason)


def render(summary: Summary, diff: DiffReport | None, results: Iterable[CaseResult] | Cases) -> str:
    """junit.xml as one string (small runs and tests; a run writes `render_pieces`)."""
    return "".join(render_pieces(summary, diff, results))


def render_pieces(
    summary: Summary, diff: DiffReport | None, results: Iterable[CaseResult] | Cases
) -> Iterator[str]:
    """junit.xml, a test case at a time. `results`: the run's results, or their test cases
    already gathered (`Cases`)."""
    diffs = {(g.suite, g.variant): g for g in diff.groups} if diff else {}
    cases = results if isinstance(results, Cases) else _cases(results, summary)
    errors_fail = summary.status == "errors"
    built: list[_Suite] = []
    for g in summary.groups:
        suite = _Suite(xml_text(f"{g.suite} · {g.variant}"), xml_text(f"evalkit.{g.suite}.{g.variant}"))
        gd = diffs.get((g.suite, g.variant))
        if gd is not None:
            _gate_tests(suite, gd)
        _threshold_tests(suite, g)
        outcomes = _Outcomes.of(gd)
        for case_id, case in cases.of(g.suite, g.variant):
            _case_test(suite, case_id, case, outcomes, g, errors_fail)
        suite.flush()
        built.append(suite)
    _run_tests(summary, built)
    counts = [
        (name, str(sum(getattr(s, name) for s in built)))
        for name in ("tests", "failures", "errors", "skipped")
    ]
    head = DECLARATION + _empty_element("testsuites", [("name", "evalkit"), ("id", summary.run_id), *counts])
    if not built:
        yield head + "\n"
        return
    yield head.removesuffix(" />") + ">"
    for suite in built:
        yield from suite.pieces()
    yield "\n</testsuites>\n"


def _run_tests(summary: Summary, built: list[_Suite]) -> None:
    """The run's own test cases (trend alerts, an errored or interrupted run), in the first suite."""
    if summary.alerts:  # raised by the history after the run: a failure when they set the exit code
        if not built:
            built.append(_Suite("evalkit run", "evalkit.run"))
        text = f"{summary.headline()} (see alerts.json)"
        el = built[0].case("trend alerts", text)
        if summary.exit_code == ExitCode.ALERT:
            built[0].outcome(
                el, "failure", f"{text}: exit {ExitCode.ALERT} (--fail-on-alert)", "alerts", text
            )
    if summary.status in ("errors", "interrupted"):
        if not built:  # nothing was scored: the run's status is still a test case
            built.append(_Suite("evalkit run", "evalkit.run"))
        el = built[0].case("run status", summary.error_budget)
        reason = summary.aborted or (
            "over the error budget" if summary.status == "errors" else "interrupted: partial results"
        )
        built[0].outcome(el, "error", f"{summary.status}: {reason}", summary.status, summary.error_budget)
    if built:
        built[0].flush()
