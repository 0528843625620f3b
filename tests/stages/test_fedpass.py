"""Conclude's pass over the results, fed as the execute stage writes them: a fresh run concludes
without reading results.jsonl back, and its files are byte for byte (but for timestamps) those
`evalkit report` rewrites from the directory alone; where the file is rewritten or was there
before (resume, labels, a deferred scorer), conclude reads it, as before."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from evalkit._util import secrets
from evalkit.rundir.files import ResultWriter, read_results
from evalkit.stages.fedpass import READ_FIELDS, FedPass
from evalkit.types import CaseResult, JudgeUsage, Step, StoredScore
from tests.conftest import (
    calibrated_suite_files,
    pairwise_judge_files,
    pairwise_responder,
    two_variant_config,
    write,
)
from tests.fake_openai import FakeOpenAI, Fault
from tests.helpers.processes import config, suite
from tests.stages.conftest import concluded_files


def _report_rewrites_the_same(run: Path, cli, tmp_path_factory: pytest.TempPathFactory) -> None:
    copy = tmp_path_factory.mktemp("copy") / run.name
    shutil.copytree(run, copy)
    original = concluded_files(run)
    assert {"summary.json", "junit.xml", "summary.md", "report.html"} <= set(original)
    reported = cli("report", str(copy))
    assert reported.exit_code == 0, reported.output
    assert concluded_files(copy) == original


def test_a_run_with_errors_concludes_from_what_it_fed(
    workdir: Path, cli, conclude_reads: list[str], report_reads: list[str], tmp_path_factory
) -> None:
    with FakeOpenAI() as server:
        server.add_fault(Fault(status=400, match="question 2"), times=1)
        server.add_fault(Fault(status=400, match="question 5"), times=1)
        text = suite(workdir / "suites" / "s.yaml", 8).read_text()  # corpus metrics and a threshold too
        scorers = "thresholds: {exact: {min: 0.5}}\nscorers: [exact, bleu, {type: chrf, name: c}]"
        write(workdir / "suites" / "s.yaml", text.replace("scorers: [exact]", scorers))
        config(workdir / "evalkit.yaml", server.url, extra=", max_attempts: 1")
        ran = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--no-history")
    assert ran.exit_code == 3, ran.output  # 2 of 8 errors: over the error budget
    assert conclude_reads == []  # results.jsonl was not read back to conclude
    assert report_reads == ["fed"]  # nor to write report.html: its blocks were built as it was written
    summary = json.loads((workdir / "runs" / "a" / "summary.json").read_text())
    assert summary["results"] == 8 and summary["errors"] == 2
    assert {"corpus_bleu", "corpus_c"} <= set(summary["groups"][0]["corpus"])
    assert summary["groups"][0]["thresholds"][0]["metric"] == "exact"
    junit = (workdir / "runs" / "a" / "junit.xml").read_text()
    assert junit.count('<error message="generation error: HTTP 400') == 2
    _report_rewrites_the_same(workdir / "runs" / "a", cli, tmp_path_factory)


@pytest.mark.parametrize("sliced", [False, True])
def test_variants_repeats_and_a_baseline_gate(
    workdir: Path,
    cli,
    conclude_reads: list[str],
    report_reads: list[str],
    tmp_path_factory,
    monkeypatch: pytest.MonkeyPatch,
    sliced: bool,
) -> None:
    """Sliced: report.html's chunks of 4 cases, its blocks built one line or lookup row at a
    time, one slice a batch written (the rest when the run concludes): only the chunks holding a
    case the gate flipped or counts among its top regressions are built again from their lines."""
    if sliced:
        from evalkit.report import casefeed, html

        monkeypatch.setattr(html, "CHUNK", 4)
        for name, value in (("BUDGET_S", 0.0), ("LINES", 1), ("LOAD_ROWS", 1), ("READ_BYTES", 100)):
            monkeypatch.setattr(casefeed, name, value)
    answers = {"mode": "right"}

    def responder(body: dict) -> str:
        question = body["messages"][-1]["content"]
        wrong = answers["mode"] == "wrong" and body["model"] == "bad-model" and question.endswith(("1", "3"))
        return "wrong" if wrong else f"echo: {question}"

    with FakeOpenAI(responder=responder) as server:
        suite(workdir / "suites" / "s.yaml", 6)
        suite(workdir / "suites" / "t.yaml", 3, name="other")
        write(
            workdir / "evalkit.yaml", two_variant_config(server.url) + "thresholds: {max_new_failures: 0}\n"
        )
        args = ("run", "suites/s.yaml", "suites/t.yaml", "--repeats", "2", "--no-history", "--no-cache")
        assert cli(*args, "-o", "runs/a", "--no-baseline").exit_code == 0
        assert cli("baseline", "save", "runs/a", "--to", "bl").exit_code == 0
        for path in (workdir / "bl" / "other").glob("good*"):  # a group with no baseline: only named
            path.unlink()
        answers["mode"] = "wrong"
        del conclude_reads[:], report_reads[:]
        ran = cli(*args, "-o", "runs/b", "--baseline", "bl")
    assert ran.exit_code == 1, ran.output  # the bad variant regressed against its baseline
    assert conclude_reads == []
    if not sliced:
        assert report_reads == ["fed, 1 chunks again"]  # its one chunk holds the flipped cases
    else:  # 36 results in 9 chunks, 18 of them never flipped
        again = re.fullmatch(r"fed, (\d) chunks again", report_reads[0])
        assert len(report_reads) == 1 and again and 0 < int(again[1]) < 9, report_reads
    run = workdir / "runs" / "b"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["results"] == 2 * 2 * 9 and summary["regressions"] and summary["frontier"]
    diff = json.loads((run / "diff.json").read_text())
    verdicts = {(g["suite"], g["variant"]): (g["verdict"], len(g["pass_to_fail"])) for g in diff["groups"]}
    assert verdicts == {
        ("rel", "good"): ("ok", 0),
        ("rel", "bad"): ("regressed", 2),
        ("other", "bad"): ("regressed", 1),
    }
    assert diff["missing_baselines"] == ["other · good"]  # only named: none of its records compared
    _report_rewrites_the_same(run, cli, tmp_path_factory)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_a_flipped_chunk_holding_a_unicode_line_separator_is_built_again(
    workdir: Path, cli, report_reads: list[str], tmp_path_factory, separator: str
) -> None:
    """JSON writes U+2028, U+2029 and NEL as they are: a chunk built again from its byte range
    of results.jsonl is split into lines at newlines only (str.splitlines cut a result in two)."""
    answers = {"mode": "right"}

    def responder(body: dict) -> str:
        question = body["messages"][-1]["content"]
        wrong = answers["mode"] == "wrong" and body["model"] == "bad-model" and question.endswith(("1", "3"))
        return f"wrong{separator}answer" if wrong else f"echo: {question}{separator}"

    with FakeOpenAI(responder=responder) as server:
        suite(workdir / "suites" / "s.yaml", 6)
        write(
            workdir / "evalkit.yaml", two_variant_config(server.url) + "thresholds: {max_new_failures: 0}\n"
        )
        args = ("run", "suites/s.yaml", "--no-history", "--no-cache")
        assert cli(*args, "-o", "runs/a", "--no-baseline").exit_code == 0
        assert cli("baseline", "save", "runs/a", "--to", "bl").exit_code == 0
        answers["mode"] = "wrong"
        del report_reads[:]
        ran = cli(*args, "-o", "runs/b", "--baseline", "bl")
    assert ran.exit_code == 1, ran.output  # the gate's verdict, not a crash writing report.html
    assert ran.exception is None or isinstance(ran.exception, SystemExit), repr(ran.exception)
    assert report_reads == ["fed, 1 chunks again"]
    run = workdir / "runs" / "b"
    assert f"wrong{separator}answer" in [r.output for r in read_results(run / "results.jsonl")]
    _report_rewrites_the_same(run, cli, tmp_path_factory)


def test_a_secret_in_an_output_is_fed_as_its_line_reads_back(
    workdir: Path,
    cli,
    conclude_reads: list[str],
    report_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory,
) -> None:
    """An XML-escaped secret is not found by junit.xml's own scrubbing (`&` is `&amp;` there):
    the failing case's output must come from the scrubbed line, never the result in memory."""
    canary = "sk-can&ary<9f8e7d6c5b4a3210"
    monkeypatch.setenv("MY_KEY", canary)
    with FakeOpenAI(responder=lambda body: f"the key is {canary}") as server:
        suite(workdir / "suites" / "s.yaml", 3)
        config(workdir / "evalkit.yaml", server.url, extra=", api_key_env: MY_KEY")
        ran = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--no-history")
    assert ran.exit_code == 0, ran.output  # every case fails exact, which has no threshold
    assert conclude_reads == []
    assert report_reads == ["fed"]
    run = workdir / "runs" / "a"
    junit = (run / "junit.xml").read_text()
    assert "the key is ***" in junit and "9f8e7d6c5b4a3210" not in junit
    for path in run.iterdir():
        assert "9f8e7d6c5b4a3210" not in path.read_text(errors="replace"), path
    _report_rewrites_the_same(run, cli, tmp_path_factory)


