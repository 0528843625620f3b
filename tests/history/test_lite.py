"""history.lite, the stdlib SQLite store a run records through: the same rows as SQLAlchemy's
store writes, opened only on a current schema, safe with runs recording at once, and `evalkit
run` that records into it loads neither SQLAlchemy nor alembic."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import UserInputError
from evalkit.history import lite, schema
from evalkit.history.store import HistoryStore
from tests.history.fabricate import Case, Group, make_run


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table as SQLite holds it (recorded_at, the clock, left out)."""
    conn = sqlite3.connect(path)
    out = {}
    for table in lite.CHILDREN_FIRST:
        names = [n for n in lite.COLUMNS[table] if n != "recorded_at"]
        out[table] = sorted(conn.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall(), key=repr)
    conn.close()
    return out


def runs(root: Path) -> list[Path]:
    groups = [
        Group("s", "v", [Case("a", {"q": 0.5, "other": None}, passed=True, cost_usd=0.001), Case("b", {"q": 1.0})]),
        Group("s", "w", [Case("a", {"q": 0.25}, passed=False, error="HTTP 500", latency_ms=None)]),
    ]  # fmt: skip
    return [make_run(root, i, groups) for i in range(3)]


def migrated(path: Path) -> HistoryStore:
    store = HistoryStore(f"sqlite:///{path}")
    store.migrate()
    return store


def test_the_columns_are_schema_pys() -> None:
    kinds = {"String": "text", "Text": "text", "Integer": "int", "Float": "float", "Boolean": "bool"}
    kinds |= {"JSON": "json", "DateTime": "time"}
    for table in schema.TABLES:
        assert {c.name: kinds[type(c.type).__name__] for c in table.columns} == lite.COLUMNS[table.name]
    assert [t.name for t in schema.TABLES] == list(lite.CHILDREN_FIRST)


def test_it_writes_the_rows_sqlalchemy_writes(tmp_path: Path) -> None:
    dirs = runs(tmp_path / "runs")
    alerts = [{"suite": "s", "variant": "v", "rule": "quality", "severity": "warning", "message": "m",
               "metric": "q", "value": 0.5, "trailing": 0.75, "unit": None, "p_value": 0.001}]  # fmt: skip
    migrated(tmp_path / "a.sqlite").close()
    lite.create_if_missing(f"sqlite:///{tmp_path / 'b.sqlite'}")  # made from head.sql, not by alembic
    store = lite.open_current(f"sqlite:///{tmp_path / 'b.sqlite'}")
    assert store is not None
    for writer in (HistoryStore(f"sqlite:///{tmp_path / 'a.sqlite'}"), store):
        for d in dirs:
            writer.record(d, branch="main", tag="nightly")
        writer.record(dirs[1], branch="main", tag="nightly")  # re-recording replaces
        writer.record_alerts("run-0002", alerts, 4)
        writer.close()
    assert rows(tmp_path / "a.sqlite") == rows(tmp_path / "b.sqlite")
    assert rows(tmp_path / "a.sqlite")["run_cases"]  # and there was something to compare
    # and SQLAlchemy reads what the stdlib wrote as it reads its own
    a, b = (
        HistoryStore(f"sqlite:///{tmp_path / 'a.sqlite'}"),
        HistoryStore(f"sqlite:///{tmp_path / 'b.sqlite'}"),
    )
    for read in (
        lambda s: s.runs(),
        lambda s: s.groups(),
        lambda s: s.metrics(),
        lambda s: s.alerts(["run-0002"]),
    ):
        assert [_no_clock(r) for r in read(a)] == [_no_clock(r) for r in read(b)]
    assert list(a.cases(["run-0000", "run-0001"])) == list(b.cases(["run-0000", "run-0001"]))
    a.close()
    b.close()


def _no_clock(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "recorded_at"}


