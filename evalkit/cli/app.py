"""The typer app: `evalkit run | validate | list`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evalkit.cli.helptext import TidyGroup
from evalkit.errors import INCONCLUSIVE, EvalkitError, UserInputError, did_you_mean

if TYPE_CHECKING:
    from evalkit.spec.config import LoadedConfig

app = typer.Typer(
    name="evalkit",
    help="Evaluate and regression-test LLM systems: suites × variants → scores, summaries, verdicts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=TidyGroup,
)


@contextmanager
def user_errors() -> Iterator[None]:
    """EvalkitError → one line on stderr and its exit code; no traceback."""
    try:
        yield
    except EvalkitError as exc:
        from evalkit.cli.render import error

        error(str(exc))
        raise typer.Exit(exc.exit_code) from None


def _version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"evalkit {version('evalkit')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """evalkit: the evaluation and regression-testing harness for LLM systems."""


SuitesArg = Annotated[
    list[Path] | None,
    typer.Argument(help="Suite files or folders (default: the config's suites, else suites/smoke.yaml)."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="evalkit.yaml (default: ./evalkit.yaml if present)."),
]
VariantOpt = Annotated[
    list[str] | None, typer.Option("--variant", "-v", help="Only these variants (repeatable).")
]


@app.command()
def run(
    suites: SuitesArg = None,
    config: ConfigOpt = None,
    variant: VariantOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory (default: reports/<run-id>).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="--out DIR may hold an earlier run: replace it.")
    ] = False,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            "--runs-dir", help="Put the run in a fresh DIR/<run-id> (e.g. a CI runner's reports/nightly)."
        ),
    ] = None,
    repeats: Annotated[
        int | None, typer.Option(min=1, max=1000, help="Run each case N times (at most 1,000).")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="In-flight requests per connection, for providers without a concurrency: of their own.",
        ),
    ] = None,
    resume: Annotated[
        Path | None, typer.Option("--resume", help="Finish an interrupted run in RUN_DIR (same config).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Call the models even for cached answers.")
    ] = False,
    deadline: Annotated[
        float | None, typer.Option("--deadline", min=1, help="Stop the whole run after this many seconds.")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline", help="Gate against this baselines folder (default: ./baselines if present)."
        ),
    ] = None,
    no_baseline: Annotated[
        bool, typer.Option("--no-baseline", help="Do not compare with baselines.")
    ] = False,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="With --resume: generate failed cases again.")
    ] = False,
    fail_on_alert: Annotated[
        bool, typer.Option("--fail-on-alert", help="Exit 4 when the history raises a trend alert.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="I/N", help="Run only shard I of N (join them with evalkit merge)."),
    ] = None,
) -> None:
    """Run suites against variants, score every output, write reports/<run-id>/, record it in
    the run history and check it against its trend."""
    from evalkit._util.signals import interrupt_exit_code, sigterm_as_interrupt
    from evalkit.cli.render import ProgressObserver, console, notices, show_outcome, warn
    from evalkit.stages.pipeline import RunOptions, execute, prepare

    with user_errors(), sigterm_as_interrupt():
        try:
            prepared = prepare(
                RunOptions(
                    suites=suites or [],
                    config=config,
                    variants=variant or [],
                    out=out,
                    overwrite=overwrite,
                    runs_dir=runs_dir,
                    repeats=repeats,
                    concurrency=concurrency,
                    resume=resume,
                    no_cache=no_cache,
                    deadline_s=deadline,
                    baseline=baseline,
                    no_baseline=no_baseline,
                    retry_errors=retry_errors,
                    shard=shard,
                )
            )
        except KeyboardInterrupt as exc:  # while planning or building an index: nothing ran yet
            console.print("[yellow]Interrupted before any model call.[/]")
            raise typer.Exit(interrupt_exit_code(exc)) from None
        notices()
        plan = prepared.plan
        todo = len(plan.requests) - len(prepared.skip)
        part = f" · shard {prepared.info.options.shard}" if prepared.info.options.shard else ""
        resumed = f" · resuming: {len(prepared.skip)} done, {todo} to go" if prepared.skip else ""
        console.print(
            f"[bold]evalkit[/] {len(plan.suites)} suite(s) × {len(plan.variants)} variant(s) → "
            f"{len(plan.requests)} requests{part} · run {prepared.run_id}{resumed}",
            highlight=False,
        )
        for line in prepared.warnings:
            warn(line)
        with ProgressObserver(todo, "evaluating") as observer:
            outcome = execute(prepared, observer)
        notices()
        if outcome.summary.status == "interrupted":
            console.print("[yellow]Interrupted: finished results are kept.[/]")
        show_outcome(outcome)
    if outcome.summary.status == "interrupted" or prepared.info.options.shard:
        raise typer.Exit(outcome.summary.exit_code)  # a shard enters the history merged, as one run
    raise typer.Exit(
        _after_run(prepared.run_dir, prepared.plan.loaded, outcome.summary.exit_code, fail_on_alert)
    )


def _after_run(run_dir: Path, loaded: LoadedConfig, exit_code: int, fail_on_alert: bool) -> int:
    """Record the finished run in the history and check its trend; the run's own verdict wins."""
    from evalkit.cli.history import ALERT_EXIT, show_history_outcome
    from evalkit.history.record import after_run

    outcome = after_run(run_dir, loaded)
    show_history_outcome(outcome)
    if exit_code == 0 and fail_on_alert and outcome is not None and outcome.alerts:
        return ALERT_EXIT
    return exit_code


