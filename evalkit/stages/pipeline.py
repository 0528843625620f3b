"""The stages composed: `evalkit run` (plan → retrieve → execute → conclude), `--resume`, and
`evalkit score` (re-score a run directory from its files alone). Each returns a `RunOutcome`."""

from __future__ import annotations

import asyncio
import contextlib
import secrets as pysecrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from evalkit._util import collector
from evalkit._util.paths import local_dir
from evalkit._util.signals import held_interrupts, interrupt_exit_code
from evalkit.bundled import SMOKE_SUITE
from evalkit.compare import baseline
from evalkit.errors import EvalkitError, ExitCode, ModelNotFoundError, UserInputError, did_you_mean
from evalkit.providers.base import Provider
from evalkit.providers.cache import ResponseCache
from evalkit.providers.service import ProviderService, build_providers
from evalkit.rundir.dir import RunDir, RunDirLock
from evalkit.rundir.files import ResultWriter
from evalkit.rundir.runinfo import RunInfo, StoredOptions
from evalkit.rundir.snapshot import CasesSnapshot, suite_record, suites_from_run, write_cases
from evalkit.spec.config import (
    DEFAULT_CONFIG_NAME,
    Config,
    GlobalThresholds,
    LoadedConfig,
    RunSettings,
    load_config,
)
from evalkit.spec.suite import Suite, load_suite
from evalkit.stages import provenance, trust
from evalkit.stages.execute import Runner, RunObserver
from evalkit.stages.fedpass import FedPass
from evalkit.stages.plan import Plan, build_plan, build_scoring_plan, instantiate
from evalkit.stages.resume import check_arguments, config_digest, what_changed
from evalkit.stages.retrieve import retrieve
from evalkit.stages.scoring import RunContext, rescore
from evalkit.stages.shard import parse_shard

if TYPE_CHECKING:  # conclude (aggregate, gate, the reports, numpy) loads after the last request
    from evalkit.compare.aggregate import Summary
    from evalkit.compare.gate import DiffReport
DEFAULT_SUITE = Path("suites") / "smoke.yaml"  # a project's own smoke suite, when it has one


@dataclass
class RunOptions:
    suites: Sequence[Path] = ()
    config: Path | None = None
    variants: Sequence[str] = ()
    out: Path | None = None
    overwrite: bool = False  # --out DIR may hold an earlier run: replace it
    runs_dir: Path | None = None  # put the run in a fresh <runs_dir>/<run-id>
    repeats: int | None = None
    concurrency: int | None = None
    resume: Path | None = None
    no_cache: bool = False
    deadline_s: float | None = None
    baseline: Path | None = None  # a baselines folder; default ./baselines when it has any
    no_baseline: bool = False
    retry_errors: bool = False  # with --resume: generate the cases that ended in an error again
    shard: str | None = None  # "I/N": run one deterministic part of the plan
    # the suites of `suites`, already loaded (the pytest plugin loads them while collecting)
    loaded_suites: Sequence[Suite] = ()


@dataclass
class Prepared:
    plan: Plan
    info: RunInfo
    run_dir: Path
    lock: RunDirLock
    skip: set[str] = field(default_factory=set)
    baseline_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    providers: dict[str, Provider[Any]] = field(default_factory=dict)  # checked, bound instances
    not_gated: str | None = None  # why this run is not compared with baselines (shown, never silent)
    cases: CasesSnapshot | None = None  # cases.jsonl still to write: `execute` writes it (`prepare`)

    @property
    def dir(self) -> RunDir:
        """The run directory, to read and write it (this process holds its lock)."""
        return RunDir(self.run_dir)

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def warnings(self) -> list[str]:
        return [*self.plan.warnings, *([self.not_gated] if self.not_gated else [])]


@dataclass(frozen=True)
class RunOutcome:
    summary: Summary
    diff: DiffReport | None
    run_dir: Path
    warnings: tuple[str, ...] = ()


