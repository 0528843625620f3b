"""`evalkit.run(...)`: typed results, summary, frames, the gate; and `evalkit.testing` helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

import evalkit
from evalkit import testing
from evalkit.errors import UserInputError
from tests.integrations.conftest import N_CASES, bless, scripted_config, suite_yaml


@pytest.fixture
def project(workdir: Path) -> Path:
    (workdir / "suites").mkdir()
    (workdir / "suites" / "qa.yaml").write_text(suite_yaml())
    (workdir / "evalkit.yaml").write_text(scripted_config(wrong={1}))
    return workdir


def test_run_returns_typed_results_summary_and_frames(project: Path) -> None:
    got = evalkit.run("suites/qa.yaml", out="runs/a")
    assert isinstance(got, evalkit.RunResult) and got.run_dir == Path("runs/a")
    assert got.status == "passed" and got.exit_code == 0 and got.diff is None  # no baselines: not gated
    assert [r.case_id for r in got.results] == [f"q{i}" for i in range(N_CASES)]
    assert got.results[1].output == "no idea" and got.results[1].scores["exact"].value == 0.0
    group = got.group()
    assert group.metrics["exact"].mean == pytest.approx((N_CASES - 1) / N_CASES)
    frame = got.frame()
    assert len(frame) == N_CASES and frame.loc[frame.case_id == "q1", "exact"].item() == 0.0
    metrics = got.metrics_frame()
    row = metrics[metrics.metric == "exact"].iloc[0]
    assert row["suite"] == "qa" and row["n"] == N_CASES and row["ci_low"] <= row["mean"] <= row["ci_high"]
    assert (project / "runs" / "a" / "report.html").exists()


def test_testing_helpers_pass_and_fail_with_the_numbers(project: Path) -> None:
    got = evalkit.run("suites", out="runs/a")
    testing.assert_score(got.results[0], "exact", at_least=1)
    with pytest.raises(AssertionError, match=r"qa/q1/base/0 exact = 0, expected at least 1"):
        testing.assert_score(got.results[1], "exact", at_least=1)
    testing.assert_metric(got, "exact", at_least=0.9)
    with pytest.raises(AssertionError, match=r"qa · base exact mean = 0\.958333, expected at least 0\.99"):
        testing.assert_metric(got, "exact", at_least=0.99)
    with pytest.raises(AssertionError, match=r"1 case\(s\) did not pass: qa/q1/base/0"):
        testing.assert_all_passed(got)
    testing.assert_pass_rate(got, at_least=0.9)
    with pytest.raises(AssertionError, match="not gated"):
        testing.assert_no_regression(got)


def test_the_gate_through_the_api(project: Path) -> None:
    bless(project)
    (project / "evalkit.yaml").write_text(scripted_config(wrong=set(range(0, N_CASES, 2))))
    got = evalkit.run("suites", out="runs/bad")
    assert got.regressed and got.exit_code == 1 and got.summary.regressions == ["qa · base · exact"]
    with pytest.raises(AssertionError, match="regressed: qa · base · exact"):
        testing.assert_no_regression(got)


def test_bad_input_raises_before_any_call(project: Path) -> None:
    with pytest.raises(UserInputError, match="unknown variant 'nope'"):
        evalkit.run("suites", variants=["nope"], out="runs/x")
    assert not (project / "runs" / "x").exists()