def test_resume_concludes_from_the_file(
    workdir: Path, cli, fake_server, conclude_reads: list[str], report_reads: list[str], tmp_path_factory
) -> None:
    suite(workdir / "suites" / "s.yaml", 6)
    config(workdir / "evalkit.yaml", fake_server.url)
    assert cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--no-history").exit_code == 0
    assert conclude_reads == [] and report_reads == ["fed"]
    results = workdir / "runs" / "a" / "results.jsonl"
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:3]))  # "killed"
    resumed = cli("run", "--resume", "runs/a", "--no-history")
    assert resumed.exit_code == 0, resumed.output
    assert conclude_reads == ["results.jsonl"]  # three results were there before: the file is read
    assert report_reads == ["fed", "results.jsonl"]
    assert json.loads((workdir / "runs" / "a" / "summary.json").read_text())["results"] == 6
    _report_rewrites_the_same(workdir / "runs" / "a", cli, tmp_path_factory)


def test_calibration_labels_conclude_from_the_file(
    workdir: Path, cli, fake_server, conclude_reads: list[str], report_reads: list[str], tmp_path_factory
) -> None:
    calibrated_suite_files(workdir, fake_server.url)
    ran = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--no-history")
    assert conclude_reads and set(conclude_reads) == {"results.jsonl"}, ran.output
    assert report_reads == ["results.jsonl"]
    assert '"human"' in (workdir / "runs" / "a" / "results.jsonl").read_text()  # the labels' scores
    _report_rewrites_the_same(workdir / "runs" / "a", cli, tmp_path_factory)


