"""What a run concludes, from its results: aggregate per suite × variant, decide the status and
exit code, gate against the baselines copied into the run directory, and write summary.json,
diff.json, junit.xml and summary.md. `evalkit.stages.finish.finish` builds its input from the
run directory's files and is the one way in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.compare import baseline
from evalkit.compare.aggregate import GroupSummary, Summary, summarize_groups, verdict
from evalkit.compare.frontier import FrontierTally, frontiers
from evalkit.compare.gate import CaseRule, DiffReport, diff_runs
from evalkit.compare.groups import Gathered, groups_from_run
from evalkit.errors import ExitCode, UserInputError
from evalkit.human.labels import HUMAN, AnyLabel, stored_labels
from evalkit.human.scores import apply_labels, with_kappa
from evalkit.report import junit, markdown
from evalkit.rundir.dir import RunDir
from evalkit.spec.config import RunSettings
from evalkit.spec.suite import Suite
from evalkit.stages.fedpass import TAKEN, FedPass, new_taps
from evalkit.types import CaseResult, MetricInfo


@dataclass(frozen=True)
class Conclusion:
    summary: Summary
    diff: DiffReport | None


@dataclass(frozen=True)
class ConcludeInput:
    run_id: str
    run_dir: RunDir
    suites: Sequence[Suite]
    variants: Sequence[str]
    metrics: dict[str, list[MetricInfo]]  # per suite: what aggregation needs of each score
    run_settings: RunSettings
    baselines: baseline.Copied | None  # the baselines copied into the run directory: the gate's
    keep_diff: bool = False  # not gated now, but keep diff.json (a run gated before copies were kept)
    interrupted: int | None = None  # the exit code of an interruption (130 Ctrl-C, 143 SIGTERM)
    aborted: str | None = None
    # the exit code the error that stopped the run asks for (a model the API does not know: 2);
    # None: an aborted run exits 3
    aborted_exit: int | None = None
    max_new_failures: int | None = None  # the config's `thresholds: max_new_failures` (suites' win)
    calibration: Sequence[AnyLabel] = ()  # a suite's calibration labels, merged into labels.jsonl
    labels: Sequence[AnyLabel] | None = None  # the run's labels, when the caller holds them
    alerts: int = 0  # trend alerts the history raised for this run (kept)
    alert_exit: bool = False  # the history's --fail-on-alert exit stays while nothing worse is found
    # the pass over the results the execute stage fed as it wrote them (used when it is the file's)
    fed: FedPass | None = None


def aggregate(inp: ConcludeInput, results: Iterable[CaseResult]) -> list[GroupSummary]:
    suites = {s.name: s for s in inp.suites}
    groups = summarize_groups(
        (r for r in results if r.suite in suites),
        inp.metrics,
        {name: suite.thresholds for name, suite in suites.items()},
    )
    return in_plan_order(inp, groups)


def in_plan_order(inp: ConcludeInput, groups: Mapping[tuple[str, str], GroupSummary]) -> list[GroupSummary]:
    """The groups in the order of the run's suites × variants (any other after them)."""
    order = {(s.name, v): i for i, (s, v) in enumerate((s, v) for s in inp.suites for v in inp.variants)}
    return [groups[key] for key in sorted(groups, key=lambda k: order.get(k, len(order)))]


def error_budget(groups: Sequence[GroupSummary], n_results: int, run: RunSettings) -> tuple[bool, str]:
    """Whether infrastructure errors or unmeasured scores exceed the budget, and the budget's text."""
    errors = sum(g.errors for g in groups)
    over = bool(n_results) and (
        errors / n_results > run.max_error_rate or (run.max_errors is not None and errors > run.max_errors)
    )
    text = f"max_error_rate={run.max_error_rate:g}" + (
        f", max_errors={run.max_errors}" if run.max_errors is not None else ""
    )
    for g in groups:
        for m in g.metrics.values():
            if g.results and m.scorer_unmeasured / g.results > run.max_unmeasured_rate:
                over = True
                text += (
                    f"; {g.suite} · {g.variant} · {m.name}: {m.scorer_unmeasured} of {g.results} scores "
                    f"unmeasured > max_unmeasured_rate={run.max_unmeasured_rate:g}"
                )
    return over, text


def status_of(
    inp: ConcludeInput, over_budget: bool, regressions: list[str], failed: bool
) -> tuple[str, ExitCode]:
    status, code = verdict(
        interrupted=inp.interrupted,
        errors=inp.aborted is not None or over_budget,
        regressions=regressions,
        failed=failed,
    )
    if status == "errors" and inp.aborted is not None and inp.aborted_exit is not None:
        return status, ExitCode(inp.aborted_exit)
    return status, code