@app.command()
def score(
    run_dir: Annotated[Path, typer.Argument(help="A run directory to score again.")],
    suites: Annotated[
        list[Path] | None,
        typer.Argument(help="Suite files whose current scorers, thresholds and cases to use."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask judges again even when cached.")] = False,
    config: ConfigOpt = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Gate against this baselines folder.")
    ] = None,
    trust_run_config: Annotated[
        bool,
        typer.Option(
            "--trust-run-config",
            help="Use what the run's run.json names: its providers (and hosts), plugins, cache, "
            "metric modules, template files and baselines folder. Only for runs you trust.",
        ),
    ] = False,
) -> None:
    """Re-run every scorer on a run's stored outputs (no answer is regenerated), then rewrite its
    summary and reports. With no suite files it uses the suites as the run recorded them (works
    on a copied run directory); name the edited suite files to score with their current scorers,
    thresholds, references or judge prompts. A run directory is data: judges call the providers
    of your own config, and a run whose run.json names code or files (metric modules, templates)
    is refused unless you pass --trust-run-config (see docs/trust-model.md)."""
    from evalkit.cli.render import console, show_outcome, warn
    from evalkit.stages.pipeline import ScoreOptions, score_run

    options = ScoreOptions(no_cache, suites or (), config, baseline, trust_run_config, warn)
    with user_errors():
        with console.status("scoring stored outputs"):
            outcome = score_run(run_dir, options)
        show_outcome(outcome)
    raise typer.Exit(outcome.summary.exit_code)


@app.command()
def merge(
    run_dirs: Annotated[list[Path], typer.Argument(help="The run directories of every shard (I/N).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The merged run directory to write.")],
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Gate against this baselines folder (default: the shards')."),
    ] = None,
    no_baseline: Annotated[
        bool, typer.Option("--no-baseline", help="Do not compare with baselines.")
    ] = False,
) -> None:
    """Join the run directories of `evalkit run --shard I/N` into one run: results in plan order,
    summary, gate and reports as an unsharded run. Refuses shards of other configs, overlapping,
    missing or unfinished shards (exit 2)."""
    from evalkit.cli.render import show_outcome
    from evalkit.stages.merge import merge_runs
    from evalkit.stages.pipeline import RunOutcome

    with user_errors():
        merged = merge_runs(run_dirs, out, baseline_dir=baseline, no_baseline=no_baseline)
        c = merged.conclusion
        show_outcome(RunOutcome(c.summary, c.diff, merged.run_dir, merged.warnings))
    raise typer.Exit(_after_run(out, merged.loaded, c.summary.exit_code, fail_on_alert=False))


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Rebuild report.html, junit.xml and summary.md from the run directory's files alone."""
    from evalkit.cli.render import console
    from evalkit.rundir.files import RESULTS
    from evalkit.stages.conclude import render_reports

    with user_errors():
        if not (run_dir / RESULTS).exists():
            raise UserInputError("not a run directory (no results.jsonl)", path=run_dir)
        paths = render_reports(run_dir)
    for path in paths:
        console.print(f"wrote {path}", highlight=False)


labels_app = typer.Typer(help="Human labels: import them into a run.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")


@labels_app.command("import")
def labels_import(
    file: Annotated[Path, typer.Argument(help="Labels: JSONL (the report's export) or CSV.")],
    run_dir: Annotated[Path, typer.Argument(help="The run directory the labels are about.")],
) -> None:
    """Add human labels to a run as a `human` score (several labellers allowed); refreshes
    summary.json and the reports. Every label must name an output of the run."""
    from evalkit.cli.render import console
    from evalkit.human.scores import import_labels

    with user_errors():
        got = import_labels(file, run_dir)
    console.print(
        f"imported {got.imported} label(s): {got.labels} in the run on {got.labelled_results} "
        f"result(s), by {', '.join(got.labellers)}",
        highlight=False,
    )


@app.command()
def calibrate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with human labels.")],
    resamples: Annotated[
        int, typer.Option(min=100, max=100_000, help="Bootstrap resamples for the CIs.")
    ] = 1000,
) -> None:
    """Agreement of each judge and pass/fail scorer with the human labels (accuracy, κ, α,
    confusion, leniency, with bootstrap CIs) and judge self-agreement; writes calibration.json."""
    from evalkit.cli.calibration import show_calibration
    from evalkit.human.calibrate import calibrate as run_calibration
    from evalkit.report import html
    from evalkit.rundir.files import CALIBRATION

    with user_errors():
        cal = run_calibration(run_dir, resamples=resamples)
        html.write(run_dir)
    show_calibration(cal, str(run_dir / CALIBRATION))


