"""The history store on SQLite and on a real PostgreSQL server started here: alembic builds the
schema the code queries, runs round-trip, filters select, re-recording replaces, and the alert
check reads both the same way."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from evalkit.history.check import check_run
from evalkit.history.lite import open_current
from evalkit.history.store import Filters, HistoryStore
from evalkit.rundir.dir import RunDir
from evalkit.spec.history import AlertRules
from tests.history.fabricate import T0, Case, Group, make_run
from tests.history.postgres import postgres_server


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def sa_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryStore]:
    """SQLAlchemy's store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = HistoryStore(url)
    s.migrate()
    yield s
    if request.param == "postgresql":  # one server for the module: empty it for the next test
        import sqlalchemy as sa

        with s.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "DROP TABLE run_alerts, run_cases, run_metrics, run_groups, runs, evalkit_history_version"
                )
            )
    s.close()


@pytest.fixture(params=["sqlalchemy", "lite"])
def store(request: pytest.FixtureRequest, sa_store: HistoryStore, tmp_path: Path) -> Iterator[Any]:
    """Every store the code records into: SQLAlchemy's on each backend, and on SQLite also the
    stdlib one a run records through (history.lite), on the same migrated file."""
    if request.param == "sqlalchemy":
        yield sa_store
        return
    assert sa_store.engine.dialect.name == "sqlite"  # conftest.py makes no lite case for PostgreSQL
    lite = open_current(f"sqlite:///{tmp_path / 'h.sqlite'}")
    assert lite is not None
    yield lite
    lite.close()


def series(root: Path, n: int, *, drop_last: float = 0.0, seed: int = 3) -> list[Path]:
    rng = random.Random(seed)
    level = [rng.random() for _ in range(30)]
    dirs = []
    for i in range(n):
        shift = drop_last if i == n - 1 else 0.0
        cases = [
            Case(f"c{j}", {"quality": d + shift + rng.gauss(0, 0.03), "other": None if j == 0 else 0.5},
                 passed=d > 0.4, latency_ms=100 + j, cost_usd=0.001)
            for j, d in enumerate(level)
        ]  # fmt: skip
        dirs.append(make_run(root, i, [Group("s", "v", cases, scorers=["quality", "other"])]))
    return dirs


def test_migrations_build_the_schema_the_code_uses(sa_store: HistoryStore) -> None:
    store = sa_store
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from evalkit.history.schema import metadata

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": "evalkit_history_version"})
        assert compare_metadata(context, metadata) == []
    store.migrate()  # a second time is a no-op


