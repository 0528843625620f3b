"""Human labels end to end: a judged run, labels imported (JSONL and CSV, two people), the
human score in results and summary, `evalkit calibrate`, judge self-agreement and judge cost.
Judges answer through the real fake OpenAI server (tests/fake_openai.py), scripted by rules."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import cohen_kappa_score

from tests.conftest import evalkit_process, write
from tests.fake_openai import FakeOpenAI

ANSWERS = {f"q{i}": "Paris." if i < 4 else "Lyon." for i in range(8)}
ANSWERS["q7"] = "Lyon, or Paris? FLAKY"


class Scripted:
    """Model 'm' answers from ANSWERS; the judge passes answers naming Paris. On the FLAKY answer
    it says pass, fail, pass, ... on successive calls (a judge that flips)."""

    def __init__(self, judge: str = "judge") -> None:
        self.calls: Counter[str] = Counter()
        self.judge = judge
        self.invert = False  # a judge update that turns every verdict around
        self.fake: FakeOpenAI | None = None  # the server it answers through

    def __call__(self, body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"]
        if not body["model"].startswith("judge"):
            return ANSWERS.get(text, "?")
        self.calls[text] += 1
        response = text.split("RESPONSE:")[1]
        ok = "Paris" in response
        if "FLAKY" in response:
            ok = self.calls[text] % 2 == 1
        if body["model"] == "judge-v2":
            ok = not ok
        return json.dumps({"reasoning": "checked", "verdict": "pass" if ok else "fail"})


@pytest.fixture
def server(workdir: Path) -> Any:
    scripted = Scripted()
    fake = FakeOpenAI(responder=scripted).start()
    write(
        workdir / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: '{fake.url}', model: m}}\n"
        f"  grader: {{type: openai, base_url: '{fake.url}', model: judge, "
        "pricing: {input_per_mtok: 2.0, output_per_mtok: 10.0}}\n",
    )
    scripted.fake = fake
    yield scripted
    fake.stop()


CASES = "".join(f"  - {{id: c{i}, vars: {{q: q{i}}}}}\n" for i in range(8))
SUITE = (
    'name: cal\nprompt: "{{ q }}"\nscorers:\n'
    "  - {type: judge, provider: grader, mode: pass_fail, name: correct, criteria: Names Paris., samples: 3}\n"
    f"cases:\n{CASES}"
)
# alice disagrees with the judge on c2 and c6; bob labels four outputs
ALICE = {
    "c0": "pass",
    "c1": "pass",
    "c2": "fail",
    "c3": "pass",
    "c4": "fail",
    "c5": "fail",
    "c6": "pass",
    "c7": "fail",
}
BOB = {"c0": "pass", "c1": "fail", "c2": "fail", "c3": "pass"}


def labels_jsonl(path: Path, run_id: str) -> None:
    lines = [
        {
            "run": run_id,
            "suite": "cal",
            "case": c,
            "variant": "default",
            "repeat": 0,
            "labeller": "alice",
            "time": "2026-12-02T05:00:00Z",
            "verdict": v,
            "note": "wrong city" if c == "c6" else None,
        }
        for c, v in ALICE.items()
    ]
    path.write_text("".join(json.dumps({k: v for k, v in x.items() if v is not None}) + "\n" for x in lines))


def labels_csv(path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["suite", "case", "variant", "labeller", "verdict"])
        for c, v in BOB.items():
            w.writerow(["cal", c, "default", "bob", v])


def test_label_import_calibrate_consistency_and_cost(workdir: Path, server: Scripted, cli) -> None:
    write(workdir / "s.yaml", SUITE)
    assert cli("run", "s.yaml", "-o", "out", "--no-baseline").exit_code == 0
    out = workdir / "out"
    rows = {r["case_id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    # asked 3 times: the flaky case gets the majority (pass, fail, pass) and 2/3 self-agreement
    assert rows["c7"]["scores"]["correct"]["passed"] is True
    assert rows["c7"]["scores"]["correct_self_agreement"]["value"] == pytest.approx(2 / 3)
    assert rows["c0"]["scores"]["correct_self_agreement"]["value"] == 1.0
    # judge tokens and cost, per result and judge, and in the result's cost
    usage = rows["c0"]["judges"]["correct"]
    assert usage["calls"] == 3 and usage["model_versions"] == ["judge-2026-01-01 (fp_fake)"]
    expected = (usage["input_tokens"] * 2.0 + usage["output_tokens"] * 10.0) / 1e6
    assert usage["input_tokens"] > 0 and usage["cost_usd"] == pytest.approx(expected)
    assert rows["c0"]["cost_usd"] == pytest.approx(expected)  # the answering model has no pricing
    summary = json.loads((out / "summary.json").read_text())
    group = summary["groups"][0]
    assert group["judges"]["correct"]["calls"] == 24
    assert group["tokens"]["judge_input"] == sum(
        r["judges"]["correct"]["input_tokens"] for r in rows.values()
    )
    assert group["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in rows.values()))

    run_id = json.loads((out / "run.json").read_text())["run_id"]
    labels_jsonl(workdir / "alice.jsonl", run_id)
    labels_csv(workdir / "bob.csv")
    first = cli("labels", "import", "alice.jsonl", "out")
    assert first.exit_code == 0, first.output
    second = cli("labels", "import", "bob.csv", "out")
    assert second.exit_code == 0 and "12 in the run on 8 result(s), by alice, bob" in second.output
    rows = {r["case_id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert (
        rows["c1"]["scores"]["human"]["value"] == 0.5
        and "alice: pass" in rows["c1"]["scores"]["human"]["reason"]
    )
    assert rows["c1"]["scores"]["correct"]["passed"] is True  # the automatic verdict is untouched
    metrics = json.loads((out / "summary.json").read_text())["groups"][0]["metrics"]
    assert metrics["human"]["n"] == 8 and metrics["correct_human_agreement"]["mean"] is not None
    assert "human" in (out / "summary.md").read_text()

    result = cli("calibrate", "out", "--resamples", "200")
    assert result.exit_code == 0, result.output
    cal = json.loads((out / "calibration.json").read_text())
    (a,) = cal["agreements"]
    judge = [1, 1, 1, 1, 0, 0, 0, 1]  # c7: the majority of pass, fail, pass
    people = [1 if v == "pass" else 0 for v in ALICE.values()] + [
        1 if v == "pass" else 0 for v in BOB.values()
    ]
    scorer = judge + judge[:4]
    assert a["labels"] == 12 and a["outputs"] == 8 and a["labellers"] == ["alice", "bob"]
    assert a["kappa"]["value"] == pytest.approx(cohen_kappa_score(people, scorer))
    assert a["accuracy"]["value"] == pytest.approx(
        sum(p == s for p, s in zip(people, scorer, strict=True)) / 12
    )
    assert a["confusion"] == [[2, 4], [1, 5]]  # rows people (fail, pass), columns judge
    assert a["leniency"]["value"] == pytest.approx(9 / 12 - 6 / 12)
    assert a["alpha_people"] is not None and a["alpha_people"]["n"] == 4
    assert {d["case"] for d in a["disagreements"]} == {"c1", "c2", "c6", "c7"}
    assert any("wrong city" in n for d in a["disagreements"] for n in d["notes"])
    (c,) = cal["consistency"]
    assert c["judge"] == "correct" and c["flaky"] == ["cal/c7/default/0"]
    assert "κ" in result.output or "kappa" in result.output.lower()
    assert all(len(line) <= 80 for line in result.output.splitlines())
    report = (out / "report.html").read_text()
    assert 'id="calibration"' in report and "judge-flaky" in report

    # `evalkit score` keeps the imported labels' human score
    assert cli("score", "out").exit_code == 0
    rows = {r["case_id"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert rows["c1"]["scores"]["human"]["value"] == 0.5


def test_bad_labels_name_file_and_line(workdir: Path, server: Scripted, cli) -> None:
    write(workdir / "s.yaml", SUITE)
    cli("run", "s.yaml", "-o", "out", "--no-baseline")
    write(
        workdir / "bad.jsonl",
        '{"suite": "cal", "case": "c0", "verdict": "pass"}\n{"suite": "cal", "case": "c1", "rating": 9}\n',
    )
    result = cli("labels", "import", "bad.jsonl", "out")
    assert result.exit_code == 2 and "bad.jsonl:2" in result.output and "rating" in result.output
    write(workdir / "bad.csv", "suite,case,verdict\ncal,c0,pass\ncal,c1,maybe\n")
    result = cli("labels", "import", "bad.csv", "out")
    assert result.exit_code == 2 and "bad.csv:3" in result.output and "verdict" in result.output
    write(workdir / "other.jsonl", '{"suite": "cal", "case": "c99", "verdict": "pass"}\n')
    result = cli("labels", "import", "other.jsonl", "out")
    assert result.exit_code == 2 and "c99" in result.output and "Traceback" not in result.output
    assert not (workdir / "out" / "labels.jsonl").exists()  # nothing written on bad input
    assert cli("calibrate", "out").exit_code == 0  # no labels yet, but the judge was asked 3 times


def test_a_judge_update_that_changes_verdicts_fails_the_gate(workdir: Path, server: Scripted, cli) -> None:
    """Drift: a suite names a human-labelled calibration set; the judge's agreement with it is
    gated against the baseline, and the judge's model and version are in the provenance."""
    people = {f"c{i}": "pass" if i < 4 else "fail" for i in range(7)}  # c7 (flaky) left unlabelled
    write(
        workdir / "cal_labels.jsonl",
        "".join(
            json.dumps({"suite": "cal", "case": c, "labeller": "panel", "verdict": v}) + "\n"
            for c, v in people.items()
        ),
    )
    suite = SUITE.replace(", samples: 3", "").replace(
        "scorers:", "calibration: cal_labels.jsonl\nthresholds:\n  correct_kappa: {min: 0.6}\nscorers:"
    )
    write(workdir / "s.yaml", suite)
    first = cli("run", "s.yaml", "-o", "a", "--no-baseline")
    assert first.exit_code == 0, first.output
    group = json.loads((workdir / "a" / "summary.json").read_text())["groups"][0]
    assert (
        group["metrics"]["correct_human_agreement"]["mean"] == 1.0 and group["corpus"]["correct_kappa"] == 1.0
    )
    assert cli("baseline", "save", "a").exit_code == 0
    meta = json.loads((workdir / "baselines" / "cal" / "default.meta.json").read_text())
    assert meta["judge_model"] == "correct: grader/judge [judge-2026-01-01 (fp_fake)]"
    assert meta["judge_model_versions"] == ["judge-2026-01-01 (fp_fake)"]

    # the judge provider moves to a new model that turns verdicts around
    config = (workdir / "evalkit.yaml").read_text().replace("model: judge,", "model: judge-v2,")
    write(workdir / "evalkit.yaml", config)
    second = cli("run", "s.yaml", "-o", "b")
    assert second.exit_code == 1, second.output
    summary = json.loads((workdir / "b" / "summary.json").read_text())
    assert "cal · default · correct_human_agreement" in summary["regressions"]
    (check,) = summary["groups"][0]["thresholds"]
    truth = [1 if v == "pass" else 0 for v in people.values()]
    expected = cohen_kappa_score(truth, [1 - x for x in truth])  # every verdict turned around
    assert check["metric"] == "correct_kappa" and check["passed"] is False
    assert check["actual"] == pytest.approx(expected)
    diff = json.loads((workdir / "b" / "diff.json").read_text())
    assert any("judge changed" in w and "judge-v2" in w for w in diff["groups"][0]["warnings"])


