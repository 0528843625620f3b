"""Every kind of bad input: one clear line naming the file and line or case id, exit 2,
no traceback, and not a single request sent to the model server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import qa_suite_yaml, two_variant_config, write
from tests.fake_openai import FakeOpenAI

GOOD_SUITE = qa_suite_yaml(scorers="[exact]")


def run_bad(cli, workdir: Path, server: FakeOpenAI, *args: str) -> str:
    result = cli("run", *args)
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert server.requests == [], "bad input must be caught before any model call"
    return " ".join(output.split())  # rich may wrap long lines


@pytest.fixture
def setup(workdir: Path, fake_server: FakeOpenAI) -> Path:
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url))
    write(workdir / "suites" / "qa.yaml", GOOD_SUITE)
    return workdir


def test_malformed_suite_yaml(setup: Path, fake_server, cli) -> None:
    text = GOOD_SUITE.replace('vars: {question: "What is 2 + 2?"}', 'vars: {question: "What is 2 + 2?"')
    write(setup / "suites" / "qa.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "2 + 2" in t)
    assert "suites/qa.yaml:" in out and "YAML syntax error" in out
    reported = int(out.split("suites/qa.yaml:")[1].split(":")[0])
    assert line <= reported <= line + 2


def test_malformed_jsonl_cases(setup: Path, fake_server, cli) -> None:
    write(
        setup / "suites" / "cases.jsonl",
        '{"id": "a", "vars": {"question": "x"}, "reference": "y"}\n'
        '{"id": "b", "vars": {"question": "x"}, "reference": "y"}\n'
        '{"id": "c", "vars": {"question": "x"}, "reference": \n',
    )
    write(
        setup / "suites" / "qa.yaml",
        'name: j\nprompt: "{{ question }}"\nscorers: [exact]\ncases: cases.jsonl\n',
    )
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "cases.jsonl:3: invalid JSON" in out


def test_jsonl_unknown_case_key(setup: Path, fake_server, cli) -> None:
    write(setup / "suites" / "cases.jsonl", '{"id": "a", "vars": {"question": "x"}, "refrence": "y"}\n')
    write(
        setup / "suites" / "qa.yaml",
        'name: j\nprompt: "{{ question }}"\nscorers: [exact]\ncases: cases.jsonl\n',
    )
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "cases.jsonl:1:" in out and "unknown key 'refrence'" in out and "did you mean 'reference'" in out


def test_unknown_scorer_did_you_mean(setup: Path, fake_server, cli) -> None:
    write(setup / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact, rogue]"))
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "unknown scorer 'rogue'" in out and "did you mean 'rouge'" in out and "suites/qa.yaml" in out


def test_unknown_scorer_option(setup: Path, fake_server, cli) -> None:
    write(setup / "suites" / "qa.yaml", qa_suite_yaml(scorers="[{type: exact, ignore_cse: true}]"))
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "has no option 'ignore_cse'" in out and "did you mean 'ignore_case'" in out


def test_unknown_provider_type(setup: Path, fake_server, cli) -> None:
    write(setup / "evalkit.yaml", two_variant_config(fake_server.url).replace("type: openai", "type: opneai"))
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "unknown provider type 'opneai'" in out and "did you mean 'openai'" in out
    assert "evalkit.yaml:3:" in out and "known: " in out  # the type's line, and every known type


def test_unknown_provider_setting(setup: Path, fake_server, cli) -> None:
    write(setup / "evalkit.yaml", two_variant_config(fake_server.url).replace("base_url:", "bse_url:"))
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "providers.api" in out and "unknown key 'bse_url'" in out and "did you mean 'base_url'" in out


def test_unknown_config_key_has_line(setup: Path, fake_server, cli) -> None:
    text = two_variant_config(fake_server.url).replace("variants:", "variantz:")
    write(setup / "evalkit.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("variantz"))
    assert f"evalkit.yaml:{line}:" in out and "did you mean 'variants'" in out


def test_variant_with_unknown_provider(setup: Path, fake_server, cli) -> None:
    write(
        setup / "evalkit.yaml",
        two_variant_config(fake_server.url).replace("{provider: api, model", "{provider: apj, model"),
    )
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "variants.bad.provider: unknown provider 'apj'" in out and "did you mean 'api'" in out


def test_missing_template_variable(setup: Path, fake_server, cli) -> None:
    text = GOOD_SUITE.replace('vars: {question: "Who wrote Hamlet?"}', 'vars: {qestion: "Who wrote Hamlet?"}')
    write(setup / "suites" / "qa.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "qestion" in t) - 1
    assert "case 'q3'" in out and f"suites/qa.yaml:{line}" in out and "'question' is undefined" in out


def test_template_syntax_error(setup: Path, fake_server, cli) -> None:
    write(setup / "suites" / "qa.yaml", GOOD_SUITE.replace('"{{ question }}"', '"{{ question }"'))
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "suites/qa.yaml:2" in out and "template syntax error" in out


def test_duplicate_case_ids(setup: Path, fake_server, cli) -> None:
    text = GOOD_SUITE.replace("id: q4", "id: q1")
    write(setup / "suites" / "qa.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    lines = [i for i, t in enumerate(text.splitlines(), 1) if "id: q1" in t]
    assert f"duplicate case id 'q1' at suites/qa.yaml:{lines[1]}" in out
    assert f"first at suites/qa.yaml:{lines[0]}" in out


def test_missing_reference_for_scorer(setup: Path, fake_server, cli) -> None:
    text = GOOD_SUITE.replace('    reference: "Paris"\n', "")
    write(setup / "suites" / "qa.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "case 'q0'" in out and "no reference" in out and "'exact'" in out


def test_missing_api_key_env(setup: Path, fake_server, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALKIT_TEST_KEY", raising=False)
    write(
        setup / "evalkit.yaml",
        two_variant_config(fake_server.url, extra_provider="api_key_env: EVALKIT_TEST_KEY"),
    )
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "EVALKIT_TEST_KEY is not set" in out


@pytest.mark.parametrize(
    ("out_dir", "says"),
    [
        ("blocker/run", "a part of this path is a file, not a folder"),
        ("blocker", "is a file, not a folder"),
    ],
)
def test_an_output_dir_that_is_a_file(setup: Path, fake_server, cli, out_dir: str, says: str) -> None:
    (setup / "blocker").write_text("a file, not a folder")
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml", "--out", out_dir)
    assert f"{out_dir}: {says}" in out


def test_unwritable_output_dir(setup: Path, fake_server, cli) -> None:
    """Any other reason the folder cannot be made or written (here a name longer than the file
    system allows, which refuses root too) is named with the system's words."""
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml", "--out", "x" * 300)
    assert "not writable: File name too long" in out