def suite_paths(given: Sequence[Path], loaded: LoadedConfig) -> list[Path]:
    """Suites named on the command line (files or folders), else the config's, else the default."""
    if given:
        raw = list(given)
    elif loaded.config.suites:
        raw = [loaded.resolve(s) for s in loaded.config.suites]
    elif DEFAULT_SUITE.exists():
        raw = [DEFAULT_SUITE]
    else:
        raw = [SMOKE_SUITE]  # the bundled smoke suite: a first `evalkit run` works in an empty folder
    paths: list[Path] = []
    for p in raw:
        if p.is_dir():
            found = sorted(
                f for f in [*p.glob("*.yaml"), *p.glob("*.yml")] if f.stem != Path(DEFAULT_CONFIG_NAME).stem
            )  # a config beside its suites is not a suite
            if not found:
                raise UserInputError("no .yaml suites in this folder", path=p)
            paths.extend(found)
        elif p.exists():
            paths.append(p)
        else:
            raise UserInputError("suite not found", path=p)
    return paths


def load_suites(paths: Sequence[Path]) -> list[Suite]:
    return [load_suite(p) for p in paths]


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + pysecrets.token_hex(2)


def resolve_baseline_dir(options: RunOptions) -> tuple[Path | None, str | None]:
    """The baselines folder to gate against, or why there is none. One rule for `run` and
    `baseline save`: --baseline DIR, else ./baselines in the current directory (never resolved
    against the config file's folder)."""
    if options.no_baseline:
        return None, "not gated: --no-baseline"
    if options.baseline is not None:
        if not baseline.has_baselines(options.baseline):
            raise UserInputError(
                "no baselines here (expected <suite>/<variant>.jsonl files)", path=options.baseline
            )
        return options.baseline.resolve(), None
    if baseline.has_baselines(baseline.DEFAULT_DIR):
        return baseline.DEFAULT_DIR.resolve(), None
    return None, (
        f"not gated: no baselines in ./{baseline.DEFAULT_DIR} "
        "(bless a run with `evalkit baseline save RUN_DIR`, or pass --baseline DIR)"
    )


def prepare(options: RunOptions, *, cases_later: bool = False) -> Prepared:
    """Everything that can fail on bad input, before any model call. `cases_later`: the run
    directory's cases.jsonl (every case checked already) is left to `execute`, which writes it
    while the first requests are in flight and puts it in place before the first result."""
    with collector.long_run():
        prepared = _prepare(options)
    if prepared.cases is not None and not cases_later:
        try:
            prepared.cases.finish()
        except BaseException:
            prepared.cases.abort()
            prepared.lock.release()
            raise
        prepared.cases = None
    return prepared


def _prepare(options: RunOptions) -> Prepared:
    if options.resume is not None:
        return _prepare_resume(options)
    with provenance.Git() as git:  # git answers for run.json while the suites are read
        return _prepare_new(options, git, time.perf_counter())