def test_a_bad_calibration_set_fails_before_any_model_call(workdir: Path, server: Scripted, cli) -> None:
    write(
        workdir / "cal_labels.jsonl",
        '{"suite": "cal", "case": "c0", "verdict": "pass"}\n{"suite": "cal", "case": "c1"}\n',
    )
    write(workdir / "s.yaml", SUITE.replace("scorers:", "calibration: cal_labels.jsonl\nscorers:"))
    result = cli("run", "s.yaml", "-o", "a", "--no-baseline")
    assert result.exit_code == 2 and "cal_labels.jsonl:2" in result.output and "verdict" in result.output
    assert sum(server.calls.values()) == 0


def test_labels_import_during_a_score_is_refused_not_interleaved(
    workdir: Path, server: Scripted, cli
) -> None:
    """Every writer of a run directory takes its lock: `evalkit labels import` while a real
    `evalkit score` process holds the run is refused at once (exit 2, naming the run directory
    and who holds it), writes nothing, and works once the score has finished."""
    write(workdir / "s.yaml", SUITE.replace(", samples: 3", ""))
    assert cli("run", "s.yaml", "-o", "out", "--no-baseline").exit_code == 0
    out = workdir / "out"
    run_id = json.loads((out / "run.json").read_text())["run_id"]
    labels_jsonl(workdir / "alice.jsonl", run_id)
    assert server.fake is not None
    server.fake.latency_s = 3.0  # the judges now take a while: the score holds the lock meanwhile
    scoring = evalkit_process(workdir, "score", "out", "--no-cache")
    try:
        deadline = time.monotonic() + 60
        while "evalkit score" not in (out / ".lock").read_text() and scoring.poll() is None:
            assert time.monotonic() < deadline, "the score never took the lock"
            time.sleep(0.02)
        importing = evalkit_process(workdir, "labels", "import", "alice.jsonl", "out")
        said, _ = importing.communicate(timeout=60)
        assert scoring.poll() is None, "the score finished before the import was tried"
    finally:
        scored, _ = scoring.communicate(timeout=120)
    assert importing.returncode == 2, said
    assert "out: this run directory is in use by evalkit score (pid" in said
    assert "Traceback" not in said
    assert not (out / "labels.jsonl").exists()  # nothing written by the refused writer
    assert scoring.returncode == 0, scored
    server.fake.latency_s = 0.0
    again = cli("labels", "import", "alice.jsonl", "out")
    assert again.exit_code == 0, again.output
    assert (out / "labels.jsonl").exists()