def test_it_refuses_another_run_under_a_recorded_id(tmp_path: Path) -> None:
    migrated(tmp_path / "h.sqlite").close()
    store = lite.open_current(f"sqlite:///{tmp_path / 'h.sqlite'}")
    assert store is not None
    store.record(make_run(tmp_path / "one", 0, [Group("s", "v", [Case("a", {"q": 1.0})])]))
    other = make_run(tmp_path / "two", 0, [Group("s", "v", [Case("a", {"q": 0.0})])], prompt="p2")
    with pytest.raises(UserInputError, match="already in the history for another run"):
        store.record(other)
    assert [c["scores"] for c in store.cases(["run-0000"])] == [{"q": 1.0}]  # the first one is kept
    store.close()


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@localhost/h", "sqlite://", "sqlite:///:memory:", "sqlite+pysqlite:///h.sqlite",
     "sqlite:///h.sqlite?timeout=3", "sqlite:///missing.sqlite", "sqlite:///fresh.sqlite", "sqlite:///old.sqlite"],
)  # fmt: skip
def test_anything_but_a_current_sqlite_file_goes_to_sqlalchemy(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    migrated(tmp_path / "h.sqlite").close()
    sqlite3.connect(tmp_path / "fresh.sqlite").close()  # an empty file: no schema yet
    migrated(tmp_path / "old.sqlite").close()
    with sqlite3.connect(tmp_path / "old.sqlite") as conn:
        conn.execute("UPDATE evalkit_history_version SET version_num = '0001'")
    assert lite.open_current(url) is None
    store = lite.open_current("sqlite:///h.sqlite")
    assert store is not None and store.revision() == schema.HEAD_REVISION
    store.close()


def test_runs_recording_at_once_are_all_recorded(tmp_path: Path) -> None:
    """Four processes make a missing history and record four runs into it at the same moment."""
    import time

    dirs = [
        make_run(tmp_path / "runs", i, [Group("s", "v", [Case(f"c{j}", {"q": 1.0}) for j in range(50)])])
        for i in range(4)
    ]
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    start = time.time() + 3
    code = (  # no history yet: each makes it if it is missing, at the same moment, then records
        "import sys, time; from pathlib import Path; from evalkit.history import lite\n"
        f"time.sleep(max(0.0, {start} - time.time())); lite.create_if_missing({url!r})\n"
        f"s = lite.open_current({url!r}); s.record(Path(sys.argv[1])); s.close(); print('ok')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(d)], stderr=subprocess.PIPE, text=True)
        for d in dirs
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e[-300:] for e in errors]
    store = HistoryStore(url)
    assert [r["run_id"] for r in store.runs()] == [f"run-{i:04d}" for i in range(4)]
    assert sum(1 for _ in store.cases([f"run-{i:04d}" for i in range(4)])) == 4 * 50
    store.close()


def test_a_run_that_makes_or_records_into_a_history_loads_no_sqlalchemy(tmp_path: Path) -> None:
    (tmp_path / "evalkit.yaml").write_text(
        "providers:\n  p: {type: scripted, default: ok}\nvariants:\n  v: {provider: p}\n"
    )
    (tmp_path / "suite.yaml").write_text(
        'name: s\nprompt: "{{ q }}"\nscorers: [exact]\ncases:\n  - {id: a, vars: {q: x}, reference: ok}\n'
    )
    command = [sys.executable, "-X", "importtime", "-m", "evalkit", "run", "suite.yaml", "--out", "out"]
    first = subprocess.run(
        [*command, "--overwrite"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0 and "recorded in the history" in first.stdout, (
        first.stdout + first.stderr[-2000:]
    )
    assert (tmp_path / ".evalkit" / "history.sqlite").is_file()
    assert " sqlalchemy" not in first.stderr and " alembic" not in first.stderr  # made from head.sql
    again = subprocess.run(
        [*command, "--overwrite"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0 and "recorded in the history" in again.stdout, again.stdout
    loaded = [line.rsplit("|", 1)[-1].strip() for line in again.stderr.splitlines() if "|" in line]
    assert [m for m in loaded if m.split(".")[0] in ("sqlalchemy", "alembic")] == []
    store = HistoryStore(f"sqlite:///{tmp_path / '.evalkit' / 'history.sqlite'}")
    assert len(store.runs()) == 2  # both recorded
    store.close()


def test_head_sql_is_the_schema_alembic_makes(tmp_path: Path) -> None:
    """A missing history is made from head.sql: exactly what alembic's migrations make (after a
    new migration this fails until head.sql is written again, as its first lines say how)."""
    assert lite.HEAD_SCHEMA.read_text(encoding="utf-8") == lite.head_schema_from_alembic(tmp_path)
    url = f"sqlite:///{tmp_path / 'new' / 'made.sqlite'}"
    lite.create_if_missing(url)
    master = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
    with (
        sqlite3.connect(tmp_path / "new" / "made.sqlite") as made,
        sqlite3.connect(tmp_path / "alembic.sqlite") as ref,
    ):
        assert made.execute(master).fetchall() == ref.execute(master).fetchall()
    store = HistoryStore(url)
    assert store.revision() == schema.HEAD_REVISION
    store.migrate()  # nothing to do
    store.close()
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["made.sqlite"]  # no temporary file left
    lite.create_if_missing(url)  # a file that exists is left alone
    with sqlite3.connect(tmp_path / "new" / "made.sqlite") as made:
        assert made.execute(master).fetchall() != []


def test_a_new_history_is_synced_whole_before_it_is_linked_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made without a journal (a private file until linked), so its one fsync is made by hand,
    of the whole file, before the link: a crash never leaves a history file half written."""
    events: list[str] = []
    real_fsync, real_link = lite.os.fsync, lite.os.link

    def fsync(fd: int) -> None:
        events.append(f"fsync {Path(os.readlink(f'/proc/self/fd/{fd}')).name}")
        real_fsync(fd)

    def link(source: Path, target: Path) -> None:
        events.append(f"link {Path(source).name}")
        real_link(source, target)

    monkeypatch.setattr(lite.os, "fsync", fsync)
    monkeypatch.setattr(lite.os, "link", link)
    lite.create_if_missing(f"sqlite:///{tmp_path / 'h.sqlite'}")
    fresh = f".h.sqlite.{os.getpid()}.new"
    assert events == [f"fsync {fresh}", f"link {fresh}"]
    store = lite.open_current(f"sqlite:///{tmp_path / 'h.sqlite'}")
    assert store is not None and store.revision() == schema.HEAD_REVISION
    store.close()


@pytest.mark.parametrize(
    "text", ['{"q": 1.0, "r": null}', "null", ' {"q": 1}', '{"q": 1} ', '{"q": NaN}', "[1, 2]", '"x"']
)
def test_json_values_read_as_json_loads_reads_them(text: str) -> None:
    assert repr(lite._json_loads(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", ['{"q": 1} x', '{"q": 1}{}', "", '{"q":'])
def test_json_that_json_loads_refuses_is_refused(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        lite._json_loads(text)


def test_case_scores_stream_every_row_batch_by_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    lite.create_if_missing(url)
    store = lite.open_current(url)
    assert store is not None
    for d in runs(tmp_path / "runs"):
        store.record(d)
    ids = ["run-0000", "run-0001", "run-0002"]
    wanted = [
        (c["run_id"], c["suite"], c["variant"], c["case_id"], c["passed"], c["scores"])
        for c in store.cases(ids)
    ]
    monkeypatch.setattr(lite, "BATCH", 2)  # 9 rows: 5 batches
    assert list(store.case_scores(ids)) == wanted and len(wanted) == 9
    store.close()
