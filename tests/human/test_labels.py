"""Labels: JSONL and CSV read alike, bad lines named, merging, and the scores they give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import UserInputError
from evalkit.human.labels import (
    Label,
    LabelIndex,
    Said,
    human_score,
    labels_for,
    merge,
    read_labels,
    said,
    with_human_scores,
)
from evalkit.types import CaseResult, StoredScore
from tests.conftest import write


def result(case: str, variant: str = "v", repeat: int = 0, **scores: StoredScore) -> CaseResult:
    return CaseResult(
        suite="s",
        case_id=case,
        variant=variant,
        repeat=repeat,
        provider="p",
        messages=[],
        output="o",
        scores=scores,
    )


def test_jsonl_and_csv_read_alike(tmp_path: Path) -> None:
    write(
        tmp_path / "a.jsonl",
        '{"suite": "s", "case": "c1", "variant": "v", "repeat": 0, "labeller": "ana", "verdict": "pass"}\n\n'
        '{"suite": "s", "case": "c2", "labeller": "ana", "rating": 2, "note": "meh, \\"ok\\""}\n',
    )
    write(
        tmp_path / "a.csv",
        'suite,case,variant,repeat,labeller,verdict,rating,note\ns,c1,v,0,ana,yes,,\ns,c2,,,ana,,2,"meh, ""ok"""\n',
    )
    assert read_labels(tmp_path / "a.jsonl") == read_labels(tmp_path / "a.csv")
    first, second = read_labels(tmp_path / "a.csv")
    assert first.verdict == "pass" and second.variant is None and second.repeat is None


@pytest.mark.parametrize(
    ("name", "text", "where", "what"),
    [
        ("x.jsonl", '{"suite": "s", "case": "c", "verdict": "pass"}\n[1]\n', "x.jsonl:2", "JSON object"),
        ("x.jsonl", '{"suite": "s", "case": "c"}\n', "x.jsonl:1", "a 'verdict'"),
        ("x.jsonl", '{"suite": "s", "case": "c", "rating": 0}\n', "x.jsonl:1", "rating"),
        ("x.jsonl", '{"suite": "s", "case": "c", "verdict": "pass", "score": 1}\n', "x.jsonl:1", "score"),
        ("x.jsonl", "{not json\n", "x.jsonl:1", "bad label"),
        ("x.csv", "suite,case,verdict\ns,c,pass\ns,c,perhaps\n", "x.csv:3", "verdict"),
        ("x.csv", "suite,case,verdikt\n", "x.csv:1", "unknown column"),
    ],
)
def test_bad_labels_name_file_and_line(tmp_path: Path, name: str, text: str, where: str, what: str) -> None:
    write(tmp_path / name, text)
    with pytest.raises(UserInputError) as err:
        read_labels(tmp_path / name)
    assert err.value.exit_code == 2 and where in str(err.value) and what in str(err.value)


def test_a_later_label_from_the_same_person_replaces_the_earlier() -> None:
    old = [
        Label(suite="s", case="c", labeller="ana", verdict="pass"),
        Label(suite="s", case="c", labeller="bo", verdict="pass"),
    ]
    new = [Label(suite="s", case="c", labeller="ana", verdict="fail")]
    merged = merge(old, new)
    assert [(x.labeller, x.verdict) for x in merged] == [("bo", "pass"), ("ana", "fail")]


def test_human_score_and_agreement() -> None:
    labels = [
        Label(suite="s", case="c1", variant="v", repeat=0, labeller="ana", verdict="pass"),
        Label(suite="s", case="c1", labeller="bo", verdict="fail", note="too long"),
        Label(suite="s", case="c2", labeller="ana", rating=4),  # any variant and repeat
    ]
    results = [
        result("c1", judge=StoredScore(value=1.0, passed=True)),
        result("c2", repeat=1, rubric=StoredScore(value=0.25)),  # 2/5 on the 1–5 scale
        result("c3", judge=StoredScore(value=0.0, passed=False)),
    ]
    scored = with_human_scores(results, labels, {"judge": "pass_fail", "rubric": "rating"})
    c1, c2, c3 = (r.scores for r in scored)
    assert c1["human"].value == 0.5 and c1["human"].passed is None
    assert "ana: pass" in (c1["human"].reason or "") and "bo: fail — too long" in (c1["human"].reason or "")
    assert c1["judge_human_agreement"].value == 0.5  # agrees with one of two people
    assert c2["human"].value == 0.75 and c2["rubric_human_agreement"].value == pytest.approx(1 - 2 / 4)
    assert "human" not in c3
    assert human_score([labels[2]]).value == 0.75
    # labels withdrawn: the stale human scores go
    assert "human" not in with_human_scores(scored, [], {"judge": "pass_fail"})[0].scores