def test_a_kappa_floor_that_flips_after_labels_import_flips_the_verdict(
    workdir: Path, server: Scripted, cli
) -> None:
    """summary.json's checks, status and exit code, run.json, junit.xml and summary.md agree
    after `labels import`: a `<judge>_kappa` floor that the calibration set fails is passed
    once the panel's corrected labels are imported, and fails again with a labeller who
    disagrees with the judge on every output."""
    judge = {f"c{i}": "pass" if i < 4 or i == 7 else "fail" for i in range(8)}  # as the judge says
    turned = {c: "fail" if v == "pass" else "pass" for c, v in judge.items()}

    def labels(who: str, verdicts: dict[str, str]) -> str:
        return "".join(
            json.dumps({"suite": "cal", "case": c, "labeller": who, "verdict": v}) + "\n"
            for c, v in verdicts.items()
        )

    write(workdir / "cal_labels.jsonl", labels("panel", {c: turned[c] for c in list(turned)[:7]}))
    suite = SUITE.replace(", samples: 3", "").replace(
        "scorers:", "calibration: cal_labels.jsonl\nthresholds:\n  correct_kappa: {min: 0.6}\nscorers:"
    )
    write(workdir / "s.yaml", suite)
    ran = cli("run", "s.yaml", "-o", "out", "--no-baseline")
    assert ran.exit_code == 1, ran.output  # the panel disagrees with the judge
    out = workdir / "out"

    def verdict() -> tuple[str, int, bool, str, int]:
        summary = json.loads((out / "summary.json").read_text())
        (check,) = summary["groups"][0]["thresholds"]
        info = json.loads((out / "run.json").read_text())
        failures = (out / "junit.xml").read_text().count("<failure")
        return summary["status"], summary["exit_code"], check["passed"], info["status"], failures

    assert verdict() == ("failed", 1, False, "failed", 1)
    write(workdir / "corrected.jsonl", labels("panel", judge))  # the panel's newer labels win
    assert cli("labels", "import", "corrected.jsonl", "out").exit_code == 0
    assert verdict() == ("passed", 0, True, "passed", 0)
    assert "PASSED" in (out / "summary.md").read_text()
    write(workdir / "disagree.jsonl", labels("bob", turned))
    assert cli("labels", "import", "disagree.jsonl", "out").exit_code == 0
    assert verdict() == ("failed", 1, False, "failed", 1)
    assert "FAILED" in (out / "summary.md").read_text()


