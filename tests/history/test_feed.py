"""The history's per-case rows fed as a run writes results.jsonl (history.feed): recorded from
them, a run leaves exactly the rows that reading the file back leaves; anything that might make
them differ (a file that held results, was rewritten or appended to, a batch not fed, a feed that
failed or was cut short) reads the file back, and the scratch file never outlives the feed."""

from __future__ import annotations

import math
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from evalkit._util import secrets
from evalkit.history import feed as feed_module
from evalkit.history import lite
from evalkit.history.adapter import read_case_values
from evalkit.history.feed import HistoryFeed
from evalkit.history.store import HistoryStore
from evalkit.rundir.files import ResultWriter
from evalkit.types import CaseResult, Step, StoredScore, Usage
from tests.conftest import scratch_left
from tests.history.fabricate import write_run


def _result(case_id: str, **fields: Any) -> CaseResult:
    base: dict[str, Any] = {
        "suite": "s",
        "case_id": case_id,
        "variant": "v",
        "repeat": 0,
        "provider": "fake",
        "model": "m",
        "model_version": "m-1",
        "input_hash": f"h-{case_id}",
        "messages": [],
        "output": "out",
        "latency_ms": 12.5,
        "cost_usd": 0.001,
        "usage": Usage(input_tokens=3, output_tokens=4),
        "scores": {"q": StoredScore(value=0.5, passed=True), "r": StoredScore(value=1.0)},
    }
    return CaseResult.model_validate({**base, **fields})


SECRET = "sk-feed-secret-0123456789abcdef"


def _batches() -> list[list[CaseResult]]:
    """Results of every kind a row can hold, in batches as the execute stage writes them: plain
    ones, what JSON cannot keep (NaN, infinities: written null), a secret (scrubbed), a lone
    surrogate (cleaned), a trace, errors, repeats, a cached answer, and numbers made without
    validation as ints (written `5`, read back as floats)."""
    unvalidated = _result("ints").model_copy(
        update={
            "latency_ms": 5,
            "cost_usd": 0,
            "scores": {"q": StoredScore.model_construct(value=1, passed=True)},
        }
    )
    return [
        [_result("a"), _result("b", scores={"q": StoredScore(value=0.0, passed=False)}), _result("ü-1")],
        [
            _result("nan", scores={"q": StoredScore(value=math.nan, passed=None)}),
            _result("inf", latency_ms=math.inf, cost_usd=None),
            _result("none", scores={"q": StoredScore(value=None)}, usage=Usage()),
        ],
        [_result("err", output=None, error="HTTP 500", latency_ms=None, scores={})],
        [_result("secret", error=f"refused {SECRET}", output=None, scores={})],
        [_result("surrogate", output="half a pair \ud83d")],
        [_result("trace", steps=[Step(id="1", type="tool", name="t", output=math.nan)])],
        [_result("a", repeat=1, cached=True), _result("a", repeat=2, model_version=None, input_hash=None)],
        [unvalidated],
    ]


SCORERS = {("s", "v"): ["q"]}


def _stored(path: Path) -> list[tuple[Any, ...]]:
    """run_cases as SQLite holds it: every column with its storage type, in rowid order."""
    conn = sqlite3.connect(path)
    names = ["run_id", *lite.CASE_COLUMNS]
    typed = ", ".join(f"{n}, typeof({n})" for n in names)
    rows = conn.execute(f"SELECT rowid, {typed} FROM run_cases ORDER BY rowid").fetchall()
    conn.close()
    return rows


def _history(path: Path) -> lite.LiteStore:
    lite.create_if_missing(f"sqlite:///{path}")
    store = lite.open_current(f"sqlite:///{path}")
    assert store is not None
    return store


