"""`evalkit baseline save | diff`: bless a run as the baseline, compare two runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from evalkit.cli._common import VariantsOpt, user_errors
from evalkit.errors import ExitCode, UserInputError, did_you_mean

baseline_app = typer.Typer(help="Bless runs as baselines.", no_args_is_help=True)


@baseline_app.command("save")
def baseline_save(
    run_dir: Annotated[Path, typer.Argument(help="The run directory to bless.")],
    to: Annotated[Path, typer.Option("--to", help="Baselines folder (default ./baselines).")] = Path(
        "baselines"
    ),
    suite: Annotated[list[str] | None, typer.Option("--suite", help="Only these suites.")] = None,
    variant: VariantsOpt = None,
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
        raise typer.Exit(ExitCode.FAILED)


def _keep_latency(group: Any, previous: Any, warn: Any) -> None:
    from evalkit.compare import baseline as bl
    from evalkit.compare.records import cached_count

    cached = cached_count(group.records)
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
        verdict, code = "[bold red]REGRESSED[/]", ExitCode.FAILED
    elif report.inconclusive:
        verdict, code = (
            "[bold yellow]INCONCLUSIVE[/] (no case could be paired: nothing was compared)",
            ExitCode.INCONCLUSIVE,
        )
    else:
        verdict, code = "[bold green]OK[/]", ExitCode.OK
    console.print(f"{verdict}: {run_b} vs {run_a}", highlight=False)
    raise typer.Exit(code)


def _parse_pair(spec: str) -> tuple[str, str]:
    base, sep, cand = spec.partition("=")
    if not sep or not base or not cand:
        raise UserInputError(f"--pair '{spec}' must look like BASE=CAND (two variant names)")
    return cand, base