def test_labels_import_on_a_gated_run_gates_it_again_and_every_file_agrees(
    workdir: Path, server: Scripted, cli
) -> None:
    """`labels import` concludes the run again with `finish`: diff.json is gated again (it was
    left as the run wrote it, comparing the human scores of the labels the run had then), and
    summary.json, run.json, diff.json, junit.xml, summary.md and report.html agree after a
    `<judge>_kappa` floor flips."""
    judge = {f"c{i}": "pass" if i < 4 or i == 7 else "fail" for i in range(8)}
    turned = {c: "fail" if v == "pass" else "pass" for c, v in judge.items()}

    def labels(who: str, verdicts: dict[str, str]) -> str:
        return "".join(
            json.dumps({"suite": "cal", "case": c, "labeller": who, "verdict": v}) + "\n"
            for c, v in verdicts.items()
        )

    write(workdir / "cal_labels.jsonl", labels("panel", turned))
    suite = SUITE.replace(", samples: 3", "").replace(
        "scorers:", "calibration: cal_labels.jsonl\nthresholds:\n  correct_kappa: {min: 0.6}\nscorers:"
    )
    write(workdir / "s.yaml", suite)
    write(workdir / "corrected.jsonl", labels("panel", judge))
    assert cli("run", "s.yaml", "-o", "a", "--no-baseline").exit_code == 1
    assert cli("labels", "import", "corrected.jsonl", "a").exit_code == 0
    assert cli("baseline", "save", "a", "--to", "bl").exit_code == 0  # blessed with the people's word
    gated = cli("run", "s.yaml", "-o", "b", "--baseline", "bl")
    assert gated.exit_code == 1, gated.output
    out = workdir / "b"

    def files() -> tuple[Any, ...]:
        summary = json.loads((out / "summary.json").read_text())
        diff = json.loads((out / "diff.json").read_text())
        human = next(m for m in diff["groups"][0]["metrics"] if m["metric"] == "human")
        info = json.loads((out / "run.json").read_text())
        junit = (out / "junit.xml").read_text()
        return (
            summary,
            human,
            info,
            junit,
            (out / "summary.md").read_text(),
            (out / "report.html").read_text(),
        )

    summary, human, info, junit, md, html = files()
    assert human["candidate"] == pytest.approx(summary["groups"][0]["metrics"]["human"]["mean"])
    assert human["candidate"] != pytest.approx(human["baseline"])
    assert cli("labels", "import", "corrected.jsonl", "b").exit_code == 0
    summary, human, info, junit, md, html = files()
    assert human["candidate"] == pytest.approx(summary["groups"][0]["metrics"]["human"]["mean"])
    assert human["candidate"] == pytest.approx(human["baseline"])  # the same people's word as the baseline
    (check,) = summary["groups"][0]["thresholds"]
    assert check["passed"] and summary["regressions"] == []
    assert (summary["status"], summary["exit_code"], info["status"]) == ("passed", 0, "passed")
    assert "PASSED" in md and 'class="banner passed"' in html
    assert junit.count("<failure") == 0, junit