def test_a_label_by_case_replaces_that_persons_labels_on_each_output() -> None:
    """A label given by case (no variant, no repeat) left the same person's earlier label on that
    output in place: both were kept, her human score averaged old and new, calibrate counted both."""
    old = [
        Label(suite="s", case="c", variant="v", repeat=0, labeller="ana", verdict="fail"),
        Label(suite="s", case="c", variant="v", repeat=0, labeller="bo", verdict="fail"),
    ]
    merged = merge(old, [Label(suite="s", case="c", labeller="ana", verdict="pass")])
    assert [(x.labeller, x.verdict, x.variant) for x in merged] == [
        ("bo", "fail", "v"),
        ("ana", "pass", None),
    ]
    scored = with_human_scores([result("c")], merged, {})
    assert scored[0].scores["human"].value == 0.5  # ana pass, bo fail: one label each
    # a narrower label later is that person's word on that output only; newest per output counts
    narrower = merge(
        merged, [Label(suite="s", case="c", variant="v", repeat=0, labeller="ana", verdict="fail")]
    )
    assert len(narrower) == 3
    assert with_human_scores([result("c")], narrower, {})[0].scores["human"].value == 0.0


def test_newer_means_the_labels_own_time_not_the_import_order() -> None:
    newer = Label(suite="s", case="c", labeller="ana", verdict="pass", time="2026-03-01T10:00:00Z")
    older = Label(suite="s", case="c", labeller="ana", verdict="fail", time="2026-02-01T10:00:00+00:00")
    assert merge([newer], [older]) == [newer]  # an older export imported later does not win
    assert merge([older], [newer]) == [newer]
    untimed = Label(suite="s", case="c", labeller="ana", verdict="fail")
    assert merge([newer], [untimed]) == [untimed]  # no time: the later import wins
    scored = with_human_scores([result("c")], [newer, Label(**{**older.model_dump(), "variant": "v"})], {})
    assert scored[0].scores["human"].value == 1.0


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        (
            "x.jsonl",
            b'{"suite": "s", "case": "c", "verdict": "pass"}\n{"suite": "caf\xe9"}\n',
            "not valid UTF-8",
        ),
        (
            "x.jsonl",
            b'{"suite": "s", "case": "c", "note": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
            "deep",
        ),
        ("x.jsonl", b'{"suite": "s", "case": "c", "verdict": "pass", "verdict": "fail"}\n', "duplicate key"),
        ("x.jsonl", b'{"suite": "s", "case": "c", "verdict": "pass", "score": NaN}\n', "not a finite number"),
        ("x.jsonl", b'{"suite": "s", "case": "c", "n": ' + b"9" * 5000 + b"}\n", "more than 4,300 digits"),
        ("x.csv", b"suite,case,verdict\ns,c,pass\ns,caf\xe9,pass\n", "not valid UTF-8"),
    ],
)
def test_undecodable_or_deep_label_files_are_exit_2(
    tmp_path: Path, name: str, data: bytes, what: str
) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UserInputError) as err:
        read_labels(tmp_path / name)
    assert err.value.exit_code == 2 and what in str(err.value) and f"{name}:" in str(err.value)


def test_an_excel_csv_utf8_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_bytes("\ufeffsuite,case,labeller,verdict\ns,c,José,pass\n".encode())
    (label,) = read_labels(tmp_path / "x.csv")
    assert (label.suite, label.labeller, label.verdict) == ("s", "José", "pass")
    (tmp_path / "x.jsonl").write_bytes('\ufeff{"suite": "s", "case": "c", "verdict": "pass"}\n'.encode())
    assert read_labels(tmp_path / "x.jsonl")[0].suite == "s"


def test_an_import_by_many_labellers_prints_a_short_line(workdir: Path, cli) -> None:
    write(workdir / "evalkit.yaml", "providers:\n  api: {type: scripted, default: ok}\n")
    write(workdir / "s.yaml", 'name: s\nprompt: "q"\nscorers: [json_valid]\ncases:\n  - {id: c}\n')
    assert cli("run", "s.yaml", "-o", "out", "--no-baseline").exit_code == 0
    rows = "".join(
        f'{{"suite": "s", "case": "c", "labeller": "person-{i}", "verdict": "pass"}}\n' for i in range(30)
    )
    write(workdir / "l.jsonl", rows)
    got = cli("labels", "import", "l.jsonl", "out")
    assert got.exit_code == 0, got.output
    assert "and 20 more" in got.output and "person-29" not in got.output and len(got.output) < 400