def test_a_deferred_scorer_concludes_from_the_file(
    workdir: Path, cli, conclude_reads: list[str], report_reads: list[str], tmp_path_factory
) -> None:
    with FakeOpenAI(responder=pairwise_responder) as server:
        pairwise_judge_files(workdir, server.url)
        ran = cli("run", "s.yaml", "-o", "runs/a", "--no-baseline", "--no-history")
    assert ran.exit_code == 0, ran.output
    assert conclude_reads == ["results.jsonl"]  # rescored after generation: the file is read
    assert report_reads == ["results.jsonl"]
    lines = (workdir / "runs" / "a" / "results.jsonl").read_text()
    assert '"vs_old"' in lines
    _report_rewrites_the_same(workdir / "runs" / "a", cli, tmp_path_factory)


def _result(i: int, **fields: object) -> CaseResult:
    base: dict[str, object] = {
        "suite": "s",
        "case_id": f"c{i}",
        "variant": "v",
        "repeat": 0,
        "provider": "p",
        "messages": [],
        "output": f"answer {i}",
        "scores": {"exact": StoredScore(value=1.0, passed=True)},
    }
    return CaseResult.model_validate({**base, **fields})


def test_what_json_cannot_keep_is_fed_as_its_line_reads_back(tmp_path: Path) -> None:
    """A NaN score or latency (written null), a lone surrogate (written cleaned), a secret
    (scrubbed) and a trace are fed as their lines read back; the rest as they are."""
    secret = "sk-secret-0123456789abcdef"
    secrets.register(secret)
    writer = ResultWriter(tmp_path / "results.jsonl")
    fed = FedPass({}, {}, ["v"], gated=False)
    seen: list[CaseResult] = []
    fed._feed = lambda taps, r: seen.append(r)  # type: ignore[method-assign]
    fed.attach(writer)
    plain = [_result(0), _result(1, latency_ms=3.5, cost_usd=0.25)]
    odd = [
        _result(2, scores={"exact": StoredScore(value=math.nan, passed=None)}),
        _result(3, latency_ms=math.inf),
        _result(4, judges={"j": JudgeUsage(provider="g", cost_usd=math.inf)}),
        _result(5, steps=[Step(id="1", type="tool", name="t", output=math.nan)]),
    ]
    writer.extend(plain + odd)
    writer.extend([_result(6, output="half a pair \ud83d")])
    writer.extend([_result(7, output=f"key {secret}")])
    writer.close()
    assert fed.spoiled is None and fed.size == (tmp_path / "results.jsonl").stat().st_size
    read = list(read_results(tmp_path / "results.jsonl"))
    assert [r.model_dump() for r in seen] == [r.model_dump() for r in read]
    assert seen[0] is plain[0] and seen[1] is plain[1]  # kept as they are: nothing parsed
    assert all(s is not o for s, o in zip(seen[2:6], odd, strict=True))
    assert seen[2].scores["exact"].value is None and seen[6].output == "half a pair \ufffd"
    assert seen[7].output == "key ***"