def gate(
    inp: ConcludeInput, groups: Sequence[GroupSummary], results: Iterable[CaseResult] | Gathered
) -> DiffReport:
    """Diff this run's groups against the baselines copied into the run directory (so the gate
    is redone from the directory alone, anywhere)."""
    assert inp.baselines is not None
    candidates = groups_from_run(inp.run_dir, groups, results)
    baselines = [inp.baselines.groups.get((g.suite, g.variant)) for g in candidates]
    thresholds = {s.name: s.thresholds for s in inp.suites}
    return diff_runs(baselines, candidates, thresholds, case_rules=case_rules(inp, groups))


def case_rules(inp: ConcludeInput, groups: Sequence[GroupSummary]) -> dict[tuple[str, str], CaseRule]:
    """Each group's pass rule and `max_new_failures` (the suite's, else the config's)."""
    limits = {s.name: s.max_new_failures for s in inp.suites}
    return {
        (g.suite, g.variant): CaseRule(
            pass_metrics=g.pass_metrics,
            max_new_failures=limits[g.suite] if limits.get(g.suite) is not None else inp.max_new_failures,
        )
        for g in groups
    }


def regressions_of(diff: DiffReport | None) -> list[str]:
    """What failed the gate, one line each: a regressed metric, or too many new failing cases."""
    out = []
    for g in diff.groups if diff else []:
        out += [f"{g.suite} · {g.variant} · {m.metric}" for m in g.metrics if m.verdict == "regressed"]
        if g.too_many_new_failures:
            out.append(f"{g.suite} · {g.variant} · {g.new_failures_text()}")
    return out


def conclude(inp: ConcludeInput) -> Conclusion:
    # one pass over the results feeds the aggregate, junit.xml's test cases and the gate's groups:
    # the one the execute stage fed as it wrote them when it is the file's, else the file read
    one = _fed_pass(inp) or _read_pass(inp)
    groups, n_results, cases, tally, gathered = one.groups, one.n, one.cases, one.tally, one.gathered
    thresholds = {s.name: s.thresholds for s in inp.suites}
    info = inp.run_dir.info()
    labels = _labels(inp)
    if labels:  # judges vs people (never with a fed pass: labels rewrite results.jsonl first)
        groups = with_kappa(groups, inp.run_dir.results, labels, info, thresholds)
    over_budget, budget = error_budget(groups, n_results, inp.run_settings)
    failed = any(not t.passed for g in groups for t in g.thresholds)
    diff = _kept_diff(inp) if inp.keep_diff else None
    if gathered is not None and n_results:
        diff = gate(inp, groups, gathered)
    regressions = regressions_of(diff)
    status, code = status_of(inp, over_budget, regressions, failed)
    if code == ExitCode.OK and inp.alert_exit:
        code = ExitCode.ALERT
    summary = Summary(
        run_id=inp.run_id,
        status=status,
        exit_code=code,
        results=n_results,
        errors=sum(g.errors for g in groups),
        error_budget=budget,
        aborted=inp.aborted,
        groups=groups,
        frontier=frontiers(groups, tally),
        baseline=_shown_folder(inp) if diff is not None else None,
        regressions=regressions,
        alerts=inp.alerts,
    )
    inp.run_dir.write_summary(summary)
    summary = Summary.model_validate(inp.run_dir.summary_data())  # as written: what a re-render reads
    if diff is not None:
        inp.run_dir.write_diff(diff)
    elif inp.baselines is None:  # a re-score that is not gated must not leave the last gate's verdicts behind
        inp.run_dir.remove_gate()
    write_ci_files(inp.run_dir, summary, diff, cases)
    return Conclusion(summary, diff)


@dataclass
class _Pass:
    """What one pass over the results gave: the groups' figures and the other taps."""

    groups: list[GroupSummary]
    n: int
    cases: junit.Cases
    tally: FrontierTally
    gathered: Gathered | None


def _read_pass(inp: ConcludeInput) -> _Pass:
    """The pass over results.jsonl, read back line by line."""
    results = _results(inp)
    # the gate's records: only of the groups that have a baseline to compare with
    gathered = Gathered(inp.baselines.groups) if inp.baselines is not None else None
    taps = new_taps(inp.metrics, inp.variants, gathered)
    cases, tally = taps.cases, taps.tally
    counted = _Counted(results(), [cases.add, tally.add, *([gathered.add] if gathered else [])])
    groups = aggregate(inp, counted)
    return _Pass(groups, counted.n, cases, tally, gathered)


def _fed_pass(inp: ConcludeInput) -> _Pass | None:
    """The pass the execute stage fed as it wrote results.jsonl (`stages.fedpass`), when it is
    what reading the file gives; taken once (its taps are spent)."""
    fed = inp.fed
    if fed is None:
        return None
    taps, why = fed.taps, _unlike_the_file(inp, fed)
    fed.spoil(why or TAKEN)
    if why is not None or taps is None:
        return None
    gathered = taps.gathered if inp.baselines is not None else None  # not gated now: unused
    if gathered is not None and inp.baselines is not None:
        gathered.narrow(inp.baselines.groups)  # only the groups with a baseline keep records
    summaries = {key: acc.summary() for key, acc in taps.groups.items()}
    return _Pass(in_plan_order(inp, summaries), taps.n, taps.cases, taps.tally, gathered)