def test_a_current_schema_is_recognised_without_importing_alembic(sa_store: HistoryStore) -> None:
    """HEAD_REVISION is alembic's own head; a migrated database is current by that revision,
    and migrating it again in a fresh process never imports alembic (a run's fixed cost)."""
    store = sa_store
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from evalkit.history import schema
    from evalkit.history.store import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == schema.HEAD_REVISION
    assert store.revision() == schema.HEAD_REVISION
    url = store.engine.url.render_as_string(hide_password=False)
    code = (
        "import sys; from evalkit.history.store import HistoryStore\n"
        f"s = HistoryStore({url!r}); s.migrate(); s.close()\n"
        "print([m for m in sys.modules if m.split('.')[0] == 'alembic'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr[-2000:]


def test_a_database_without_the_schema_has_no_revision(tmp_path: Path) -> None:
    fresh = HistoryStore(f"sqlite:///{tmp_path / 'new.sqlite'}")
    assert fresh.revision() is None
    fresh.migrate()
    assert fresh.revision() == "0003"
    fresh.close()


def test_runs_round_trip(store: HistoryStore, tmp_path: Path) -> None:
    dirs = series(tmp_path, 4)
    for i, d in enumerate(dirs):
        store.record(d, branch="main" if i % 2 else "dev", tag="nightly" if i >= 2 else None)
    store.record(dirs[1], branch="main")  # re-recording replaces, never duplicates
    assert [r["run_id"] for r in store.runs()] == [f"run-{i:04d}" for i in range(4)]
    assert [r["run_id"] for r in store.runs(Filters(branch="main"))] == ["run-0001", "run-0003"]
    assert [r["run_id"] for r in store.runs(Filters(tag="nightly"))] == ["run-0002", "run-0003"]
    assert [r["run_id"] for r in store.runs(Filters(last=2))] == ["run-0002", "run-0003"]
    since, until = T0 + timedelta(days=1), T0 + timedelta(days=2, hours=1)
    assert [r["run_id"] for r in store.runs(Filters(since=since, until=until))] == ["run-0001", "run-0002"]
    assert store.runs(Filters(suite="nope")) == []

    summary = json.loads(RunDir(dirs[3]).summary_file.read_text())["groups"][0]
    group = store.groups(Filters(last=1))[0]
    assert group["pass_rate"] == pytest.approx(summary["pass_rate"])
    assert group["latency_p95_ms"] == pytest.approx(summary["latency"]["p95_ms"])
    assert group["cost_per_case_usd"] == pytest.approx(summary["cost_per_case_usd"])
    metrics = {m["metric"]: m for m in store.metrics(Filters(last=1))}
    assert metrics["quality"]["mean"] == pytest.approx(summary["metrics"]["quality"]["mean"])
    assert metrics["quality"]["ci_low"] == pytest.approx(summary["metrics"]["quality"]["ci_low"])

    stored = {c["case_id"]: c for c in store.cases(["run-0003"])}
    for r in RunDir(dirs[3]).results():
        assert stored[r.case_id]["scores"] == {k: s.value for k, s in r.scores.items()}
        assert stored[r.case_id]["passed"] is r.passed()
    assert sum(1 for _ in store.cases(["run-0001"])) == 30
    for scope in ((), ("s",), ("s", "v"), ("nope",)):  # what an alert check reads: the same values
        wanted = [(c["run_id"], c["suite"], c["variant"], c["case_id"], c["passed"], c["scores"])
                  for c in store.cases(["run-0001", "run-0003"], *scope)]  # fmt: skip
        assert list(store.case_scores(["run-0001", "run-0003"], *scope)) == wanted


def test_a_drop_alerts_on_every_backend(store: HistoryStore, tmp_path: Path) -> None:
    for d in series(tmp_path, 6, drop_last=-0.05):
        store.record(d)
    alerts = check_run(store, None, AlertRules())
    assert [(a.rule, a.metric) for a in alerts] == [("quality", "quality")]
    assert alerts[0].run_id == "run-0005" and alerts[0].p_value is not None and alerts[0].p_value < 0.005
    assert check_run(store, "run-0004", AlertRules()) == []  # the runs before were stable


def test_the_check_reads_cases_back_only_when_the_paired_test_can_use_them(
    store: HistoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[list[str]] = []
    original = store.case_scores

    def counted(run_ids: list[str], *args: Any) -> Any:
        read.append(list(run_ids))
        return original(run_ids, *args)

    monkeypatch.setattr(store, "case_scores", counted)
    found = []
    for d in series(tmp_path, 6, drop_last=-0.05):
        found.append(check_run(store, store.record(d).run_id, AlertRules(min_history=3)))
    ids = [f"run-{i:04d}" for i in range(6)]
    assert read == [ids[:4], ids[:5], ids[:6]]  # 3 earlier runs at least
    assert [[a.rule for a in alerts] for alerts in found] == [[]] * 5 + [["quality"]]
    assert "paired over 30 cases" in found[-1][0].message


def test_a_truncation_rate_spike_is_stored_and_alerts_on_every_backend(
    store: HistoryStore, tmp_path: Path
) -> None:
    import scipy.stats

    def cases(truncated: int) -> list[Case]:
        return [
            Case(f"c{j}", {"quality": 0.8}, passed=True, finish_reason="length" if j < truncated else "stop")
            for j in range(40)
        ]

    for i, cut in enumerate([1, 0, 1, 0, 0, 10]):
        store.record(make_run(tmp_path, i, [Group("s", "v", cases(cut))]))
    groups = {g["run_id"]: g for g in store.groups(Filters())}
    assert (groups["run-0005"]["truncated"], groups["run-0005"]["truncation_rate"]) == (10, 0.25)
    assert (groups["run-0000"]["truncated"], groups["run-0001"]["truncation_rate"]) == (1, 0.0)
    (alert,) = check_run(store, None, AlertRules())
    assert (alert.rule, alert.metric, alert.unit, alert.value) == (
        "truncation_rate",
        "truncated",
        "share",
        0.25,
    )
    assert alert.message.startswith("truncation rate 25.0% (10 of 40) against 1.0% in the trailing 5 runs")
    # the exact conditional binomial test: 10 of the 12 truncations in the newest 40 of 240 answers
    reference = scipy.stats.binomtest(10, 12, 40 / 240, alternative="greater").pvalue
    assert alert.p_value == pytest.approx(reference)
    quiet = AlertRules.model_validate({"truncation_rate": {"enabled": False}})
    assert check_run(store, None, quiet) == []


def test_migration_0003_keeps_the_rows_recorded_before_it(sa_store: HistoryStore, tmp_path: Path) -> None:
    """Down to 0002 (the columns go), a run recorded there, up to head again: the old row reads
    with no truncation figures (NULL: no alert, no point), on SQLite and PostgreSQL alike."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from evalkit.history import schema
    from evalkit.history.store import MIGRATIONS

    sa_store.record(make_run(tmp_path, 0, [Group("s", "v", [Case("c0", {"quality": 0.5}, passed=True)])]))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with sa_store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    with sa_store.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("run_groups")}
    assert "truncated" not in columns and sa_store.revision() == "0002"
    sa_store.migrate()
    assert sa_store.revision() == schema.HEAD_REVISION == "0003"
    (row,) = sa_store.groups(Filters())
    assert row["run_id"] == "run-0000" and row["truncated"] is None and row["truncation_rate"] is None
    assert row["results"] == 1


def test_history_dataframe(store: HistoryStore, tmp_path: Path) -> None:
    from evalkit.history.frames import history_frame

    for d in series(tmp_path, 3):
        store.record(d, branch="main")
    frame = history_frame(store, Filters(last=2))
    assert len(frame) == 2 * 30 and set(frame["run_id"]) == {"run-0001", "run-0002"}
    assert {"quality", "other", "passed", "latency_ms", "branch"} <= set(frame.columns)
    expected = {r.case_id: r.scores["quality"].value for r in RunDir(tmp_path / "run-0002").results()}
    last = frame[frame["run_id"] == "run-0002"].set_index("case_id")["quality"]
    assert last.to_dict() == pytest.approx(expected)


def test_cli_against_postgresql(pg_url: str, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    series(tmp_path / "artifacts", 5, drop_last=-0.05)
    monkeypatch.setenv("EVALKIT_HISTORY_URL", pg_url)
    imported = cli("history", "import", "artifacts", "--tag", "ci")
    assert imported.exit_code == 0 and imported.output.count("imported") == 5, imported.output
    listing = cli("history", "--tag", "ci", "--metric", "quality")
    assert listing.exit_code == 0 and "run-0004" in listing.output and "s · v" in listing.output
    assert cli("history", "check", "--fail-on-alert").exit_code == 4
    assert (
        cli("history", "report", "-o", "t.html").exit_code == 0 and (tmp_path / "t.html").stat().st_size > 0
    )
    store = HistoryStore(pg_url)
    import sqlalchemy as sa

    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE run_cases, run_metrics, run_groups, runs, evalkit_history_version"))
    store.close()


def test_first_runs_on_a_fresh_history_do_not_race_the_schema_migration(tmp_path: Path) -> None:
    """Four first runs on a fresh history raced the migration: 5 of 24 runs went unrecorded.
    Six processes migrate one fresh SQLite database at the same moment: every one succeeds."""
    import time

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    start = time.time() + 3
    code = (
        "import time, sys; from evalkit.history.store import HistoryStore; from evalkit.history import schema\n"
        f"s = HistoryStore({url!r})\n"
        f"time.sleep(max(0.0, {start} - time.time()))\n"
        "s.migrate(); assert s.revision() == schema.HEAD_REVISION; print('ok')\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err[-300:] for _, err in outs]


def test_a_history_from_a_newer_evalkit_is_one_error_not_a_traceback(tmp_path: Path) -> None:
    """A schema revision this evalkit does not know (a newer evalkit migrated the file) made
    alembic raise CommandError through `evalkit run`: a traceback after the run, exit 1."""
    from evalkit.history.base import HistoryUnavailable

    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    s = HistoryStore(url)
    s.migrate()
    with s.engine.begin() as conn:
        import sqlalchemy as sa

        conn.execute(sa.text("UPDATE evalkit_history_version SET version_num = 'ffff9999'"))
    with pytest.raises(HistoryUnavailable, match=r"schema revision 'ffff9999'.*newer evalkit"):
        s.migrate()
    s.close()


def test_a_sqlite_history_under_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sqlite:///~/h.sqlite`: the folder was made under the home folder but SQLAlchemy opened
    the literal `~/h.sqlite` beside the working directory ("unable to open database file")."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    s = HistoryStore("sqlite:///~/hist/h.sqlite")
    s.migrate()
    s.close()
    assert (tmp_path / "home" / "hist" / "h.sqlite").is_file() and not (tmp_path / "~").exists()
    lite = open_current("sqlite:///~/hist/h.sqlite")  # the run's fast path opens the same file
    assert lite is not None
    lite.close()