baseline_app = typer.Typer(help="Bless runs as baselines.", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("save")
def baseline_save(
    run_dir: Annotated[Path, typer.Argument(help="The run directory to bless.")],
    to: Annotated[Path, typer.Option("--to", help="Baselines folder (default ./baselines).")] = Path(
        "baselines"
    ),
    suite: Annotated[list[str] | None, typer.Option("--suite", help="Only these suites.")] = None,
    variant: VariantOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace baselines even with a run that regressed against them.")
    ] = False,
) -> None:
    """Save a run (per suite × variant) as the baseline. When one exists, shows the comparison
    first, and asks before replacing it with a run that regressed (non-interactive: --force)."""
    from evalkit.cli.render import console, show_diff, warn
    from evalkit.compare import baseline as bl
    from evalkit.compare import groups as run_groups
    from evalkit.compare.gate import diff_runs

    with user_errors():
        bl.check_folder(to)
        every = run_groups.groups_from_run(run_dir)
        groups = [
            g for g in every if (not suite or g.suite in suite) and (not variant or g.variant in variant)
        ]
        if not groups:
            raise UserInputError("nothing to save: no results match", path=run_dir)
        why = bl.incomplete(run_dir, sum(len(g.records) for g in every))
        if why is not None:
            warn(f"{run_dir} {why}: the baseline will lack what the run did not finish")
        previous = [bl.load(to, g.suite, g.variant) for g in groups]
        replaced = [(p, g) for p, g in zip(previous, groups, strict=True) if p is not None]
        if replaced:
            report = diff_runs(
                [p for p, _ in replaced], [g for _, g in replaced], run_groups.run_thresholds(run_dir)
            )
            console.print("[bold]Replacing existing baselines; what changes:[/]")
            show_diff(report)
            if report.regressed and not force:
                _confirm_regressed_bless(run_dir)
        for g, prev in zip(groups, previous, strict=True):
            _keep_latency(g, prev, warn)
            data_path, _ = bl.save(g, to)
            console.print(
                f"saved {g.suite} · {g.variant}: {len(g.records)} results → {data_path}", highlight=False
            )


def _interactive() -> bool:
    import sys

    return sys.stdin.isatty()


def _confirm_regressed_bless(run_dir: Path) -> None:
    question = f"{run_dir} regressed against the current baseline. Replace the baseline anyway?"
    if not _interactive():
        raise UserInputError(
            "this run regressed against the current baseline: pass --force to bless it anyway", path=run_dir
        )
    if not typer.confirm(question, default=False):
        raise typer.Exit(1)


def _keep_latency(group: Any, previous: Any, warn: Any) -> None:
    from evalkit.compare import baseline as bl

    cached = sum(1 for r in group.records if r.cached)
    if not cached:
        return
    unknown = bl.keep_known_latency(group, previous)
    where = f"{group.suite} · {group.variant}"
    kept = cached - unknown
    if kept:
        warn(f"{where}: {cached} result(s) came from the cache; kept the previous baseline's latency")
    if unknown:
        warn(
            f"{where}: {unknown} cached result(s) have no measured latency: later runs will not compare "
            "their latency (bless a run made with --no-cache to record it)"
        )