def test_recorded_from_the_feed_the_rows_are_those_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets.register(SECRET)
    feed = HistoryFeed()
    run = write_run(tmp_path / "runs", 0, _batches(), SCORERS, feed=feed)
    fed = feed.rows(run / "results.jsonl")
    assert fed is not None and feed.n == 13

    def no_read_back(run_dir: Path) -> Any:
        raise AssertionError("read back")

    with monkeypatch.context() as m:
        m.setattr(lite, "read_case_values", no_read_back)
        store = _history(tmp_path / "fed.sqlite")
        store.record(run, branch="main", fed=fed)
        store.close()
    store = _history(tmp_path / "read.sqlite")  # as `evalkit run` records without a feed
    store.record(run, branch="main")
    store.close()
    assert _stored(tmp_path / "fed.sqlite") == _stored(tmp_path / "read.sqlite")
    conn = sqlite3.connect(tmp_path / "fed.sqlite")
    conn.row_factory = sqlite3.Row
    rows = {r["case_id"]: r for r in conn.execute("SELECT *, typeof(latency_ms) AS kind FROM run_cases")}
    conn.close()
    assert (rows["ints"]["latency_ms"], rows["ints"]["kind"], rows["ints"]["scores"]) == (
        5.0,
        "real",
        '{"q": 1.0}',
    )
    assert rows["nan"]["scores"] == '{"q": null}' and rows["inf"]["latency_ms"] is None
    assert rows["secret"]["error"] == "refused ***" and len(rows) == 11
    # and as `evalkit history import` records it (SQLAlchemy's store)
    imported = HistoryStore(f"sqlite:///{tmp_path / 'imported.sqlite'}")
    imported.migrate()
    imported.record(run, branch="main")
    imported.close()
    assert sorted(_stored(tmp_path / "fed.sqlite"), key=repr) == sorted(
        _stored(tmp_path / "imported.sqlite"), key=repr
    )
    feed.close()
    assert not fed.exists()


def test_the_fed_rows_are_the_rows_of_the_lines_read_back(tmp_path: Path) -> None:
    """The rows fed of each batch are `case_row` of `read_case_values`' tuple of its lines, value
    for value and type for type (1.0 is not 1 in a score's JSON, NaN is JSON's null)."""
    writer = ResultWriter(tmp_path / "results.jsonl")
    fed: list[tuple[Any, ...]] = []

    class Tap:
        def written(self, results: Any, text: str, exact: bool, size: int) -> None:
            fed.extend(feed_module._rows(results, text, exact, lite.fed_row))

    writer.taps.append(Tap())
    secrets.register(SECRET)
    for batch in _batches():
        writer.extend(batch)
    writer.close()
    read = [lite.case_row(values) for values in read_case_values(tmp_path)]
    assert _typed(fed) == _typed(read) and len(read) == 13


def _typed(rows: list[tuple[Any, ...]]) -> list[str]:
    return [repr([(type(v).__name__, v) for v in row]) for row in rows]


