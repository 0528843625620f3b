"""`evalkit run | score | merge | report | validate`: make a run directory, score it again, join
shards, rebuild its reports, or check the inputs without calling a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalkit.cli._common import ConfigOpt, SuitesArg, VariantsOpt, after_run, history_feed, user_errors


def run(
    suites: SuitesArg = None,
    config: ConfigOpt = None,
    variant: VariantsOpt = None,
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
    no_history: Annotated[
        bool, typer.Option("--no-history", help="Do not record this run in the run history.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="I/N", help="Run only shard I of N (join them with evalkit merge)."),
    ] = None,
) -> None:
    """Run suites against variants, score every output, write reports/<run-id>/, record it in
    the run history and check it against its trend."""
    from evalkit._util.signals import interrupt_exit_code, sigterm_as_interrupt
    from evalkit.cli import started
    from evalkit.cli.console import ProgressObserver, console, notices, warn  # render: after the run
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
                ),
                cases_later=True,  # written while the first requests are in flight
            )
        except KeyboardInterrupt as exc:  # while planning or building an index: nothing ran yet
            console.print("[yellow]Interrupted before any model call.[/]")
            raise typer.Exit(interrupt_exit_code(exc)) from None
        notices()
        plan = prepared.plan
        todo = plan.count - len(prepared.skip)
        part = f" · shard {prepared.info.options.shard}" if prepared.info.options.shard else ""
        resumed = f" · resuming: {len(prepared.skip)} done, {todo} to go" if prepared.skip else ""
        console.print(
            f"[bold]evalkit[/] {len(plan.suites)} suite(s) × {len(plan.variants)} variant(s) → "
            f"{plan.count} requests{part} · run {prepared.run_id}{resumed}",
            highlight=False,
        )
        for line in prepared.warnings:
            warn(line)
        started()  # the run's own work begins: the collector as usual (evalkit/cli/__init__.py)
        recorded = not (no_history or prepared.info.options.shard)  # a shard enters it merged
        feed = history_feed(plan.loaded) if recorded else None  # decided with the first result
        with ProgressObserver(todo, "evaluating") as observer:
            outcome = execute(prepared, observer, [feed] if feed is not None else ())
        notices()
        from evalkit.cli.render import show_outcome

        if outcome.summary.status == "interrupted":
            console.print("[yellow]Interrupted: finished results are kept.[/]")
        show_outcome(outcome)
    if outcome.summary.status == "interrupted" or not recorded:
        if feed is not None:
            feed.close()  # an interrupted run is not recorded
        raise typer.Exit(outcome.summary.exit_code)
    raise typer.Exit(after_run(prepared.run_dir, plan.loaded, outcome.summary.exit_code, fail_on_alert, feed))


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
    raise typer.Exit(after_run(out, merged.loaded, c.summary.exit_code, fail_on_alert=False))


def report(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Conclude the run again from its directory's files alone (summary.json, diff.json against the
    copied baselines) and rebuild report.html, junit.xml and summary.md."""
    from evalkit.cli.render import console
    from evalkit.stages.finish import render_reports

    with user_errors():
        paths = render_reports(run_dir)
    for path in paths:
        console.print(f"wrote {path}", highlight=False)


def validate(
    suites: SuitesArg = None,
    config: ConfigOpt = None,
    variant: VariantsOpt = None,
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
        f"{plan.count} request(s)",
        highlight=False,
    )
