"""Labels: JSONL and CSV read alike, bad lines named, merging, and the scores they give."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.errors import UserInputError
from evalkit.human.labels import Label, human_score, merge, read_labels, with_human_scores
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
