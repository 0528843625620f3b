"""After a run: record it in the history, check the alert rules, write alerts.json, notify.

Nothing here can lose or fail the run: a database that is down, a bad URL or a webhook that
does not answer becomes one line in the outcome, and `evalkit history import RUN_DIR` backfills.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit._util.paths import local_dir
from evalkit.errors import EvalkitError, ExitCode
from evalkit.rundir.dir import RunDir
from evalkit.spec.config import LoadedConfig
from evalkit.spec.history import DEFAULT_FILE, URL_ENV, HistorySettings
from evalkit.stages.provenance import git_output

if TYPE_CHECKING:
    from evalkit.history.adapter import RunRecord
    from evalkit.history.alerts import Alert
    from evalkit.history.feed import HistoryFeed
    from evalkit.history.lite import LiteStore
    from evalkit.history.store import HistoryStore

TAG_ENV = "EVALKIT_HISTORY_TAG"


@dataclass
class Outcome:
    recorded: bool
    message: str
    alerts: list[Alert] = field(default_factory=list)
    webhook: str | None = None
    exit_code: int | None = None  # the run's final exit code (4: --fail-on-alert and alerts)


def history_url(loaded: LoadedConfig) -> str:
    """EVALKIT_HISTORY_URL, else history.url, else a SQLite file in .evalkit/ beside the config."""
    if os.environ.get(URL_ENV):
        return os.environ[URL_ENV]
    url = loaded.config.history.url or f"sqlite:///{DEFAULT_FILE}"
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        url = prefix + str(loaded.resolve(url.removeprefix(prefix)))  # relative to evalkit.yaml
    return url


def named_url(loaded: LoadedConfig) -> bool:
    """Whether the history is a database named by EVALKIT_HISTORY_URL or history.url (not the
    project's default file, which the first run makes)."""
    return bool(os.environ.get(URL_ENV) or loaded.config.history.url)


def open_store(loaded: LoadedConfig, *, reading: bool = False) -> HistoryStore:
    """`reading`: a named SQLite history that does not exist is an error, not made empty."""
    from evalkit.history.store import HistoryStore

    _default_folder(loaded)
    store = HistoryStore(history_url(loaded), create=not (reading and named_url(loaded)))
    store.migrate()
    return store


def open_for_recording(loaded: LoadedConfig) -> HistoryStore | LiteStore:
    """The store a run records into: a SQLite history whose schema is current through the
    stdlib (history.lite: no SQLAlchemy, no alembic), anything else through `open_store`."""
    from evalkit.history.lite import create_if_missing, open_current

    _default_folder(loaded)
    url = history_url(loaded)
    create_if_missing(url)  # a first run makes its history without SQLAlchemy too
    return open_current(url) or open_store(loaded)


def _default_folder(loaded: LoadedConfig) -> None:
    """The default history's folder (.evalkit/ beside the config), made as evalkit's local output."""
    if not os.environ.get(URL_ENV) and not loaded.config.history.url:
        local_dir(loaded.resolve(str(Path(DEFAULT_FILE).parent)))


def shown_url(url: str) -> str:
    """The history URL as it may be shown (a plain SQLite file URL needs no SQLAlchemy to mask)."""
    from evalkit.history.lite import sqlite_file

    if sqlite_file(url) is not None:
        return url
    from evalkit.history.store import safe_url

    return safe_url(url)


def records(settings: HistorySettings) -> bool:
    """Whether `evalkit run` records into the history: switched on, and `record: ci` only in CI."""
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return settings.enabled and (settings.record == "always" or in_ci)


def after_run(
    run_dir: Path,
    loaded: LoadedConfig,
    exit_code: int = 0,
    fail_on_alert: bool = False,
    feed: HistoryFeed | None = None,
) -> Outcome | None:
    """Record a finished run and check it; None when the history is switched off (or, with
    `record: ci`, outside CI). Alerts are recorded with the run, and every file that states the
    run's outcome (summary.json, run.json, junit.xml, summary.md, report.html) says how many
    there were and the final exit code, so all of them agree with the terminal. `feed`: the
    run's per-case rows fed as it wrote them (history.feed), taken where they are the file's."""
    settings: HistorySettings = loaded.config.history
    if not records(settings):
        if feed is not None:
            feed.close()
        return None
    from evalkit.history.check import check_run

    url = shown_url(history_url(loaded))
    store: HistoryStore | LiteStore | None = None
    try:
        store = open_for_recording(loaded)
        run = _record(store, run_dir, settings, feed)
        alerts = check_run(store, run.run_id, settings.alerts)
        final = ExitCode.ALERT if exit_code == 0 and fail_on_alert and alerts else exit_code
        store.record_alerts(run.run_id, [a.as_dict() for a in alerts], final)
    except EvalkitError as exc:
        return Outcome(False, f"{exc}; the run is kept: backfill with evalkit history import {run_dir}")
    finally:
        if store is not None:
            store.close()
        if feed is not None:
            feed.close()
    outcome = Outcome(True, f"recorded in the history ({url})", alerts, exit_code=final)
    try:
        mark_alerts(RunDir(run_dir), [a.as_dict() for a in alerts], final)
    except EvalkitError as exc:  # e.g. another process writes the run directory now
        outcome.message += f"; the run directory was not updated: {exc}"
    if alerts and settings.webhook is not None:
        from evalkit.history.webhook import send

        outcome.webhook = send(alerts, run.run_id, settings.webhook)
    return outcome


def _record(
    store: HistoryStore | LiteStore, run_dir: Path, settings: HistorySettings, feed: HistoryFeed | None
) -> RunRecord:
    """The run recorded: its per-case rows from `feed` into a SQLite history (LiteStore) where
    they are results.jsonl's, else read back from the file."""
    from evalkit.history.lite import LiteStore

    branch, tag = current_branch(), os.environ.get(TAG_ENV) or settings.tag
    fed = feed.rows(RunDir(run_dir).results_file) if feed is not None else None
    if fed is not None and isinstance(store, LiteStore):
        return store.record(run_dir, branch=branch, tag=tag, fed=fed)
    return store.record(run_dir, branch=branch, tag=tag)


def mark_alerts(run_dir: RunDir, alerts: list[dict[str, Any]], exit_code: int) -> None:
    """alerts.json, the count and the final exit code in summary.json and run.json, and the CI
    files and report rebuilt from them, under the run directory's lock. A summary.json that says
    both already (no alerts, the exit code unchanged: most runs) is not written again."""
    from evalkit.compare.aggregate import Summary
    from evalkit.stages.conclude import rerender

    with run_dir.lock("evalkit history (recording the run)"):
        run_dir.write_alerts(alerts)
        update = {"alerts": len(alerts), "exit_code": exit_code}
        raw = run_dir.summary_data()
        if raw is not None and any(raw.get(key) != value for key, value in update.items()):
            run_dir.write_summary(Summary.model_validate(raw).model_copy(update=update))
        run_dir.write_info(run_dir.info().model_copy(update=update))
        if alerts or exit_code != (raw or {}).get("exit_code"):
            rerender(run_dir)


def current_branch() -> str | None:
    """The branch being evaluated: CI's variables first, else git."""
    for var in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"):
        if os.environ.get(var):
            return os.environ[var]
    name = git_output("rev-parse", "--abbrev-ref", "HEAD")
    return name if name and name != "HEAD" else None