def _prepare_new(options: RunOptions, git: provenance.Git, t0: float) -> Prepared:
    if options.retry_errors:
        raise UserInputError("--retry-errors needs --resume RUN_DIR")
    shard = parse_shard(options.shard) if options.shard is not None else None
    loaded = load_config(options.config)
    suites = list(options.loaded_suites) or load_suites(suite_paths(options.suites, loaded))
    plan = build_plan(loaded, suites, options.variants, options.repeats, options.concurrency)
    plan = plan.keep_shard(shard)
    providers = instantiate(plan)  # credentials, imports, tools: checked before any side effect
    baseline_dir, not_gated = resolve_baseline_dir(options)
    _check_baselines(plan, baseline_dir)
    plan = retrieve(plan)  # a bad corpus is bad input too: found before the run directory exists
    run_id = new_run_id()
    run_dir = RunDir(_run_dir(options, loaded, run_id))
    run_dir.prepare(allow_existing=options.overwrite)  # --overwrite clears under the lock
    lock = run_dir.lock("evalkit run").acquire()
    cases: CasesSnapshot | None = None
    try:
        # again, under the lock: another process may have just written
        run_dir.prepare(overwrite=options.overwrite)
        stored = StoredOptions(
            suites=[str(s.source_path.resolve()) for s in suites],
            config=str(loaded.path.resolve()) if loaded.path else None,
            variants=[v.name for v in plan.variants],
            repeats=options.repeats,
            concurrency=options.concurrency,
            no_cache=options.no_cache,
            deadline_s=options.deadline_s,
            baseline=str(baseline_dir) if baseline_dir else None,
            no_baseline=options.no_baseline,
            shard=str(shard) if shard is not None else None,
        )
        info = provenance.new_run_info(run_id, plan, stored, config_digest(plan), git)
        cases = CasesSnapshot(run_dir, plan.suites)  # an earlier run's cases.jsonl is gone first
        run_dir.write_info(info)  # written first: --resume and `score` read it
    except BaseException:
        if cases is not None:
            cases.abort()
        lock.release()
        raise
    prepared = Prepared(
        plan,
        info,
        run_dir.path,
        lock,
        baseline_dir=baseline_dir,
        providers=providers,
        not_gated=not_gated,
        cases=cases,
    )
    prepared.timings["prepare_s"] = time.perf_counter() - t0
    return prepared


def _run_dir(options: RunOptions, loaded: LoadedConfig, run_id: str) -> Path:
    if options.out is not None and options.runs_dir is not None:
        raise UserInputError(
            "give --out DIR (this directory) or --runs-dir DIR (a fresh DIR/<run-id>), not both"
        )
    if options.out is not None:
        return options.out
    if options.runs_dir is not None:
        return options.runs_dir / run_id
    return local_dir(loaded.resolve(loaded.config.run.output_dir)) / run_id


def _check_baselines(plan: Plan, baseline_dir: Path | None) -> None:
    """A malformed baseline is bad input: found now, not after every model call."""
    if baseline_dir is None:
        return
    for suite in plan.suites:
        for variant in plan.variants:
            baseline.load(baseline_dir, suite.name, variant.name)


def _given_arguments(options: RunOptions) -> dict[str, object]:
    """What a `--resume` command repeats of the original arguments, resolved for comparison."""
    given: dict[str, object] = {}
    if options.config is not None:
        given["config"] = str(options.config.resolve())
    if options.suites:
        loaded = load_config(options.config)
        given["suites"] = [str(p.resolve()) for p in suite_paths(options.suites, loaded)]
    if options.variants:
        given["variants"] = list(dict.fromkeys(options.variants))
    if options.repeats is not None:
        given["repeats"] = options.repeats
    if options.baseline is not None:
        given["baseline"] = str(options.baseline.resolve())
    if options.no_baseline:
        given["no_baseline"] = True
    if options.shard is not None:
        given["shard"] = str(parse_shard(options.shard))
    return given


def _prepare_resume(options: RunOptions) -> Prepared:
    assert options.resume is not None
    run_dir = RunDir(options.resume)
    if options.out is not None and options.out.resolve() != run_dir.path.resolve():
        raise UserInputError("--resume continues RUN_DIR in place: --out must name the same directory")
    if options.overwrite or options.runs_dir is not None:
        raise UserInputError("--resume continues RUN_DIR in place: --overwrite and --runs-dir do not apply")
    info = run_dir.info()
    lock = run_dir.lock("evalkit run --resume").acquire()
    try:
        return _resume_locked(options, run_dir, info, lock)
    except BaseException:
        lock.release()
        raise