def test_output_dir_with_results_is_refused(setup: Path, fake_server, cli) -> None:
    (setup / "old").mkdir()
    (setup / "old" / "results.jsonl").write_text('{"x": 1}\n')
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml", "--out", "old")
    assert "already holds results" in out


def test_retry_errors_without_resume_is_refused(setup: Path, fake_server, cli) -> None:
    """--retry-errors only means something with --resume: alone it is refused, not ignored."""
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml", "--retry-errors", "--out", "zz")
    assert "--retry-errors needs --resume RUN_DIR" in out
    assert not (setup / "zz").exists()


def test_unknown_variant_option(setup: Path, fake_server, cli) -> None:
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml", "--variant", "godo")
    assert "unknown variant 'godo'" in out and "did you mean 'good'" in out


def test_threshold_on_unknown_metric(setup: Path, fake_server, cli) -> None:
    write(
        setup / "suites" / "qa.yaml",
        qa_suite_yaml(scorers="[exact]", extra="thresholds:\n  exatc: {min: 0.5}\n"),
    )
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "thresholds.exatc" in out and "did you mean 'exact'" in out


def test_suite_not_found(setup: Path, fake_server, cli) -> None:
    out = run_bad(cli, setup, fake_server, "suites/nope.yaml")
    assert "suites/nope.yaml: suite not found" in out