def test_an_unfinished_feed_or_a_failing_tap_spoils_the_pass(tmp_path: Path) -> None:
    writer = ResultWriter(tmp_path / "results.jsonl")
    fed = FedPass({}, {}, ["v"], gated=False)
    fed.attach(writer)
    writer.extend([_result(0)])
    assert fed.spoiled is None and fed.taps is not None and fed.taps.n == 1

    def broken(taps: object, r: CaseResult) -> None:
        raise RuntimeError("a tap's bug")

    fed._feed = broken  # type: ignore[method-assign]
    writer.extend([_result(1)])  # written all the same: the run goes on
    writer.close()
    assert fed.spoiled is not None and "a tap's bug" in fed.spoiled and fed.taps is None
    assert len(list(read_results(tmp_path / "results.jsonl"))) == 2
    before = tmp_path / "again.jsonl"
    before.write_text((tmp_path / "results.jsonl").read_text())
    late = FedPass({}, {}, ["v"], gated=False)
    late.attach(ResultWriter(before))
    assert late.spoiled == "results.jsonl held results before the run"


def test_the_taps_read_only_what_is_checked_to_read_back_the_same(tmp_path: Path) -> None:
    """Every attribute conclude's taps read of a result is one `rundir.files.read_back` checks or
    one the line's own JSON keeps as it is in memory (READ_FIELDS): a tap that reads another must
    be checked."""
    from evalkit.compare.aggregate import MetricInfo

    read: set[str] = set()

    class Recording:
        def __init__(self, r: CaseResult) -> None:
            self._r = r

        def __getattr__(self, name: str) -> object:
            read.add(name)
            return getattr(self._r, name)

    metrics = {"s": [MetricInfo(name="exact", scorer="exact", kind="pass_fail", verdict=True)]}
    fed = FedPass(metrics, {"s": {}}, ["v", "w"], gated=True)
    taps = fed._taps()
    rich = [
        _result(0, latency_ms=2.0, ttft_ms=1.0, cost_usd=0.5, references=["x"], tags=["t"]),
        _result(1, error="HTTP 500", output=None),
        _result(2, variant="w", scores={"exact": StoredScore(value=0.0, passed=False, reason="no")}),
        _result(3, steps=[Step(id="1", type="tool", name="t")], judges={"j": JudgeUsage(provider="g")}),
        _result(4, retrieval_ids=["d1"], fallback_from="q", model="m", model_version="m-1", cached=True),
    ]
    for r in rich:
        fed._feed(taps, Recording(r))  # type: ignore[arg-type]
    for acc in taps.groups.values():
        acc.summary()
    assert read and read <= READ_FIELDS, read - READ_FIELDS
    assert {"scores", "latency_ms", "cost_usd", "steps"} <= read


