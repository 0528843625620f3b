"""`evalkit history`: runs and trends in the terminal, import, check, the trend report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evalkit.cli._common import ConfigOpt, SuiteOpt, VariantOpt, user_errors
from evalkit.errors import ExitCode, UserInputError


def escape(text: str) -> str:
    """Data for rich markup: markup and control characters escaped (evalkit.cli.render.escape)."""
    from evalkit.cli.render import escape as safe

    return safe(text)


if TYPE_CHECKING:
    from rich.table import Table

    from evalkit.history.store import Filters, HistoryStore
    from evalkit.spec.config import LoadedConfig

history_app = typer.Typer(
    help="The run history: list runs and trends, import run directories, check alerts, trend report.",
    invoke_without_command=True,
)

BranchOpt = Annotated[str | None, typer.Option("--branch", help="Only runs of this branch.")]
TagOpt = Annotated[str | None, typer.Option("--tag", help="Only runs with this tag.")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Runs started on or after (YYYY-MM-DD).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Runs started on or before (YYYY-MM-DD).")]
LastOpt = Annotated[int | None, typer.Option("--last", min=1, help="Only the newest N runs.")]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: EVALKIT_HISTORY_URL, history.url, SQLite)."),
]
FailOpt = Annotated[
    bool, typer.Option("--fail-on-alert", help=f"Exit {ExitCode.ALERT} when an alert is raised.")
]


def _date(value: str | None, option: str, end: bool = False) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"{option} '{value}' is not a date (YYYY-MM-DD or an ISO time)") from None
    if end and len(value) <= 10:
        parsed = parsed.replace(hour=23, minute=59, second=59)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _filters(
    suite: str | None, variant: str | None, branch: str | None, tag: str | None,
    since: str | None, until: str | None, last: int | None,
) -> Filters:  # fmt: skip
    from evalkit.history.store import Filters

    return Filters(
        suite, variant, branch, tag, _date(since, "--since"), _date(until, "--until", end=True), last
    )


def _open(config: Path | None, url: str | None, *, reading: bool = True) -> tuple[LoadedConfig, HistoryStore]:
    """A reading command given a database by name (--url, EVALKIT_HISTORY_URL, history.url)
    opens one that exists; only the project's default history is made on first use."""
    from evalkit.history.record import history_url, named_url
    from evalkit.history.store import HistoryStore
    from evalkit.spec.config import load_config

    loaded = load_config(config)
    named = url is not None or named_url(loaded)
    store = HistoryStore(url or history_url(loaded), create=not (reading and named))
    store.migrate()
    return loaded, store


