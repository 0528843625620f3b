"""pandas: evalkit.load_run and the history as DataFrames (a row per case × variant × repeat, a
column per score), and `evalkit export` to CSV and Parquet; none of it imported by the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.rundir.dir import RunDir
from tests.conftest import qa_suite_yaml, two_variant_config, write
from tests.fake_openai import FakeOpenAI


@pytest.fixture
def run_dir(workdir: Path, fake_server: FakeOpenAI, cli) -> Path:
    write(workdir / "qa.yaml", qa_suite_yaml(scorers="[exact, chrf]"))
    write(workdir / "evalkit.yaml", two_variant_config(fake_server.url))
    result = cli("run", "qa.yaml", "-o", "r", "--repeats", "2", "--no-baseline", "--no-cache")
    assert result.exit_code == 0, result.output
    return workdir / "r"


def test_load_run_is_one_row_per_case_variant_repeat(run_dir: Path) -> None:
    import evalkit

    frame = evalkit.load_run(run_dir)
    results = list(RunDir(run_dir).results())
    assert len(frame) == len(results) == 6 * 2 * 2
    assert list(frame.columns[:4]) == ["suite", "variant", "case_id", "repeat"]
    indexed = frame.set_index(["variant", "case_id", "repeat"])
    for r in results:
        row = indexed.loc[(r.variant, r.case_id, r.repeat)]
        assert row["exact"] == r.scores["exact"].value and row["chrf"] == pytest.approx(
            r.scores["chrf"].value
        )
        assert row["latency_ms"] == pytest.approx(r.latency_ms) and row["passed"] == r.passed()
        # issue 29.7: what the case was asked and answered travels with its scores
        assert row["output"] == r.output and json.loads(row["references"]) == list(r.references)
        assert row["prompt"] == r.messages[-1].content and json.loads(row["vars"])["question"]
    assert len(evalkit.load_run(run_dir, variant="bad")) == 12


def test_export_csv_and_parquet(run_dir: Path, cli) -> None:
    import pandas as pd

    import evalkit

    frame = evalkit.load_run(run_dir)
    for name in ("out.csv", "out.parquet"):
        result = cli("export", str(run_dir), "-o", name)
        assert result.exit_code == 0, result.output
        back = pd.read_csv(name) if name.endswith(".csv") else pd.read_parquet(name)
        assert back["output"].tolist() == frame["output"].tolist()
        assert back["vars"].tolist() == frame["vars"].tolist()
        assert back["chrf"].tolist() == pytest.approx(frame["chrf"].tolist())
        assert back["case_id"].tolist() == frame["case_id"].tolist()
    assert cli("export", str(run_dir), "-o", "out.xlsx").exit_code == 2
    assert cli("export", "-o", "x.csv").exit_code == 2  # neither a run nor --history

    history = cli("export", "--history", "--variant", "good", "-o", "h.parquet")
    assert history.exit_code == 0, history.output
    stored = pd.read_parquet("h.parquet")
    assert len(stored) == 12 and set(stored["variant"]) == {"good"} and "run_id" in stored.columns


def test_the_cli_imports_no_database_or_dataframe_library() -> None:
    code = (
        "import sys, evalkit; from evalkit.cli.app import app; "
        "print([m for m in ('pandas', 'sqlalchemy', 'alembic', 'pyarrow', 'scipy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_csv_export_cells_never_run_as_formulas(workdir: Path, fake_server: FakeOpenAI, cli) -> None:
    """model_version (the server's) and case ids (data) were written raw: `=HYPERLINK(...)`,
    `+cmd|...`, `@SUM(...)`. Every text cell a spreadsheet would evaluate gets the OWASP quote."""
    import csv

    ids = ["+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\t=1+1", "%0A=1", "plain"]
    cases = "\n".join(
        f"  - {{id: {json.dumps(i)}, vars: {{q: q{n}}}, reference: x}}" for n, i in enumerate(ids)
    )
    write(workdir / "s.yaml", f'name: s\nprompt: "{{{{ q }}}}"\nscorers: [exact]\ncases:\n{cases}\n')
    model = '=HYPERLINK("http://evil.example","x")'
    write(
        workdir / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: '{fake_server.url}', model: '{model}'}}\n",
    )
    assert cli("run", "s.yaml", "-o", "r", "--no-baseline").exit_code == 0
    assert cli("export", "r", "-o", "out.csv").exit_code == 0
    with open("out.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    dangerous = ("=", "+", "-", "@", "\t", "\r", "|", "%")
    for row in rows:
        assert not any(v.startswith(dangerous) for v in row.values()), row
    assert {r["case_id"] for r in rows} == {
        "'+cmd\\|' /C calc'!A0",
        "'@SUM(1+1)",
        "'-2+3",
        "'\t=1+1",
        "'%0A=1",
        "plain",
    }
    assert rows[0]["model_version"].startswith("'=HYPERLINK(") and rows[0]["exact"] in ("0.0", "1.0")