def _resume_locked(options: RunOptions, run_dir: RunDir, info: RunInfo, lock: RunDirLock) -> Prepared:
    t0 = time.perf_counter()
    stored = info.options
    check_arguments(_given_arguments(options), stored)
    stored = stored.model_copy(
        update={
            "concurrency": options.concurrency or stored.concurrency,
            "no_cache": options.no_cache or stored.no_cache,
            "deadline_s": options.deadline_s or stored.deadline_s,
        }
    )
    loaded = load_config(Path(stored.config) if stored.config else None)
    suites = load_suites([Path(p) for p in stored.suites])
    plan = build_plan(loaded, suites, stored.variants, stored.repeats, stored.concurrency)
    plan = plan.keep_shard(parse_shard(stored.shard) if stored.shard is not None else None)
    providers = instantiate(plan)
    digest = config_digest(plan)
    changed = what_changed(info, plan, digest)
    if changed is not None:
        raise UserInputError(
            f"cannot resume: {changed} changed since the run started; start a new run instead", path=run_dir
        )
    baseline_dir = Path(stored.baseline) if stored.baseline else None
    if baseline_dir is not None and not baseline.has_baselines(baseline_dir):
        raise UserInputError("the run is gated against baselines that are gone", path=baseline_dir)
    _check_baselines(plan, baseline_dir)
    results = list(run_dir.results())
    if options.retry_errors and any(r.error is not None for r in results):
        results = [r for r in results if r.error is None]
        run_dir.rewrite_results(results)  # those cases are generated again
    plan = retrieve(plan)
    info = info.model_copy(update={"options": stored, "resumed_with_done": len(results)})
    skip = {r.key for r in results}
    # stopped before its cases.jsonl was in place (so before any result): written as a run writes it
    cases = None if run_dir.cases_file.exists() else CasesSnapshot(run_dir, plan.suites)
    prepared = Prepared(plan, info, run_dir.path, lock, skip, baseline_dir, providers=providers, cases=cases)
    prepared.timings["prepare_s"] = time.perf_counter() - t0
    return prepared


def open_cache(plan: Plan, no_cache: bool) -> ResponseCache | None:
    settings = plan.loaded.config
    if not settings.cache.enabled or no_cache:
        return None
    path = plan.loaded.resolve(settings.cache.path) if settings.cache.path else None
    if path is not None and not path.parent.is_dir():  # a copied run: the config's folder is elsewhere
        path = None
    try:
        return ResponseCache(path, ttl_s=settings.cache.ttl_s)
    except OSError as exc:
        raise UserInputError(f"cannot open the response cache: {exc.strerror or exc}", path=path) from None


class Feed(Protocol):
    """What more a run's results feed as they are written (e.g. the history's rows,
    `evalkit.history.feed`): attached to the writer (`ResultWriter.taps`) as conclude's pass is."""

    def attach(self, writer: ResultWriter) -> None: ...


def execute(
    prepared: Prepared, observer: RunObserver | None = None, feeds: Sequence[Feed] = ()
) -> RunOutcome:
    """Run the plan, streaming results; always concludes (summary, reports), even when interrupted:
    Ctrl-C and SIGTERM end the run with its summary written and exit code 130 or 143. `feeds`
    are fed the results as they are written where conclude's pass is (`fed_pass`)."""
    with collector.long_run():  # the plan lives until the end: the collector's full passes skip it
        return _execute(prepared, observer, feeds)