@app.command()
def diff(
    run_a: Annotated[Path, typer.Argument(help="The baseline run directory.")],
    run_b: Annotated[Path, typer.Argument(help="The candidate run directory (may be RUN_A itself).")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the diff as JSON here.")] = None,
    pair: Annotated[
        list[str] | None,
        typer.Option(
            "--pair",
            metavar="BASE=CAND",
            help="Compare variant CAND of RUN_B against variant BASE of RUN_A (repeatable), e.g. "
            "two backends of one model in one run: evalkit diff RUN RUN --pair transformers=vllm.",
        ),
    ] = None,
) -> None:
    """Compare two runs case by case; exit 1 when RUN_B regressed against RUN_A, 5 when nothing
    could be compared (no case paired)."""
    from evalkit.cli.render import console, show_diff
    from evalkit.compare import groups as run_groups
    from evalkit.compare.gate import diff_runs
    from evalkit.rundir.files import write_json

    with user_errors():
        if json_out is not None and not json_out.parent.is_dir():
            raise UserInputError("--json: no such folder to write into", path=json_out.parent)
        base = {(g.suite, g.variant): g for g in run_groups.groups_from_run(run_a)}
        cand = run_groups.groups_from_run(run_b)
        base_of = {g.variant: g.variant for g in cand}
        if pair:
            base_of = dict(_parse_pair(p) for p in pair)
            known = {g.variant for g in cand}
            for name in base_of:
                if name not in known:
                    raise UserInputError(
                        f"--pair: {run_b} has no variant '{name}'{did_you_mean(name, known)}"
                    )
            cand = [g for g in cand if g.variant in base_of]
        report = diff_runs(
            [base.get((g.suite, base_of[g.variant])) for g in cand], cand, run_groups.run_thresholds(run_b)
        )
    show_diff(report)
    if json_out is not None:
        with user_errors():
            try:
                write_json(json_out, report.model_dump(mode="json"))
            except OSError as exc:
                raise UserInputError(f"--json: cannot write: {exc.strerror or exc}", path=json_out) from None
    if report.regressed:
        verdict, code = "[bold red]REGRESSED[/]", 1
    elif report.inconclusive:
        verdict, code = (
            "[bold yellow]INCONCLUSIVE[/] (no case could be paired: nothing was compared)",
            INCONCLUSIVE,
        )
    else:
        verdict, code = "[bold green]OK[/]", 0
    console.print(f"{verdict}: {run_b} vs {run_a}", highlight=False)
    raise typer.Exit(code)


def _parse_pair(spec: str) -> tuple[str, str]:
    base, sep, cand = spec.partition("=")
    if not sep or not base or not cand:
        raise UserInputError(f"--pair '{spec}' must look like BASE=CAND (two variant names)")
    return cand, base


@app.command()
def validate(
    suites: SuitesArg = None,
    config: ConfigOpt = None,
    variant: VariantOpt = None,
) -> None:
    """Check config and suites (syntax, keys, templates, scorers, API keys) without calling a model."""
    from evalkit.cli.render import console, notices
    from evalkit.spec.config import load_config
    from evalkit.stages.pipeline import load_suites, suite_paths
    from evalkit.stages.plan import build_plan, instantiate

    with user_errors():
        loaded = load_config(config)
        loaded_suites = load_suites(suite_paths(suites or [], loaded))
        plan = build_plan(loaded, loaded_suites, variant or [])
        instantiate(plan)  # credentials, imports, model folders and agent tools are checked too
    notices()
    cases = sum(len(s.cases) for s in plan.suites)
    console.print(
        f"[green]ok[/]: {len(plan.suites)} suite(s), {cases} case(s), {len(plan.variants)} variant(s), "
        f"{len(plan.requests)} request(s)",
        highlight=False,
    )


cache_app = typer.Typer(help="Inspect or clear the response cache and the RAG indexes.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("stats")
def cache_stats() -> None:
    """Entries, size and models in the response cache, and the RAG indexes."""
    from rich.table import Table

    from evalkit.cli.render import console, notices
    from evalkit.rag.index import list_indexes
    from evalkit.stages.cache import ResponseCache, default_path

    indexes = list_indexes()
    console.print(
        f"RAG indexes: {len(indexes)}, {sum(size for _, size, _ in indexes) / 1e6:.1f} MB", highlight=False
    )
    if not default_path().exists():
        console.print(f"no response cache at {default_path()}")
        return
    cache = ResponseCache()
    stats = cache.stats()
    cache.close()
    notices()
    console.print(
        f"{stats['path']}: {stats['entries']} entries, {stats['bytes'] / 1e6:.1f} MB", highlight=False
    )
    table = Table("namespace", "provider", "model", "entries")
    for row in stats["by_model"]:
        table.add_row(row["namespace"], row["provider"], str(row["model"]), str(row["entries"]))
    console.print(table)


@cache_app.command("clear")
def cache_clear(
    older_than: Annotated[
        float | None, typer.Option("--older-than", min=0, help="Only entries older than this many seconds.")
    ] = None,
) -> None:
    """Delete cached responses and RAG indexes (all, or those older than --older-than seconds;
    an index's age is the time since a run last used it)."""
    from evalkit.cli.render import console, notices
    from evalkit.rag.index import remove_indexes
    from evalkit.stages.cache import ResponseCache, default_path

    indexes = remove_indexes(older_than)
    removed = 0
    if default_path().exists():
        cache = ResponseCache()
        removed = cache.clear(older_than)
        cache.close()
        notices()
    console.print(f"removed {removed} cached response(s) and {indexes} RAG index(es)")


class ListWhat(StrEnum):
    providers = "providers"
    scorers = "scorers"
    retrievers = "retrievers"


@app.command(name="list")
def list_(what: Annotated[ListWhat, typer.Argument(help="providers, scorers or retrievers")]) -> None:
    """List the registered providers, scorers or custom retrievers (built-in and plugins)."""
    from rich.markup import escape
    from rich.table import Table

    from evalkit import registry
    from evalkit.cli.render import console

    if what is ListWhat.retrievers:
        from evalkit.rag.retrievers import retrievers as reg
        from evalkit.spec.rag import BUILTIN_RETRIEVERS

        for name in BUILTIN_RETRIEVERS:
            console.print(f"{name}  [dim](built in: over the LanceDB index of a corpus)[/]", highlight=False)
    else:
        reg = registry.providers if what is ListWhat.providers else registry.scorers
    table = Table("name", "from", "description")
    if what is ListWhat.scorers:
        table.add_column("install", no_wrap=True)
    for entry in reg.entries():
        obj = reg.get(entry.name)
        doc = getattr(obj, "description", "") or " ".join(
            (obj.__doc__ or "").strip().split("\n\n")[0].split()
        )
        row = [entry.name, entry.source, doc]
        if what is ListWhat.scorers:
            extra = getattr(obj, "extra", None)
            row.append(
                escape(f"evalkit[{extra}]") if extra else "(core)" if entry.source == "builtin" else ""
            )
        table.add_row(*row)
    if table.row_count:
        console.print(table)
    elif what is ListWhat.retrievers:
        console.print("no custom retrievers registered (see docs/extending/retrievers.md)")


@app.command()
def export(
    run_dir: Annotated[
        Path | None, typer.Argument(help="A run directory (or use --history for the recorded runs).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.csv or FILE.parquet.")] = Path("results.csv"),
    history: Annotated[
        bool, typer.Option("--history", help="Export the history's cases instead (one row per run too).")
    ] = False,
    suite: Annotated[str | None, typer.Option("--suite", help="Only this suite.")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Only this variant.")] = None,
    last: Annotated[int | None, typer.Option("--last", min=1, help="--history: the newest N runs.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Write results as a table (one row per case × variant × repeat, a column per score) to CSV
    or Parquet, from a run directory or from the history."""
    from evalkit.cli.render import console
    from evalkit.history import frames

    with user_errors():
        if (run_dir is None) == (not history):
            raise UserInputError("export: give a RUN_DIR or --history (one of them)")
        if history:
            from evalkit.history.record import open_store
            from evalkit.history.store import Filters
            from evalkit.spec.config import load_config

            store = open_store(load_config(config))
            try:
                frame = frames.history_frame(store, Filters(suite=suite, variant=variant, last=last))
            finally:
                store.close()
        else:
            assert run_dir is not None
            frame = frames.load_run(run_dir)
            if suite or variant:
                frame = frame[
                    (frame["suite"] == (suite or frame["suite"]))
                    & (frame["variant"] == (variant or frame["variant"]))
                ]
        path = frames.write(frame, out)
    console.print(f"wrote {len(frame)} rows to {path}", highlight=False)


from evalkit.cli.history import history_app  # noqa: E402  (it imports this module's helpers)

app.add_typer(history_app, name="history")

from evalkit.cli.imports import import_app  # noqa: E402  (it imports this module's helpers)

app.add_typer(import_app, name="import")