def _fed_run(folder: Path) -> tuple[HistoryFeed, ResultWriter, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.jsonl"
    writer = ResultWriter(path)
    feed = HistoryFeed()
    feed.attach(writer)
    writer.extend([_result("a"), _result("b")])
    return feed, writer, path


def test_a_file_rewritten_or_written_to_since_is_read_back(tmp_path: Path) -> None:
    feed, writer, path = _fed_run(tmp_path)
    writer.close()
    assert feed.rows(path) is not None
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(path.read_bytes())
    os.replace(copy, path)  # the same bytes, another file (a rescore, labels)
    assert feed.rows(path) is None

    feed, writer, path = _fed_run(tmp_path / "appended")
    other = ResultWriter(path)
    other.extend([_result("c")])  # a line the feed never saw
    other.close()
    assert feed.rows(path) is None
    feed.close()


def test_a_batch_not_fed_is_read_back(tmp_path: Path) -> None:
    """A write whose feed never came (an interrupt after the write, a tap before it raising):
    the writer's count says so, even when later batches were fed."""
    feed, writer, path = _fed_run(tmp_path)
    writer.taps.remove(feed)
    writer.extend([_result("c")])
    writer.taps.append(feed)
    writer.extend([_result("d")])
    writer.close()
    assert feed.spoiled is None and feed.size == path.stat().st_size
    assert feed.rows(path) is None
    feed.close()


def test_a_feed_cut_short_or_failing_is_never_used_and_costs_the_run_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed, writer, path = _fed_run(tmp_path)
    scratch = feed.path
    assert scratch is not None and scratch.exists()

    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(feed_module, "_rows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.extend([_result("c")])
    assert feed.spoiled is not None and feed.rows(path) is None
    monkeypatch.undo()

    feed, writer, path = _fed_run(tmp_path / "failing")
    scratch = feed.path

    def failing(*args: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(feed_module, "_rows", failing)
    writer.extend([_result("c")])  # written all the same: the run goes on
    writer.close()
    assert feed.spoiled == "feeding failed: OperationalError: disk I/O error"
    assert feed.rows(path) is None and scratch is not None and not scratch.exists()
    assert len(path.read_text().splitlines()) == 3


def test_a_file_that_held_results_is_never_fed(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    ResultWriter(path).extend([_result("a")])
    feed = HistoryFeed()
    writer = ResultWriter(path)
    feed.attach(writer)
    writer.extend([_result("b")])
    writer.close()
    assert feed.spoiled == "results.jsonl held results before the run" and feed.path is None
    assert feed.rows(path) is None


@pytest.fixture
def read_backs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """The run directories whose results the SQLite history read back to record them; and the
    temporary folder made a fresh one, to see the scratch files go."""
    import tempfile

    calls: list[Path] = []
    real = lite.read_case_values

    def recording(run_dir: Path) -> Any:
        calls.append(run_dir)
        return real(run_dir)

    monkeypatch.setattr(lite, "read_case_values", recording)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return calls


def _project(workdir: Path, url: str) -> None:
    from tests.conftest import qa_suite_yaml, two_variant_config, write

    write(workdir / "qa.yaml", qa_suite_yaml(scorers="[exact, rouge]"))
    write(workdir / "evalkit.yaml", two_variant_config(url))


def _same_as_imported(cli: Any, workdir: Path, run: str) -> None:
    """The run's rows in the project's history are those `evalkit history import` records."""
    imported = workdir / "imported.sqlite"
    result = cli("history", "import", run, "--url", f"sqlite:///{imported}")
    assert result.exit_code == 0, result.output
    recorded = _stored(workdir / ".evalkit" / "history.sqlite")
    assert recorded and recorded == _stored(imported)


def test_evalkit_run_records_the_rows_it_fed(
    workdir: Path, fake_server: Any, cli: Any, read_backs: list[Path]
) -> None:
    _project(workdir, fake_server.url)
    result = cli("run", "qa.yaml", "-o", "r", "--no-baseline", "--repeats", "2")
    assert result.exit_code == 0, result.output
    assert "recorded in the history" in result.output
    assert read_backs == []  # recorded from the rows fed: results.jsonl was not read back
    assert scratch_left(workdir / "tmp") == []  # the scratch file is gone
    assert sorted(p.name for p in (workdir / "r").iterdir() if p.name.startswith(".")) == [".lock"]
    _same_as_imported(cli, workdir, "r")


def test_a_resumed_run_reads_its_results_back(
    workdir: Path, fake_server: Any, cli: Any, read_backs: list[Path]
) -> None:
    _project(workdir, fake_server.url)
    assert cli("run", "qa.yaml", "-o", "r", "--no-baseline", "--no-history").exit_code == 0
    result = cli("run", "--resume", "r")  # results.jsonl held results: nothing fed
    assert result.exit_code == 0, result.output
    assert "recorded in the history" in result.output and read_backs == [Path("r")]
    assert scratch_left(workdir / "tmp") == []
    _same_as_imported(cli, workdir, "r")


def test_ctrl_c_mid_run_leaves_no_rows_and_no_scratch_file(tmp_path: Path) -> None:
    import json
    import signal

    from tests.conftest import slow_run, wait_for_lines
    from tests.fake_openai import FakeOpenAI

    (tmp_path / "tmp").mkdir()
    with FakeOpenAI(latency_s=0.3) as server:
        proc = slow_run(tmp_path, server.url, TMPDIR=str(tmp_path / "tmp"))
        wait_for_lines(tmp_path / "out" / "results.jsonl", 4)
        assert [name[:8] for name in scratch_left(tmp_path / "tmp")] == ["history-"]  # being fed
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["status"] == "interrupted"
    history = tmp_path / ".evalkit" / "history.sqlite"
    if history.exists():  # nothing of the run reached the history
        conn = sqlite3.connect(history)
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM run_cases").fetchone() == (0,)
        conn.close()
    assert scratch_left(tmp_path / "tmp") == []


def test_a_history_sqlalchemy_records_reads_the_file_back(tmp_path: Path) -> None:
    """Into a history `LiteStore` does not open (PostgreSQL, an older schema), the run's rows are
    read back, as before, whatever was fed."""
    from evalkit.history.record import _record
    from evalkit.spec.history import HistorySettings

    feed = HistoryFeed()
    run = write_run(tmp_path / "runs", 0, _batches()[:3], SCORERS, feed=feed)
    store = HistoryStore(f"sqlite:///{tmp_path / 'sa.sqlite'}")
    store.migrate()
    _record(store, run, HistorySettings(), feed)
    store.close()
    lite_store = _history(tmp_path / "lite.sqlite")
    lite_store.record(run)
    lite_store.close()
    assert sorted(_stored(tmp_path / "sa.sqlite"), key=repr) == sorted(
        _stored(tmp_path / "lite.sqlite"), key=repr
    )
    assert len(_stored(tmp_path / "sa.sqlite")) == 7
    feed.close()


def test_a_run_not_recorded_into_sqlite_feeds_nothing(tmp_path: Path) -> None:
    """Whether the run is recorded into a SQLite history is asked with the first batch (so not
    before the first request); when not, no scratch file is made and nothing is fed."""
    asked: list[bool] = []
    feed = HistoryFeed(lambda: asked.append(True) or False)
    writer = ResultWriter(tmp_path / "results.jsonl")
    feed.attach(writer)
    assert asked == []
    writer.extend([_result("a")])
    writer.extend([_result("b")])
    writer.close()
    assert asked == [True] and feed.path is None and feed.n == 0
    assert feed.spoiled == "the run is not recorded into a SQLite history"
    assert feed.rows(tmp_path / "results.jsonl") is None


def _recorded_by_reading_back(
    ran: Any, workdir: Path, cli: Any, read_backs: list[Path], rescored: str
) -> None:
    """runs/a ran, its results.jsonl rewritten as it concluded (it holds `rescored`), and was
    recorded by reading the file back: no scratch file left, the rows those of a history import."""
    assert ran.exit_code == 0, ran.output
    assert "recorded in the history" in ran.output and read_backs == [Path("runs/a")]
    assert rescored in (workdir / "runs" / "a" / "results.jsonl").read_text()
    assert scratch_left(workdir / "tmp") == []
    _same_as_imported(cli, workdir, "runs/a")


def test_calibration_labels_read_the_results_back(
    workdir: Path, fake_server: Any, cli: Any, read_backs: list[Path]
) -> None:
    """Labels merged into results.jsonl as the run concludes: nothing is fed, the file is read."""
    from tests.conftest import calibrated_suite_files

    calibrated_suite_files(workdir, fake_server.url)
    ran = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline")
    _recorded_by_reading_back(ran, workdir, cli, read_backs, '"human"')


def test_a_deferred_scorer_reads_the_results_back(workdir: Path, cli: Any, read_backs: list[Path]) -> None:
    """A pairwise judge rescores results.jsonl once every output is written: nothing is fed."""
    from tests.conftest import pairwise_judge_files, pairwise_responder
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI(responder=pairwise_responder) as server:
        pairwise_judge_files(workdir, server.url)
        ran = cli("run", "s.yaml", "-o", "runs/a", "--no-baseline")
    _recorded_by_reading_back(ran, workdir, cli, read_backs, '"vs_old"')