def _unlike_the_file(inp: ConcludeInput, fed: FedPass) -> str | None:
    """Why the fed pass may differ from a pass over results.jsonl now (None: it cannot)."""
    taps, writer = fed.taps, fed.writer
    if fed.spoiled is not None or taps is None or writer is None:
        return fed.spoiled or "nothing was fed"
    if inp.calibration or fed.human or _labels(inp):
        return "human scores or labels: results.jsonl is brought in step with them first"
    if taps.n != writer.count or inp.run_dir.results_file.stat().st_size != fed.size:
        return "results.jsonl is not what was fed"
    if inp.baselines is not None and taps.gathered is None:
        return "gated, and the gate's records were not kept"
    suites = {s.name: s.thresholds for s in inp.suites}
    if fed.metrics != inp.metrics or fed.thresholds != suites or any(k[0] not in suites for k in taps.groups):
        return "the suites' metrics or thresholds differ from those fed"
    if (len(set(fed.variants)) != 1) != (len(set(inp.variants)) != 1):
        return "the variants differ from those fed"
    return None


def _results(inp: ConcludeInput) -> Callable[[], Iterable[CaseResult]]:
    """The run's results for each pass over them: streamed from results.jsonl, so concluding
    a run of any size holds no more than one result at a time. With labels (or human scores to
    refresh), results.jsonl is first brought in step with them, streamed too (`apply_labels`)."""
    run_dir = inp.run_dir
    if inp.calibration or _labels(inp) or _mentions(run_dir.results_file, f'"{HUMAN}":'):
        apply_labels(run_dir, inp.calibration, inp.labels)  # human scores
    return run_dir.results


def _labels(inp: ConcludeInput) -> Sequence[AnyLabel]:
    return stored_labels(inp.run_dir) if inp.labels is None else inp.labels


def _kept_diff(inp: ConcludeInput) -> DiffReport | None:
    raw = inp.run_dir.diff_data()
    try:
        return None if raw is None else DiffReport.model_validate(raw)
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise UserInputError(f"diff.json is unreadable: {first}", path=inp.run_dir) from None


def _shown_folder(inp: ConcludeInput) -> str | None:
    if inp.baselines is not None:
        return inp.baselines.folder
    previous = inp.run_dir.summary_data()  # a kept gate: the folder it named
    folder = previous.get("baseline") if previous else None
    return folder if isinstance(folder, str) else None


_CHUNK = 1 << 20  # bytes read at a time by `_mentions`


def _mentions(path: Path, text: str) -> bool:
    """Whether the file holds `text` (bytes compared a megabyte at a time, nothing parsed)."""
    if not path.exists():
        return False
    needle = text.encode()
    tail = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            window = tail + chunk  # a needle across two reads is found too
            if needle in window:
                return True
            tail = window[max(0, len(window) - len(needle) + 1) :]
    return False


class _Counted:
    """An iterable that counts what passed through it and hands each item to `taps` too."""

    def __init__(self, items: Iterable[CaseResult], taps: Sequence[Callable[[CaseResult], None]] = ()):
        self.items, self.taps, self.n = items, taps, 0

    def __iter__(self) -> Iterator[CaseResult]:
        for item in self.items:
            self.n += 1
            for tap in self.taps:
                tap(item)
            yield item


def write_ci_files(
    run_dir: RunDir, summary: Summary, diff: DiffReport | None, results: Iterable[CaseResult] | junit.Cases
) -> None:
    run_dir.write_junit(junit.render_pieces(summary, diff, results))
    run_dir.write_summary_md(markdown.render(summary, diff))


def rerender(run_dir: RunDir) -> list[Path]:
    """junit.xml, summary.md and report.html from summary.json, diff.json and results.jsonl as
    they are, no figure changed (the history's alert count; the caller holds the lock)."""
    raw = run_dir.summary_data()
    if raw is None:
        raise UserInputError("no readable summary.json: run `evalkit score` on it first", path=run_dir)
    try:
        summary = Summary.model_validate(raw)
        raw_diff = run_dir.diff_data()
        diff = DiffReport.model_validate(raw_diff) if raw_diff is not None else None
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise UserInputError(f"summary.json or diff.json is unreadable: {first}", path=run_dir) from None
    write_ci_files(run_dir, summary, diff, run_dir.results())
    from evalkit.report import html

    return [run_dir.junit_file, run_dir.summary_md_file, html.write(run_dir)]