@history_app.callback()
def history(
    ctx: typer.Context,
    suite: SuiteOpt = None,
    variant: VariantOpt = None,
    branch: BranchOpt = None,
    tag: TagOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    last: Annotated[int, typer.Option("--last", min=1, help="The newest N runs.")] = 20,
    metric: Annotated[
        str | None, typer.Option("--metric", "-m", help="Trend of this metric (default: the first scorer's).")
    ] = None,
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """List recorded runs and a metric's trend per suite × variant (a sparkline per row)."""
    if ctx.invoked_subcommand is not None:
        return
    from evalkit.cli.render import console

    with user_errors():
        filters = _filters(suite, variant, branch, tag, since, until, last)
        _, store = _open(config, url)
        try:
            runs = store.runs(filters)
            ids = [r["run_id"] for r in runs]
            groups = store.groups(filters, ids) if ids else []
            metrics = store.metrics(filters, ids) if ids else []
            alerts = store.alerts(ids) if ids else []
        finally:
            store.close()
    if not runs:
        console.print("no runs recorded (yet) that match", highlight=False)
        return
    console.print(_runs_table(runs, alerts))
    _print_trend(groups, metrics, metric)


def short_sha(sha: object) -> str:
    """Seven characters of a commit, and whether the tree had uncommitted changes."""
    text = str(sha or "–")
    return text[:7] + ("-dirty" if text.endswith("-dirty") else "")


def run_status(run: dict[str, object], alerts: int) -> str:
    """A recorded run's outcome in the words of its last line: 'passed with 4 alerts · exit 4'."""
    words = str(run["status"]) + (f" with {alerts} alert{'' if alerts == 1 else 's'}" if alerts else "")
    code = run.get("exit_code")
    return words + (f" · exit {code}" if code not in (None, 0) else "")


def _runs_table(runs: list[dict[str, object]], alerts: list[dict[str, object]]) -> Table:
    """Every name whole: a narrow terminal wraps a cell (folds a long id) instead of cutting it."""
    from collections import Counter

    from rich import box
    from rich.table import Table

    raised = Counter(str(a["run_id"]) for a in alerts)
    table = Table(box=box.SIMPLE, title="runs")
    for name in ("run", "started (UTC)", "branch", "tag", "git", "status"):
        table.add_column(name, overflow="fold")
    for r in reversed(runs):
        started = r["started_at"]
        table.add_row(
            escape(str(r["run_id"])),
            started.strftime("%Y-%m-%d %H:%M") if isinstance(started, datetime) else "–",
            escape(str(r["branch"] or "–")),
            escape(str(r["tag"] or "–")),
            short_sha(r["git_sha"]),
            escape(run_status(r, raised[str(r["run_id"])])),
        )
    return table


def _print_trend(
    groups: list[dict[str, object]], metrics: list[dict[str, object]], metric: str | None
) -> None:
    from rich import box
    from rich.table import Table

    from evalkit.cli.render import console
    from evalkit.history.series import metric_names, series_for
    from evalkit.history.sparkline import trend_row

    names = metric_names(groups, metrics)
    if metric is None:
        metric = names[0] if names else "pass_rate"
    elif metric not in names:
        from evalkit.errors import did_you_mean

        console.print(f"[red]no metric '{escape(metric)}' in these runs{did_you_mean(metric, names)}[/]")
        raise typer.Exit(ExitCode.USAGE)
    table = Table(box=box.SIMPLE, title=f"trend of {escape(metric)} (oldest → newest)", pad_edge=False)
    for name, justify in (("suite · variant", "left"), ("runs", "right"), ("trend", "left"),
                          ("last", "right"), ("Δ prev", "right"), ("range", "right")):  # fmt: skip
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for series in series_for(metric, groups, metrics):
        table.add_row(*(escape(cell) for cell in trend_row(series)))
    console.print(table)


@history_app.command("import")
def import_(
    paths: Annotated[
        list[Path], typer.Argument(help="Run directories, or folders holding them (CI artifacts).")
    ],
    branch: BranchOpt = None,
    tag: TagOpt = None,
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Record finished run directories in the history (backfill; re-importing a run replaces it)."""
    from evalkit.cli.render import console
    from evalkit.history.adapter import find_run_dirs, finished

    with user_errors():
        run_dirs = find_run_dirs(paths)
        _, store = _open(config, url, reading=False)
        try:
            for run_dir in run_dirs:
                if not finished(run_dir):
                    console.print(f"skipped {run_dir}: interrupted or unfinished", highlight=False)
                    continue
                run = store.record(run_dir, branch=branch, tag=tag)
                console.print(f"imported {run.run_id} from {run_dir}", highlight=False)
        finally:
            store.close()


@history_app.command("check")
def check(
    run_id: Annotated[str | None, typer.Argument(help="The run to check (default: the newest).")] = None,
    suite: SuiteOpt = None,
    variant: VariantOpt = None,
    branch: BranchOpt = None,
    tag: TagOpt = None,
    fail_on_alert: FailOpt = False,
    notify: Annotated[bool, typer.Option("--notify", help="Also send the alerts to the webhook.")] = False,
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Check a recorded run against its trend with the alert rules of evalkit.yaml."""
    from evalkit.history.check import check_run
    from evalkit.history.store import Filters

    with user_errors():
        loaded, store = _open(config, url)
        try:
            alerts = check_run(
                store, run_id, loaded.config.history.alerts, Filters(suite, variant, branch, tag)
            )
        finally:
            store.close()
    from evalkit.cli.render import show_alerts

    show_alerts(alerts)
    hook = loaded.config.history.webhook
    if notify and alerts and hook is not None:
        from evalkit.cli.render import console
        from evalkit.history.webhook import send

        console.print(send(alerts, alerts[0].run_id, hook), highlight=False)
    raise typer.Exit(ExitCode.ALERT if alerts and fail_on_alert else ExitCode.OK)


@history_app.command("report")
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the page.")] = Path("trend.html"),
    suite: SuiteOpt = None,
    variant: VariantOpt = None,
    branch: BranchOpt = None,
    tag: TagOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    last: Annotated[int, typer.Option("--last", min=1, help="The newest N runs.")] = 100,
    config: ConfigOpt = None,
    url: UrlOpt = None,
) -> None:
    """Write the trend report: one self-contained HTML page."""
    from evalkit.cli.render import console
    from evalkit.history import trend

    with user_errors():
        loaded, store = _open(config, url)
        try:
            path = trend.write(
                store,
                _filters(suite, variant, branch, tag, since, until, last),
                loaded.config.history.alerts,
                out,
            )
        finally:
            store.close()
    console.print(f"wrote {path}", highlight=False)