def _execute(prepared: Prepared, observer: RunObserver | None, feeds: Sequence[Feed]) -> RunOutcome:
    plan = prepared.plan
    writer = prepared.dir.result_writer()
    if prepared.cases is not None:  # a directory with results has its cases
        writer.before_first = prepared.cases.finish
    fed = fed_pass(prepared, writer)
    for feed in feeds if fed is not None else ():  # a fresh run that nothing rewrites
        feed.attach(writer)
    cache = open_cache(plan, prepared.info.options.no_cache)
    runner = Runner(
        plan,
        prepared.providers,
        writer,
        observer,
        cache=cache,
        skip=prepared.skip,
        deadline_s=prepared.info.options.deadline_s or plan.loaded.config.run.deadline_s,
        baseline_dir=prepared.baseline_dir,
    )
    interrupted: int | None = None
    aborted: EvalkitError | None = None
    try:
        asyncio.run(_running(runner, prepared.cases))
        writer.close()
        if _deferred(plan):
            if fed is not None:
                fed.spoil("deferred scorers rescore results.jsonl")
            if observer is not None:
                observer.status("judging against other outputs")
            asyncio.run(_rescore_file(plan, prepared.dir, runner.context, deferred=True))
    except KeyboardInterrupt as exc:
        interrupted = interrupt_exit_code(exc)
    except EvalkitError as exc:  # e.g. credentials refused: stop, but keep what finished
        aborted = exc
    except Exception as exc:  # a bug (here or in a plugin) must not cost the results: conclude anyway
        aborted = EvalkitError(f"internal error: {type(exc).__name__}: {exc}")
    finally:
        writer.close()
        if cache is not None:
            prepared.info.cache = {"hits": cache.hits, "misses": cache.misses}
            cache.close()
        prepared.timings.update(runner.timings)
    usage = isinstance(aborted, ModelNotFoundError)  # a config mistake, not infrastructure
    return conclude_run(
        prepared,
        interrupted,
        str(aborted) if aborted else None,
        aborted_exit=ExitCode.USAGE if usage else None,
        fed=fed,
    )


CASES_AFTER_S = 0.02  # cases.jsonl is written from then on: the first requests went out by then


async def _running(runner: Runner, cases: CasesSnapshot | None) -> None:
    """The runner; meanwhile the run's cases.jsonl is written, a block of rows at a time while
    the requests are in flight (before the first result at the latest: `ResultWriter.before_first`)."""
    writing = None if cases is None else asyncio.create_task(cases.writing(CASES_AFTER_S))
    try:
        await runner.run()
    finally:
        if writing is not None and not writing.done():
            writing.cancel()  # `conclude_run` finishes it
            with contextlib.suppress(asyncio.CancelledError):
                await writing


def _deferred(plan: Plan) -> bool:
    """Whether a scorer judges against other outputs, once all are written (the file is rescored)."""
    return any(s.info.deferred for scorers in plan.scorers.values() for s in scorers)


def fed_pass(prepared: Prepared, writer: ResultWriter) -> FedPass | None:
    """Conclude's pass over the results, fed as `writer` writes them (`stages.fedpass`): for a
    fresh run whose results.jsonl nothing rewrites before it concludes (no deferred scorer, no
    calibration labels merged in); else None, and conclude reads the file."""
    plan, info = prepared.plan, prepared.info
    if prepared.skip or _deferred(plan) or any(s.calibration is not None for s in plan.suites):
        return None
    fed = FedPass(
        {s.name: s.metrics for s in info.suites},
        {s.name: s.thresholds for s in plan.suites},
        info.options.variants,
        gated=prepared.baseline_dir is not None,
    )
    fed.feed_report(prepared.dir, prepared.baseline_dir)
    fed.attach(writer)
    return fed


def conclude_run(
    prepared: Prepared,
    interrupted: int | None,
    aborted: str | None,
    aborted_exit: int | None = None,
    fed: FedPass | None = None,
) -> RunOutcome:
    """Conclude the run (`finish`, taking `fed`: the pass fed as results were written, where it
    is the file's); Ctrl-C or SIGTERM now waits until everything is written."""
    from evalkit.human.labels import calibration_labels
    from evalkit.stages.finish import finish

    plan = prepared.plan
    t0 = time.perf_counter()
    try:
        with held_interrupts() as received:
            if prepared.cases is not None:  # a run stopped before its first result
                prepared.cases.finish()

            def stamp(_on_disk: RunInfo, summary: Summary) -> RunInfo:
                prepared.timings["conclude_s"] = time.perf_counter() - t0
                return provenance.finished(
                    prepared.info, plan, summary, prepared.timings, received, prepared.providers
                )

            conclusion = finish(
                prepared.dir,
                baselines=prepared.baseline_dir,
                interrupted=interrupted,
                aborted=aborted,
                aborted_exit=aborted_exit,
                calibration=calibration_labels(plan.suites),
                stamp=stamp,
                fed=fed,
            )
            # a Ctrl-C or SIGTERM while concluding (one or several, at any point of it): every file
            # says "interrupted" before the signal is delivered, run.json and summary.json alike
            while received and conclusion.summary.status != "interrupted":
                conclusion = finish(prepared.dir, interrupted=interrupt_code(received))
    except KeyboardInterrupt:
        pass  # delivered once everything was written as interrupted
    finally:
        if fed is not None:
            fed.release()  # where concluding failed before report.html took its blocks
        prepared.lock.release()
    return RunOutcome(conclusion.summary, conclusion.diff, prepared.run_dir, tuple(plan.warnings))