def test_a_line_the_pass_did_not_see_makes_conclude_read_the_file(
    workdir: Path,
    cli,
    three_case_run: Callable[[], Path],
    conclude_reads: list[str],
    report_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line written past the writer (here: after the run, before it concludes) is in the file
    and not in the fed pass: the file's size says so, and conclude reads the file."""
    from evalkit.stages import pipeline

    real = pipeline.conclude_run

    def conclude_run(prepared, *args, **kwargs):  # type: ignore[no-untyped-def]
        results = prepared.run_dir / "results.jsonl"
        with results.open("a", encoding="utf-8") as fh:
            fh.write(results.read_text().splitlines(keepends=True)[-1])
        return real(prepared, *args, **kwargs)

    monkeypatch.setattr(pipeline, "conclude_run", conclude_run)
    three_case_run()
    assert conclude_reads == ["results.jsonl"]
    assert report_reads == ["results.jsonl"]
    assert json.loads((workdir / "runs" / "a" / "summary.json").read_text())["results"] == 4


def test_an_interrupt_while_feeding_leaves_the_pass_unused(tmp_path: Path) -> None:
    writer = ResultWriter(tmp_path / "results.jsonl")
    fed = FedPass({}, {}, ["v"], gated=False)
    fed.attach(writer)
    writer.extend([_result(0)])

    def interrupted(taps: object, r: CaseResult) -> None:
        raise KeyboardInterrupt

    fed._feed = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        writer.extend([_result(1)])  # written, then interrupted while fed
    writer.close()
    assert fed.spoiled is not None and "interrupted" in fed.spoiled and writer.count == 2


@pytest.mark.parametrize("gated", [True, False])
def test_a_run_interrupted_concludes_ungated_from_what_it_fed(
    workdir: Path,
    cli,
    three_case_run: Callable[[], Path],
    conclude_reads: list[str],
    report_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory,
    gated: bool,
) -> None:
    """The gate's records were kept while the run went, but an interrupted run is not gated:
    they go unused, and every file says interrupted; report.html's blocks, built with the
    baseline, are built again from the file (not gated: they are taken)."""
    from evalkit.stages import pipeline

    three_case_run()
    assert cli("baseline", "save", "runs/a", "--to", "bl").exit_code == 0
    real = pipeline.conclude_run

    def interrupted(prepared, _interrupted, *args, **kwargs):  # type: ignore[no-untyped-def]
        return real(prepared, 130, *args, **kwargs)  # as a Ctrl-C during execute concludes it

    monkeypatch.setattr(pipeline, "conclude_run", interrupted)
    del conclude_reads[:]
    del report_reads[:]
    gate = ("--baseline", "bl") if gated else ("--no-baseline",)
    ran = cli("run", "suites/s.yaml", "-o", "runs/b", *gate, "--no-history")
    assert ran.exit_code == 130, ran.output
    assert conclude_reads == []
    assert report_reads == (["results.jsonl"] if gated else ["fed"])
    summary = json.loads((workdir / "runs" / "b" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["results"] == 3
    assert not (workdir / "runs" / "b" / "diff.json").exists()
    _report_rewrites_the_same(workdir / "runs" / "b", cli, tmp_path_factory)


def test_a_secret_known_only_once_the_blocks_were_built_makes_the_report_read_the_file(
    workdir: Path,
    cli,
    three_case_run: Callable[[], Path],
    conclude_reads: list[str],
    report_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory,
) -> None:
    """report.html is scrubbed of the secrets known when it is written: a secret registered
    after its blocks were packed (here: as the run concludes) is scrubbed from a report read
    from the file, never left in the blocks built before."""
    from evalkit.stages import pipeline

    monkeypatch.setattr(secrets, "_known", set())
    monkeypatch.setattr(secrets, "_needles", ())
    real = pipeline.conclude_run

    def conclude_run(prepared, *args, **kwargs):  # type: ignore[no-untyped-def]
        blocks = kwargs["fed"].blocks
        blocks.ended = True  # every block built now (a short run may not have begun them)
        blocks._advance(float("inf"))
        assert blocks.ranges and blocks.spoiled is None  # packed
        secrets.register("echo: question 1")
        return real(prepared, *args, **kwargs)

    monkeypatch.setattr(pipeline, "conclude_run", conclude_run)
    three_case_run()
    assert conclude_reads == [] and report_reads == ["results.jsonl"]
    _report_rewrites_the_same(workdir / "runs" / "a", cli, tmp_path_factory)


def test_blocks_still_waiting_for_their_modules_at_the_end_are_finished_then(
    workdir: Path,
    cli,
    three_case_run: Callable[[], Path],
    conclude_reads: list[str],
    report_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory,
) -> None:
    """The report's modules load in the casefeed's first turn, however long they take (on the
    event loop: a thread contended with it for the GIL); every block is built (none left out)."""
    import time

    from evalkit.report import casefeed

    real = casefeed._import_report

    def slow() -> None:
        time.sleep(1.0)
        real()

    monkeypatch.setattr(casefeed, "_import_report", slow)
    three_case_run()
    assert conclude_reads == [] and report_reads == ["fed"]
    _report_rewrites_the_same(workdir / "runs" / "a", cli, tmp_path_factory)


def test_a_chunk_whose_json_may_hold_a_secret_makes_the_report_read_the_file(
    workdir: Path,
    cli,
    three_case_run: Callable[[], Path],
    conclude_reads: list[str],
    report_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory,
) -> None:
    """The fed chunks keep their case rows as JSON only: where `html._json` would scrub a
    chunk's text (it holds a secret's form), the rows are gone and the report is read from the
    file, which scrubs it."""
    import types

    from evalkit.report import casefeed

    seen: list[str] = []

    def may_contain_secret(text: str) -> bool:
        seen.append(text)
        return True

    monkeypatch.setattr(
        casefeed, "secrets", types.SimpleNamespace(known=secrets.known, may_contain_secret=may_contain_secret)
    )
    three_case_run()
    assert seen and '"cases":[' in seen[0]  # a chunk's cases were checked
    assert conclude_reads == [] and report_reads == ["results.jsonl"]
    _report_rewrites_the_same(workdir / "runs" / "a", cli, tmp_path_factory)


def test_long_outputs_are_serialized_a_budget_at_a_time_and_give_the_files_report(
    workdir: Path,
    cli,
    conclude_reads: list[str],
    report_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory,
) -> None:
    """A chunk's strings table holds every output: 100 KB outputs are serialized on the event
    loop a byte budget at a time (one longer than it alone), not 125 at a time, and the
    report is still the one `evalkit report` writes from the file."""
    import pydantic_core

    from evalkit.report import html

    sliced: list[int] = []
    json_slices = html.json_slices

    def spied(items: list[object]):
        for part in json_slices(items):
            size = len(pydantic_core.to_json(part)) - 2
            assert size <= html.JSON_SLICE_BYTES or len(part) == 1
            sliced.append(len(part))
            yield part

    monkeypatch.setattr(html, "json_slices", spied)

    def long_answer(body: dict) -> str:
        i = int(body["messages"][-1]["content"].split()[-1])
        return f"echo {i}: " + "ab cd " * (50_000 if i % 3 else 17_000)

    with FakeOpenAI(responder=long_answer) as server:
        suite(workdir / "suites" / "s.yaml", 12)
        config(workdir / "evalkit.yaml", server.url)
        ran = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--no-history")
    assert ran.exit_code == 0, ran.output
    assert conclude_reads == [] and report_reads == ["fed"]
    assert sliced.count(1) >= 8 and max(sliced) > 1  # the 300 KB outputs alone, the rest together
    _report_rewrites_the_same(workdir / "runs" / "a", cli, tmp_path_factory)


def _fed_blocks_kept(monkeypatch: pytest.MonkeyPatch) -> tuple[list, list]:
    """The run's CaseFeed and the Fed it hands over, kept to look at after the run (its lookup
    spilled to a scratch folder, as a large run's is)."""
    from evalkit.report import casefeed, lookup

    monkeypatch.setattr(lookup, "MEMORY_BYTES", 0)
    feeds: list = []
    taken: list = []
    for_run, take = casefeed.CaseFeed.for_run, casefeed.CaseFeed.take

    def kept_for_run(*args, **kwargs):
        feeds.append(for_run(*args, **kwargs))
        return feeds[-1]

    def kept_take(self):
        taken.append(take(self))
        return taken[-1]

    monkeypatch.setattr(casefeed.CaseFeed, "for_run", staticmethod(kept_for_run))
    monkeypatch.setattr(casefeed.CaseFeed, "take", kept_take)
    return feeds, taken


def _released(feed) -> None:
    import threading

    assert feed._spools is None and feed.lookup is None and feed._pool is None
    assert not any(t.name.startswith("evalkit-report-gzip") for t in threading.enumerate())


def test_the_fed_blocks_go_when_report_html_cannot_be_written(
    workdir: Path, cli, fake_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """report.html's file cannot be made (write_report fails before it asks for a piece): the
    fed blocks (spooled files, the lookup's scratch, the thread) go then, not at exit."""
    from evalkit.rundir.dir import RunDir

    feeds, taken = _fed_blocks_kept(monkeypatch)

    def write_report(self, pieces):
        raise OSError("No space left on device")

    monkeypatch.setattr(RunDir, "write_report", write_report)
    suite(workdir / "suites" / "s.yaml", 5)
    config(workdir / "evalkit.yaml", fake_server.url)
    ran = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--no-history")
    assert ran.exit_code != 0 and "No space left on device" in repr(ran.exception) + ran.output
    [fed] = taken
    assert fed is not None  # the blocks were taken, then the file could not be made
    scratch = Path(fed.lookup._tmp.name)
    assert fed.indexes.closed and fed.cases.closed and not scratch.exists()
    _released(feeds[0])


def test_the_fed_blocks_go_when_concluding_fails_before_report_html(
    workdir: Path, cli, fake_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.stages import finish

    feeds, taken = _fed_blocks_kept(monkeypatch)

    def conclude(inp):
        raise RuntimeError("a bug in conclude")

    monkeypatch.setattr(finish, "conclude", conclude)
    suite(workdir / "suites" / "s.yaml", 5)
    config(workdir / "evalkit.yaml", fake_server.url)
    ran = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--no-history")
    assert ran.exit_code != 0 and "a bug in conclude" in repr(ran.exception) + ran.output
    assert taken == [] and feeds[0].spoiled == "released"
    _released(feeds[0])
