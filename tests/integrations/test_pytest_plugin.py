"""The pytest plugin through pytester: suites as items, -k/-m/-x, --junitxml, the gate item,
pytest-xdist with 2 workers joined into one run directory, bad suites, and inert without --evalkit."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.integrations.conftest import N_CASES, bless, scripted_config


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a subprocess: an in-process run unloads the modules it imported (numpy among them)."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def results_of(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


def test_every_case_is_an_item_and_the_run_goes_to_a_run_directory(
    pytester: pytest.Pytester, eval_project: Path
) -> None:
    got = run(pytester, "--evalkit", "suites/", "--evalkit-out", "run", "-v", "--junitxml=junit.xml")
    got.assert_outcomes(passed=N_CASES + 1)  # the cases and the gate
    got.stdout.fnmatch_lines(["*suites/qa.yaml::q0[[]base[]] PASSED*", "*evalkit-gate PASSED*"])
    results = results_of(eval_project / "run")
    assert [r["case_id"] for r in results] == [f"q{i}" for i in range(N_CASES)]  # plan order
    summary = json.loads((eval_project / "run" / "summary.json").read_text())
    assert summary["status"] == "passed" and summary["results"] == N_CASES
    assert (eval_project / "run" / "report.html").exists() and not (eval_project / "run" / ".parts").exists()
    cases = ET.parse(eval_project / "junit.xml").getroot().iter("testcase")
    props = {c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")} for c in cases}
    assert props["q3[base]"] == {"exact": "1.0"} and GATE_NAME in props


GATE_NAME = "evalkit-gate"


def test_failing_cases_fail_with_their_output_and_x_stops_the_run(
    pytester: pytest.Pytester, eval_project: Path
) -> None:
    (eval_project / "evalkit.yaml").write_text(scripted_config(wrong={3, 5}))
    got = run(pytester, "--evalkit", "suites/", "--evalkit-out", "all")
    got.assert_outcomes(passed=N_CASES - 2 + 1, failed=2)  # thresholds unset, no baseline: gate passes
    got.stdout.fnmatch_lines(["*qa/q3/base/0: did not pass*", "*exact = 0.0*", "*output: 'no idea'*"])
    stopped = run(pytester, "--evalkit", "suites/", "--evalkit-out", "stopped", "-x", "--evalkit-batch", "4")
    stopped.assert_outcomes(passed=3, failed=1)
    assert len(results_of(eval_project / "stopped")) == 4  # one batch of 4 was asked, no more
    summary = json.loads((eval_project / "stopped" / "summary.json").read_text())
    assert summary["results"] == 4


def test_k_and_markers_select_cases(pytester: pytest.Pytester, eval_project: Path) -> None:
    got = run(pytester, "--evalkit", "suites/", "--evalkit-out", "even", "-m", "even", "--strict-markers")
    got.assert_outcomes(passed=N_CASES // 2)  # the gate carries no case tag: deselected too
    assert sorted(r["case_id"] for r in results_of(eval_project / "even")) == sorted(
        f"q{i}" for i in range(0, N_CASES, 2)
    )
    picked = run(pytester, "--evalkit", "suites/", "--evalkit-out", "k", "-k", "q7 or q11 or gate")
    picked.assert_outcomes(passed=3)
    assert sorted(r["case_id"] for r in results_of(eval_project / "k")) == ["q11", "q7"]


def test_the_gate_item_fails_on_a_real_regression(pytester: pytest.Pytester, eval_project: Path) -> None:
    bless(eval_project)
    (eval_project / "evalkit.yaml").write_text(scripted_config(wrong=set(range(0, N_CASES, 2))))
    got = run(pytester, "--evalkit", "suites/", "--evalkit-out", "bad")
    got.assert_outcomes(passed=N_CASES // 2, failed=N_CASES // 2 + 1)
    got.stdout.fnmatch_lines(
        [
            "*evalkit gate against the baselines*",
            "*: regressed (exit 1)*",
            "*regressed: qa · base · exact*",
            "FAILED*evalkit-gate*",
        ]
    )
    assert got.ret == pytest.ExitCode.TESTS_FAILED
    assert json.loads((eval_project / "bad" / "diff.json").read_text())["groups"][0]["verdict"] == "regressed"


def test_xdist_two_workers_make_one_run_and_the_controller_gives_the_verdict(
    pytester: pytest.Pytester, eval_project: Path
) -> None:
    bless(eval_project)
    (eval_project / "evalkit.yaml").write_text(scripted_config(wrong=set(range(0, N_CASES, 2))))
    got = run(
        pytester,
        "--evalkit",
        "suites/",
        "-n",
        "2",
        "--evalkit-out",
        "xd",
        "--junitxml=junit.xml",
    )
    got.stdout.fnmatch_lines(["*created: 2/2 workers*", "*FAILED*evalkit-gate*"])
    got.assert_outcomes(passed=N_CASES // 2, failed=N_CASES // 2 + 1)
    results = results_of(eval_project / "xd")
    assert [r["case_id"] for r in results] == [f"q{i}" for i in range(N_CASES)]  # joined, in plan order
    summary = json.loads((eval_project / "xd" / "summary.json").read_text())
    assert summary["status"] == "regressed" and summary["results"] == N_CASES
    names = [c.get("name") for c in ET.parse(eval_project / "junit.xml").getroot().iter("testcase")]
    assert names.count(GATE_NAME) == 1 and len(names) == N_CASES + 1


def test_a_bad_suite_is_a_collection_error_with_file_and_line(
    pytester: pytest.Pytester, eval_project: Path
) -> None:
    (eval_project / "suites" / "broken.yaml").write_text("name: broken\ncases:\n  - {id: a, varz: {}}\n")
    got = run(pytester, "--evalkit", "suites/")
    assert got.ret == pytest.ExitCode.INTERRUPTED
    text = got.stdout.str()
    assert "broken.yaml:3" in text and "Traceback" not in text


def test_without_evalkit_the_plugin_collects_nothing_and_imports_nothing(
    pytester: pytest.Pytester, eval_project: Path
) -> None:
    got = run(pytester, "suites/")
    assert got.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    code = (
        "import sys, evalkit.integrations.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith('evalkit.') and 'integrations' not in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