def interrupt_code(received: Sequence[int]) -> int:
    """The exit code of the signals received: 143 for a SIGTERM among them, else 130."""
    import signal

    return 143 if signal.SIGTERM in received else 130


def _with_current_suites(
    run_dir: RunDir, info: RunInfo, suites: list[Suite], files: Sequence[Path]
) -> tuple[list[Suite], RunInfo]:
    """The run's suites with those in `files` (matched by name) as they are now; run.json and
    cases.jsonl are rewritten to match, so the directory stays self-contained."""
    current = {s.name: s for s in load_suites(files)}
    known = {s.name for s in suites}
    for name, suite in current.items():
        if name not in known:
            raise UserInputError(
                f"the run has no suite '{name}'{did_you_mean(name, known)}", path=suite.source_path
            )
    merged = [current.get(s.name, s) for s in suites]
    records = [suite_record(s, next(r.repeats for r in info.suites if r.name == s.name)) for s in merged]
    info = info.model_copy(update={"suites": records})
    write_cases(run_dir, merged)
    run_dir.write_info(info)
    return merged, info


async def _rescore_file(plan: Plan, run_dir: RunDir, ctx: RunContext, *, deferred: bool | None) -> None:
    """Re-score the stored results and replace results.jsonl atomically."""
    try:
        results = list(run_dir.results())
        rescored = await rescore(plan, results, ctx, deferred=deferred)
        run_dir.rewrite_results(rescored)
    finally:
        await ctx.service.aclose()


@dataclass(frozen=True)
class ScoreOptions:
    """`evalkit score`'s options. A run directory is data: what its run.json names that is code
    or outside it (providers, plugins, cache, template and module paths, baselines folder) is
    used only with `trust_run_config`; else the user's own config (`config`, ./evalkit.yaml or
    the built-in default) and suite files decide (see docs/trust-model.md)."""

    no_cache: bool = False
    suite_files: Sequence[Path] = ()
    config: Path | None = None
    baseline: Path | None = None
    trust_run_config: bool = False
    notice: Callable[[str], None] | None = None  # told, before use, what a trusted run.json names


def score_run(path: Path, options: ScoreOptions | None = None) -> RunOutcome:
    """`evalkit score RUN_DIR [SUITE ...]`: every scorer again over the stored outputs. By default
    from the run directory alone (its suites snapshot, with the user's own config for providers);
    given suite files, their current scorers, thresholds and cases replace the snapshot's (and
    the snapshot is updated). No answer is regenerated; only the providers judges call are built;
    identical judge questions are cached."""
    from evalkit.stages.finish import finish

    opts = options or ScoreOptions()
    run_dir = RunDir(path)
    info = run_dir.info()
    with run_dir.lock("evalkit score"):
        results = list(run_dir.results())
        suites = suites_from_run(run_dir, info, results)
        recorded = [s for s in suites if s.name not in _suite_names(opts.suite_files)]
        loaded, notes = _scoring_config(run_dir, info, recorded, opts)
        for note in notes:
            if opts.notice is not None:
                opts.notice(note)
        warnings: list[str] = []
        if opts.suite_files:
            suites, info = _with_current_suites(run_dir, info, suites, opts.suite_files)
        plan = build_scoring_plan(loaded, suites, info.options.variants)
        providers = build_providers(plan.providers)  # only those judges call
        baseline_dir = _scoring_baseline(info, opts, warnings)
        cache = open_cache(plan, opts.no_cache)
        try:
            outputs = baseline.outputs_of(baseline_dir)
            ctx = RunContext(plan, cache, outputs, service=ProviderService(providers, cache))
            asyncio.run(_rescore_file(plan, run_dir, ctx, deferred=None))
        finally:
            if cache is not None:
                cache.close()
        _record_metrics(run_dir, run_dir.info(), plan)
        conclusion = finish(run_dir, baselines=baseline_dir, interrupted=None, aborted=None)
    return RunOutcome(conclusion.summary, conclusion.diff, path, tuple(warnings))