def test_an_interrupted_import_keeps_labels_and_human_scores_together(workdir: Path, cli) -> None:
    """An interrupted `labels import` kept the labels but no `human` scores, silently: labels,
    scores and summary are now written together, a signal delivered once they are."""
    import json
    import shutil
    import signal
    import subprocess
    import sys
    import time

    write(workdir / "evalkit.yaml", "providers:\n  api: {type: scripted, default: ok}\n")
    cases = "\n".join(f"  - {{id: c{i}}}" for i in range(40))
    write(workdir / "s.yaml", f'name: s\nprompt: "q"\nscorers: [json_valid]\ncases:\n{cases}\n')
    assert cli("run", "s.yaml", "-o", "pristine", "--no-baseline", "--no-history").exit_code == 0
    rows = (
        f'{{"suite": "s", "case": "c{i % 40}", "labeller": "p{i}", "verdict": "pass"}}\n'
        for i in range(20_000)
    )
    write(workdir / "l.jsonl", "".join(rows))
    shutil.copytree(workdir / "pristine", workdir / "run")
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalkit", "labels", "import", "l.jsonl", "run"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not (workdir / "run" / "labels.jsonl").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)  # the moment the labels are written: before their scores
    proc.communicate(timeout=120)
    labelled = (workdir / "run" / "labels.jsonl").exists()
    scored = any("human" in json.loads(line)["scores"] for line in (workdir / "run" / "results.jsonl").open())
    assert labelled and scored


@pytest.mark.parametrize(
    "data",
    [
        {"suite": "s", "case": "c", "verdict": "pass"},
        {"suite": "s", "case": "c", "verdict": "fail", "variant": "v", "repeat": 2, "labeller": "ana"},
        {"suite": "s", "case": "c", "rating": 4, "time": "2026-03-01T10:00:00Z", "note": "ok", "run": "r1"},
        {"suite": "s", "case": "c", "verdict": "Yes"},  # words, booleans, floats: through Label
        {"suite": "s", "case": "c", "verdict": True},
        {"suite": "s", "case": "c", "rating": 3.0},
        {"suite": "s", "case": "c", "verdict": "pass", "repeat": False},
    ],
)
def test_the_fast_reading_of_a_label_is_labels_own(data: dict[str, object]) -> None:
    """Labels are kept as tuples; the common shape skips pydantic, and must read exactly as
    `Label` reads it."""
    label = Label.model_validate(data)
    assert tuple(said(data)) == tuple(getattr(label, f) for f in Said._fields)
    assert said(data).row() == label.model_dump(mode="json", exclude_none=True)


@pytest.mark.parametrize(
    "data",
    [
        {"suite": "s", "case": "c"},
        {"suite": "s", "case": "c", "verdict": "maybe"},
        {"suite": "s", "case": "c", "rating": 6},
        {"suite": "s", "case": "c", "verdict": "pass", "repeat": -1},
        {"suite": "s", "case": 3, "verdict": "pass"},
        {"suite": "s", "case": "c", "verdict": ["pass"]},
        {"suite": "s", "case": "c", "verdict": "pass", "colour": "red"},
    ],
)
def test_a_bad_label_is_refused_by_the_fast_reading_too(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Label.model_validate(data)
    with pytest.raises(ValueError):
        said(data)


@pytest.mark.parametrize(
    "label",
    [
        Label(suite="s", case="c", verdict="pass"),
        Label(
            suite="s", case='c "1"\n', variant="v/é", repeat=3, labeller="ana ✓", rating=5, note="\u0007 bell"
        ),
        Label(run="r", suite="s", case="c", verdict="fail", time="2026-03-01T10:00:00Z", note="😀\\"),
    ],
)
def test_a_label_line_is_what_json_dumps_writes(label: Label) -> None:
    from evalkit.human.labels import label_line, label_row

    expected = json.dumps(
        label.model_dump(mode="json", exclude_none=True), sort_keys=True, ensure_ascii=False
    )
    assert label_line(label) == expected
    assert json.loads(label_line(label)) == label_row(label)


def test_a_result_whose_scores_stay_is_passed_on_as_it_is() -> None:
    """What lets `apply_labels` stream: a result its labels leave as it was is the same object
    (results.jsonl is rewritten only when one is not), a labelled one a new one."""
    index = LabelIndex([Label(suite="s", case="c1", labeller="ana", verdict="pass")])
    plain, labelled = result("c2"), result("c1", judge=StoredScore(value=1.0, passed=True))
    assert index.scored(plain, {"judge": "pass_fail"}) is plain
    scored = index.scored(labelled, {"judge": "pass_fail"})
    assert scored is not labelled and scored.scores["judge_human_agreement"].value == 1.0
    assert index.scored(scored, {"judge": "pass_fail"}) == scored  # applied again: no change
    assert labels_for(index.by_case["s", "c1"], iter([plain, labelled])) == {labelled.key: index.of(labelled)}