def test_validate_command_reports_ok_and_errors(setup: Path, fake_server, cli) -> None:
    ok = cli("validate", "suites/qa.yaml")
    assert ok.exit_code == 0 and "ok" in ok.output and "12 request(s)" in ok.output
    write(setup / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact, rogue]"))
    bad = cli("validate", "suites/qa.yaml")
    assert bad.exit_code == 2 and "did you mean 'rouge'" in bad.output
    assert fake_server.requests == []


def test_real_process_exit_code_and_no_traceback(setup: Path, fake_server) -> None:
    write(setup / "suites" / "qa.yaml", qa_suite_yaml(scorers="[exact, rogue]"))
    proc = subprocess.run(
        [sys.executable, "-m", "evalkit", "run", "suites/qa.yaml"],
        capture_output=True,
        text=True,
        cwd=setup,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "unknown scorer 'rogue'" in proc.stderr
    assert fake_server.requests == []


HOSTILE_SUITE_HEAD = 'name: qa\nprompt: "{{ question }}"\nscorers: [exact]\n'
GOOD_LINE = '{"id": "a", "vars": {"question": "x"}}\n'
LONG_INT = "9" * 5000  # over Python's 4,300-digit limit for int(text)


@pytest.mark.parametrize(
    ("where", "text", "line", "says"),
    [  # (file, its text, the line to name, what the message says)
        (
            "suites/qa.yaml",
            GOOD_SUITE + "thresholds:\n  exact: {min: 0.99}\n  exact: {min: 0.0}\n",
            -1,
            "duplicate key 'exact'",
        ),
        (
            "suites/qa.yaml",
            GOOD_SUITE + "thresholds:\n  exact:\n    min: 0.99\n    min: 0.0\n",
            -1,
            "duplicate key 'min'",
        ),
        (
            "suites/qa.yaml",
            GOOD_SUITE + "thresholds:\n  exact: {min: .nan}\n",
            -1,
            "'.nan' is not a finite number",
        ),
        ("suites/qa.yaml", GOOD_SUITE + "thresholds:\n  exact: {min: '-inf'}\n", None, "finite number"),
        ("suites/qa.yaml", GOOD_SUITE + "repeats: 100000000\n", None, "less than or equal to 1000"),
        (
            "evalkit.yaml",
            ("providers:\n  api:", "providers:\n  api: {type: openai}\n  api:"),
            3,
            "duplicate key 'api'",
        ),
        (
            "evalkit.yaml",
            ("max_tokens: 32", "max_tokens: " + LONG_INT),
            9,
            "an integer of more than 4,300 digits",
        ),
        (  # flow style, both on one line: the threshold was silently disabled
            "suites/qa.yaml",
            GOOD_SUITE + "thresholds: {exact: {min: 0.9}, exact: {min: 0.0}}\n",
            -1,
            "duplicate key 'exact'",
        ),
        (
            "suites/qa.yaml",
            GOOD_SUITE + "thresholds:\n  exact: {min: 0.9, min: 0.0}\n",
            -1,
            "duplicate key 'min'",
        ),
        (  # keys are text, as in JSON: `1` and `'1'` are one key given twice
            "suites/qa.yaml",
            GOOD_SUITE + "  - id: mixed\n    vars: {question: q, meta: {1: one, '1': two}}\n",
            -1,
            "duplicate key '1'",
        ),
        (  # a JSONL case line: the last `vars` used to win
            "suites/cases.jsonl",
            '{"id": "a", "vars": {"question": "x"}}\n{"id": "b", "vars": {"question": "y"}, "vars": {}}\n',
            2,
            "duplicate key 'vars'",
        ),
        *(  # not JSON, and cases.jsonl in the run directory held `NaN`; `1e999` read as infinity
            ("suites/cases.jsonl", GOOD_LINE + f'{{"id": "b", "vars": {{"question": {n}}}}}\n', 2, says)
            for n, says in [
                ("NaN", "'NaN' is not a finite number"),
                ("Infinity", "'Infinity' is not a finite number"),
                ("-Infinity", "'-Infinity' is not a finite number"),
                ("1e999", "'1e999' is not a finite number"),
                ("[-1E400]", "'-1E400' is not a finite number"),
                (LONG_INT, "an integer of more than 4,300 digits"),  # was a ValueError traceback
            ]
        ),
        # a CSV column given twice: the last one won silently; a row longer or shorter than the
        # header said `vars.None: Input should be a valid string` or dropped the missing values
        ("suites/cases.csv", "id,question,question,reference\na,x,y,ok\n", 1, "duplicate column 'question'"),
        (
            "suites/cases.csv",
            "id,question,reference\na,x,ok\nb,y,ok,extra\n",
            3,
            "has 4 fields where the header has 3",
        ),
        (
            "suites/cases.csv",
            "id,question,reference\na,x,ok\n\nb,y\n",
            4,
            "has 2 fields where the header has 3",
        ),
        (
            "suites/qa.yaml",
            GOOD_SUITE + f"  - id: big\n    vars: {{question: {LONG_INT}}}\n",
            -1,
            "an integer of more than 4,300 digits",
        ),
    ],
)
def test_duplicate_keys_and_non_finite_numbers(
    setup: Path, fake_server, cli, where: str, text: str | tuple[str, str], line: int | None, says: str
) -> None:
    if isinstance(text, tuple):  # evalkit.yaml with one text replaced
        text = two_variant_config(fake_server.url).replace(*text, 1)
    if where.endswith((".jsonl", ".csv")):
        write(setup / "suites" / "qa.yaml", HOSTILE_SUITE_HEAD + f"cases: {Path(where).name}\n")
    write(setup / where, text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert says in out, out
    if line is not None:
        expected = len(text.rstrip("\n").splitlines()) if line == -1 else line
        assert f"{where}:{expected}:" in out, out


def test_alias_bomb_is_refused_quickly(setup: Path, fake_server, cli) -> None:
    lol = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lol.append(
            f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]"
        )
    write(
        setup / "suites" / "qa.yaml",
        GOOD_SUITE.replace("cases:", "\n".join(["metadata_bomb:", *("  " + x for x in lol), "cases:"])),
    )
    import time

    started = time.perf_counter()
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "aliases expand to more than" in out and time.perf_counter() - started < 5


def test_hostile_case_files(setup: Path, fake_server, cli) -> None:
    suite = HOSTILE_SUITE_HEAD + "cases: cases.jsonl\n"
    write(setup / "suites" / "qa.yaml", suite)
    good = b'{"id": "a", "vars": {"question": "x"}}\n'
    (setup / "suites" / "cases.jsonl").write_bytes(good + b'{"id": "b", "vars": {"question": "caf\xe9"}}\n')
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "cases.jsonl:2:" in out and "not valid UTF-8" in out
    deep = '{"id": "b", "vars": {"q": ' + "[" * 100_000 + "]" * 100_000 + "}}\n"
    (setup / "suites" / "cases.jsonl").write_bytes(good + deep.encode())
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "cases.jsonl:2:" in out and "nested more than 64 levels deep" in out
    deep_yaml = GOOD_SUITE + "metadata_x: " + "[" * 5_000 + "]" * 5_000 + "\n"
    write(setup / "suites" / "qa.yaml", deep_yaml)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "qa.yaml" in out and "nested more than 64 levels deep" in out


def test_csv_with_a_byte_order_mark(setup: Path, fake_server, cli) -> None:
    write(setup / "suites" / "qa.yaml", HOSTILE_SUITE_HEAD + "cases: cases.csv\n")
    (setup / "suites" / "cases.csv").write_bytes(
        "\ufeffid,question,reference\nq1,What is 2 + 2?,4\n".encode()
    )
    result = cli("validate", "suites/qa.yaml")
    assert result.exit_code == 0, result.output
    from evalkit.spec.suite import load_suite

    case = load_suite(setup / "suites" / "qa.yaml").cases[0]
    assert case.id == "q1" and case.vars == {"question": "What is 2 + 2?"}


def test_a_second_run_into_the_same_out_has_two_documented_ways(setup: Path, fake_server, cli) -> None:
    """Issue 14.12: --overwrite replaces the earlier run; --runs-dir gives each run a fresh id."""
    first = cli("run", "suites/qa.yaml", "--out", "nightly")
    assert first.exit_code == 0, first.output
    again = cli("run", "suites/qa.yaml", "--out", "nightly")
    out = " ".join(again.output.split())
    assert again.exit_code == 2 and "--overwrite" in out and "--runs-dir" in out
    (setup / "nightly" / "mine.txt").write_text("not evalkit's")
    replaced = cli("run", "suites/qa.yaml", "--out", "nightly", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert (setup / "nightly" / "mine.txt").exists() and (setup / "nightly" / "results.jsonl").exists()
    for _ in range(2):
        assert cli("run", "suites/qa.yaml", "--runs-dir", "nightly-runs").exit_code == 0
    runs = sorted(p for p in (setup / "nightly-runs").iterdir() if (p / "results.jsonl").exists())
    assert len(runs) == 2 and runs[0].name != runs[1].name


@pytest.mark.parametrize(
    ("scorers", "extra", "needle"),
    [
        ("[exact, rogue]", "", "unknown scorer 'rogue'"),
        ("[{type: exact, ignore_cse: true}]", "", "has no option 'ignore_cse'"),
        ("[exact]", "thresholds:\n  exatc: {min: 0.5}\n", "thresholds.exatc"),
    ],
)
def test_scorer_and_threshold_errors_name_the_line(
    setup: Path, fake_server, cli, scorers: str, extra: str, needle: str
) -> None:
    text = qa_suite_yaml(scorers=scorers, extra=extra)
    write(setup / "suites" / "qa.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    key = "  exatc" if extra else "scorers"
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith(key))
    assert f"suites/qa.yaml:{line}:" in out and needle in out


def test_missing_case_file_names_the_suite_line(setup: Path, fake_server, cli) -> None:
    write(
        setup / "suites" / "qa.yaml",
        'name: j\nprompt: "{{ question }}"\nscorers: [exact]\ncases: nope.jsonl\n',
    )
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "suites/qa.yaml:4:" in out and "nope.jsonl" in out and "not found" in out


@pytest.mark.parametrize(
    ("folder", "suite_line", "config", "where", "says"),
    [  # (the folder made where a file is named, a suite line naming it, evalkit.yaml's change, ...)
        (
            "suites/d.jsonl",
            "cases: d.jsonl",
            None,
            "suites/qa.yaml:4:",
            "case file is a directory, not a file",
        ),
        (
            "suites/d.csv",
            "cases: {path: d.csv, limit: 2}",
            None,
            "suites/qa.yaml:4:",
            "case file is a directory, not a file",
        ),
        (
            "prompts/d.j2",
            "cases: c.jsonl",
            ("good: {provider: api,", "good: {provider: api, prompt: prompts/d.j2,"),
            "evalkit.yaml:9:",
            "template file 'prompts/d.j2' is a directory, not a file",
        ),
        (
            "suites/labels.jsonl",
            "calibration: labels.jsonl\ncases: c.jsonl",
            None,
            "labels.jsonl",
            "labels file is a directory, not a file",
        ),
        (
            "plug.py",
            "cases: c.jsonl",
            ("providers:", "plugins: [plug.py]\nproviders:"),
            "evalkit.yaml",
            "plugin file 'plug.py' is a directory, not a file",
        ),
    ],
)
def test_a_folder_where_a_file_is_named_says_so(
    setup: Path,
    fake_server,
    cli,
    folder: str,
    suite_line: str,
    config: tuple[str, str] | None,
    where: str,
    says: str,
) -> None:
    """A folder named as a case file, template, labels or plugin file was reported 'not found'."""
    (setup / folder).mkdir(parents=True)
    write(setup / "suites" / "c.jsonl", '{"id": "a", "vars": {"question": "x"}, "reference": "x"}\n')
    write(
        setup / "suites" / "qa.yaml",
        f'name: j\nprompt: "{{{{ question }}}}"\nscorers: [exact]\n{suite_line}\n',
    )
    if config is not None:
        write(setup / "evalkit.yaml", two_variant_config(fake_server.url).replace(*config, 1))
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert where in out and says in out and "not found" not in out, out


def test_a_folder_named_as_the_config_says_so(setup: Path, fake_server, cli) -> None:
    (setup / "cfg.yaml").mkdir()
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml", "--config", "cfg.yaml")
    assert "cfg.yaml" in out and "is a directory, not a file" in out, out


def test_provider_setting_errors_name_the_config_line(setup: Path, fake_server, cli) -> None:
    text = two_variant_config(fake_server.url).replace("base_url:", "bse_url:")
    write(setup / "evalkit.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "bse_url" in t)
    assert f"evalkit.yaml:{line}: providers.api: bse_url: unknown key 'bse_url'" in out


def test_a_base_url_without_a_scheme_names_the_config_line(setup: Path, fake_server, cli) -> None:
    text = two_variant_config(fake_server.url).replace(
        f"base_url: {fake_server.url}", "base_url: localhost:8000/v1"
    )
    write(setup / "evalkit.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "localhost:8000" in t)
    assert f"evalkit.yaml:{line}: providers.api: base_url:" in out and "http://" in out


def test_a_provider_setting_of_the_wrong_shape_names_its_key_not_pydantics_union(
    setup: Path, fake_server, cli
) -> None:
    text = two_variant_config(fake_server.url) + "  canned: {provider: script}\n"
    text = text.replace("providers:\n", "providers:\n  script: {type: scripted, answers: 5}\n")
    write(setup / "evalkit.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml", "--variant", "canned")
    assert "evalkit.yaml:2: providers.script: answers: Input should be a valid list" in out
    assert "union[" not in out


@pytest.mark.parametrize(
    "content", ["{{ 9**(9**9) }}", "{{ 'x' * 10**10 }}", "{% for i in range(99999) %}{{ i }}{% endfor %}"]
)
def test_a_case_files_own_messages_only_substitute_variables(setup: Path, content: str) -> None:
    """A JSONL case's `messages` are data: `{{ 9**(9**9) }}` hung `validate`, `'x' * 10**10`
    asked for 10 GB. They may only put variables in (exit 2 naming the case, at once)."""
    write(setup / "suites" / "qa.yaml", HOSTILE_SUITE_HEAD + "cases: cases.jsonl\n")
    line = {
        "id": "bomb",
        "reference": "x",
        "vars": {"q": "x"},
        "messages": [{"role": "user", "content": f"{content} {{{{ q }}}}"}],
    }
    fine = {
        "id": "ok",
        "reference": "x",
        "vars": {"q": "x", "row": {"a": "b"}},
        "messages": [{"role": "user", "content": "{{ q }} {{ row.a }}"}],
    }
    write(setup / "suites" / "cases.jsonl", f"{json.dumps(fine)}\n{json.dumps(line)}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "evalkit", "validate", "suites/qa.yaml"],
        capture_output=True,
        text=True,
        cwd=setup,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "case 'bomb'" in proc.stderr and "may only substitute variables" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unknown_case_key_lists_the_case_keys(setup: Path, fake_server, cli) -> None:
    """`cases.0.tools: unknown key 'tools' (known: config_name, dataset, fields, ...)` named the
    dataset source's keys; a case's own keys are the ones to list."""
    write(
        setup / "suites" / "qa.yaml",
        HOSTILE_SUITE_HEAD + "cases:\n  - {id: a, vars: {q: x}, reference: x, zzz: []}\n",
    )
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "cases.0.zzz: unknown key 'zzz'" in out and "qa.yaml:5" in out
    assert "dataset" not in out and "config_name" not in out  # the source's keys are not the case's
    write(
        setup / "suites" / "qa.yaml", HOSTILE_SUITE_HEAD + "cases:\n  - {id: a, vars: {q: x}, refrence: x}\n"
    )
    assert "did you mean 'reference'?" in run_bad(cli, setup, fake_server, "suites/qa.yaml")


@pytest.mark.parametrize(
    ("provider", "url"),
    [
        ("type: openai\n    base_url: http://127.0.0.1:99999/v1", "port out of range"),
        ("type: openai\n    base_url: 'http://127.0.0.1:abc/v1'", "could not be cast"),
        ("type: openai\n    base_url: 'localhost:8000/v1'", "not an http(s) url"),
        ("type: openai\n    preset: azure\n    azure_endpoint: 'http://[::1'\n    deployment: d", "ipv6"),
        ("type: anthropic\n    base_url: http://127.0.0.1:70000", "port out of range"),
        ("type: gemini\n    base_url: 'http://[::1'", "ipv6"),
        (
            "type: bedrock\n    region: us-east-1\n    endpoint_url: http://127.0.0.1:99999",
            "port out of range",
        ),
    ],
)
def test_a_malformed_server_url_is_refused_with_its_line(
    setup: Path, fake_server, cli, provider: str, url: str
) -> None:
    """A base_url / endpoint_url with a port out of range or a bad host raised ValueError from
    urllib while the providers were built: a traceback and exit 1 instead of a line of the file."""
    text = two_variant_config(fake_server.url)
    start = text.index("type: openai")
    text = text[:start] + provider + text[text.index("\n    model:", start) :]
    write(setup / "evalkit.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "evalkit.yaml:" in out and "providers.api" in out and url in out.lower(), out


def test_a_lone_surrogate_in_a_case_id_is_written_as_valid_utf8(setup: Path, fake_server, cli) -> None:
    """JSON allows `\\ud800`: a case id holding one was written to cases.jsonl as invalid UTF-8
    (surrogatepass), so concluding the run died on a UnicodeDecodeError traceback; the id is
    written as results.jsonl writes it (U+FFFD), and a resume answers no case twice."""
    write(setup / "suites" / "qa.yaml", HOSTILE_SUITE_HEAD + "cases: cases.jsonl\n")
    rows = (
        '{"id": "x\\ud800y", "vars": {"question": "a\\udfffb"}, "reference": "r"}\n'
        '{"id": "ok", "vars": {"question": "q"}, "reference": "r"}\n'
    )
    (setup / "suites" / "cases.jsonl").write_text(rows, encoding="utf-8")
    result = cli("run", "suites/qa.yaml", "--no-history", "--out", "out")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and result.exit_code == 0, result.output
    run = setup / "out"
    for name in ("cases.jsonl", "results.jsonl", "report.html", "junit.xml", "summary.md"):
        (run / name).read_bytes().decode("utf-8")  # valid UTF-8 everywhere
    ids = sorted(json.loads(line)["case_id"] for line in (run / "results.jsonl").read_text().splitlines())
    assert ids == ["ok", "ok", "x\ufffdy", "x\ufffdy"]
    sent = len(fake_server.requests)
    resumed = cli("run", "--resume", "out", "--no-history")
    assert resumed.exit_code == 0, resumed.output
    assert len(fake_server.requests) == sent  # nothing asked again
    assert len((run / "results.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize(
    "header",
    [
        "Authorization",
        "proxy-authorization",
        "api-key",
        "X-API-Key",
        "x-goog-api-key",
        "Cookie",
        "X-Auth-Token",
    ],
)
def test_a_credential_in_headers_is_refused_pointing_to_headers_env(
    setup: Path, fake_server, cli, header: str
) -> None:
    """`headers:` are non-secret and copied into run.json's config snapshot: a credential there
    passed validate and landed in the run directory."""
    text = two_variant_config(fake_server.url, f'headers: {{{header}: "Bearer sk-SECRET-123456"}}')
    write(setup / "evalkit.yaml", text)
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "headers:" in t)
    assert f"evalkit.yaml:{line}: providers.api: headers:" in out and "headers_env" in out, out
    assert "sk-SECRET" not in out and not list(setup.rglob("run.json"))
    bad = cli("validate", "suites/qa.yaml")
    assert bad.exit_code == 2 and "headers_env" in bad.output
    write(setup / "evalkit.yaml", two_variant_config(fake_server.url, "headers: {X-Team: evals}"))
    assert cli("validate", "suites/qa.yaml").exit_code == 0


@pytest.mark.parametrize(
    "auth",
    [
        "api_key_env: FAKE_KEY",
        "headers_env: {authorization: FAKE_KEY}",
    ],
)
def test_credentials_in_base_url_and_an_api_key_are_refused_without_the_password(
    setup: Path, fake_server, cli, monkeypatch: pytest.MonkeyPatch, auth: str
) -> None:
    """aiohttp sends a base_url's user:password@ as the Authorization header and refused every
    request that also had the key's: one 'could not read the response' error per case."""
    monkeypatch.setenv("FAKE_KEY", "sk-key-0123456789")
    url = fake_server.url.replace("http://", "http://user:sk-SECRET-pw-42@")
    write(setup / "evalkit.yaml", two_variant_config(url, auth))
    out = run_bad(cli, setup, fake_server, "suites/qa.yaml")
    assert "evalkit.yaml:2: providers.api: " in out and "both cannot be sent" in out, out
    assert "sk-SECRET" not in out and "sk-key" not in out
    write(setup / "evalkit.yaml", two_variant_config(url))  # user:password@ alone is Basic auth
    assert cli("validate", "suites/qa.yaml").exit_code == 0


@pytest.mark.parametrize("text", ["", "# providers: to come\n\n", "---\n"])
def test_an_empty_config_is_refused_not_replaced_by_the_smoke_suite(
    setup: Path, fake_server, cli, text: str
) -> None:
    """An empty evalkit.yaml ran the bundled smoke suite on the embedded model and exited 0."""
    write(setup / "evalkit.yaml", text)
    out = run_bad(cli, setup, fake_server)
    assert "evalkit.yaml:1: the config is empty" in out, out
    assert not (setup / "reports").exists() and not list(setup.rglob("run.json"))
    assert cli("validate").exit_code == 2


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (["history"], "--url"),
        (["history"], "EVALKIT_HISTORY_URL"),
        (["history", "report", "--out", "trend.html"], "--url"),
        (["history", "check"], "--url"),
        (["export", "--history", "--out", "h.csv"], "EVALKIT_HISTORY_URL"),
    ],
)
def test_a_reading_command_given_a_missing_history_creates_nothing(
    setup: Path, cli, monkeypatch: pytest.MonkeyPatch, command: list[str], named: str
) -> None:
    """`history --url sqlite:////nowhere/x.sqlite` made the folders and an empty 60 KB database
    and said 'no runs recorded (yet)', exit 0: a typo'd path looked like an empty history."""
    missing = setup / "nowhere" / "deeper" / "x.sqlite"
    url = f"sqlite:///{missing}"
    if named == "--url":
        result = cli(*command, "--url", url)
    else:
        monkeypatch.setenv("EVALKIT_HISTORY_URL", url)
        result = cli(*command)
    assert result.exit_code == 2, result.output
    assert f"no history database at {missing}" in " ".join(result.output.split())
    assert "Traceback" not in result.output and not (setup / "nowhere").exists()


def test_a_sqlite_history_url_argument_the_driver_ignores_is_an_error(setup: Path, cli) -> None:
    """`?key=...` printed SQLAlchemy's SAWarning with an internal source line, and the key's
    value did nothing."""
    url = f"sqlite:///{setup / 'h.sqlite'}?key=sk-SECRET-0123456789"
    for command in (["history"], ["history", "report", "--out", "t.html"]):
        result = cli(*command, "--url", url)
        out = " ".join(result.output.split())
        assert result.exit_code == 2, out
        assert "Query string argument(s) 'key' are not accepted by the pysqlite driver" in out
        assert "sk-SECRET" not in out and "SAWarning" not in out and "Traceback" not in out
    assert not (setup / "h.sqlite").exists()
    taken = cli("history", "--url", f"sqlite:///{setup / 'h.sqlite'}?timeout=3")  # one it takes
    assert "no history database at" in taken.output and "Query string" not in taken.output