def _record_metrics(run_dir: RunDir, info: RunInfo, plan: Plan) -> None:
    """run.json keeps what aggregation needs of each score as the scorers say now, so the run is
    concluded from its directory alone (a run.json written before it kept them gets them)."""
    names = {s.name for s in plan.suites}
    records = [
        r.model_copy(update={"metrics": plan.metrics(r.name)}) if r.name in names else r for r in info.suites
    ]
    if records != info.suites:
        run_dir.write_info(info.model_copy(update={"suites": records}))


def _suite_names(files: Sequence[Path]) -> set[str]:
    return {s.name for s in load_suites(files)} if files else set()


def _scoring_config(
    run_dir: RunDir, info: RunInfo, recorded: Sequence[Suite], opts: ScoreOptions
) -> tuple[LoadedConfig, list[str]]:
    """The config to score with: the run's own when trusted (each thing it names is said on
    stderr), else the user's own with the run's numeric run settings (budgets, error rates)."""
    if opts.trust_run_config:
        config = Config.model_validate(info.config) if info.config else Config()
        uses = [
            *trust.scorer_uses(recorded),
            *trust.provider_uses(info.config, recorded, None),
            *trust.config_uses(info.config),
        ]
        notes = [f"{trust.TRUST_FLAG}: using the run's {u}" for u in uses]
        return LoadedConfig(config=config, path=None, base_dir=Path(info.config_dir or run_dir.path)), notes
    own = load_config(opts.config)
    uses = [*trust.scorer_uses(recorded), *trust.provider_uses(info.config, recorded, own.config)]
    if uses:
        raise trust.refuse(run_dir, uses)
    try:  # the run's own budgets and gate settings (numbers: data) keep its verdict rules
        settings = RunSettings.model_validate(info.config.get("run") or {})
        thresholds = GlobalThresholds.model_validate(info.config.get("thresholds") or {})
    except ValueError:
        raise UserInputError("run.json: config.run or config.thresholds is not valid", path=run_dir) from None
    config = own.config.model_copy(update={"run": settings, "thresholds": thresholds})
    return own.model_copy(update={"config": config}), []


def _scoring_baseline(info: RunInfo, opts: ScoreOptions, warnings: list[str]) -> Path | None:
    """--baseline DIR; else the folder the run was gated against when it is ./baselines here (or
    the run is trusted): a run directory does not choose which files evalkit reads."""
    if opts.baseline is not None:
        if not baseline.has_baselines(opts.baseline):
            raise UserInputError(
                "no baselines here (expected <suite>/<variant>.jsonl files)", path=opts.baseline
            )
        return opts.baseline.resolve()
    if not info.options.baseline:
        return None
    recorded = Path(info.options.baseline)
    if not opts.trust_run_config and recorded.resolve() != baseline.DEFAULT_DIR.resolve():
        warnings.append(
            f"not gated: the run was gated against {recorded}, which is not ./{baseline.DEFAULT_DIR}: "
            f"pass --baseline DIR (or {trust.TRUST_FLAG}) to gate against it"
        )
        return None
    if not baseline.has_baselines(recorded):
        warnings.append(f"not gated: the baselines this run was gated against are not here ({recorded})")
        return None
    return recorded
