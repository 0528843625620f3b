"""`evalkit export RUN --mlflow` against a real `mlflow server` (SQLite backend, proxied
artifacts) started by the test on 127.0.0.1; what arrived is read back with MLflow's own client."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integrations.conftest import N_CASES, MlflowServer, bless, scripted_config, suite_yaml

TOKEN = "mlflow-token-7c1e9a4b2d"

READ_BACK = """
import json
from mlflow.tracking import MlflowClient
c = MlflowClient()
exp = c.get_experiment_by_name("team-evals")
runs = c.search_runs([exp.experiment_id])
out = {}
for r in runs:
    arts = [a.path for a in c.list_artifacts(r.info.run_id)]
    summary = None
    if "summary.md" in arts:
        summary = open(c.download_artifacts(r.info.run_id, "summary.md")).read()
    out[r.info.run_name] = {"params": r.data.params, "metrics": r.data.metrics, "tags": r.data.tags,
                            "status": r.info.status, "artifacts": sorted(arts), "summary": summary}
print(json.dumps(out))
"""


def test_a_run_lands_in_mlflow_with_params_metrics_artifacts_and_verdict(
    workdir: Path, cli: Any, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "suites").mkdir()
    (workdir / "suites" / "qa.yaml").write_text(suite_yaml())
    (workdir / "evalkit.yaml").write_text(scripted_config())
    bless(workdir)
    (workdir / "evalkit.yaml").write_text(scripted_config(wrong=set(range(0, N_CASES, 2))))
    assert cli("run", "suites", "--out", "run").exit_code == 1  # regressed
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    got = cli("export", "run", "--mlflow", "--mlflow-uri", mlflow_server.url, "--experiment", "team-evals")
    assert got.exit_code == 0, got.output
    assert "2 run(s)" in got.output and TOKEN not in got.output
    runs = mlflow_server.query(READ_BACK)
    summary = json.loads((workdir / "run" / "summary.json").read_text())
    parent = runs[summary["run_id"]]
    assert parent["tags"]["evalkit.status"] == "regressed" and parent["tags"]["evalkit.exit_code"] == "1"
    assert parent["tags"]["evalkit.regressions"] == "qa · base · exact"
    assert parent["artifacts"] == ["diff.json", "report.html", "summary.json", "summary.md"]
    assert parent["summary"] == (workdir / "run" / "summary.md").read_text()
    child = runs["qa · base"]
    assert child["tags"]["mlflow.parentRunId"]  # nested under the run
    assert child["tags"]["evalkit.verdict"] == "regressed" and child["status"] == "FINISHED"
    assert child["params"]["suite"] == "qa" and child["params"]["variant"] == "base"
    assert child["params"]["provider"] == "canned" and len(child["params"]["prompt_digest"]) == 16
    group = summary["groups"][0]
    exact = group["metrics"]["exact"]
    assert child["metrics"]["exact_mean"] == pytest.approx(exact["mean"]) == 0.5
    assert child["metrics"]["exact_ci_low"] == pytest.approx(exact["ci_low"])
    assert child["metrics"]["exact_ci_high"] == pytest.approx(exact["ci_high"])
    assert child["metrics"]["pass_rate"] == pytest.approx(group["pass_rate"])
    assert child["metrics"]["latency_p95_ms"] == pytest.approx(group["latency"]["p95_ms"])
    assert TOKEN not in "".join(
        p.read_text(errors="replace") for p in (workdir / "run").iterdir() if p.is_file()
    )


def test_an_unreachable_server_is_one_warning_and_exit_1(workdir: Path, cli: Any) -> None:
    (workdir / "suites").mkdir()
    (workdir / "suites" / "qa.yaml").write_text(suite_yaml(n=2))
    (workdir / "evalkit.yaml").write_text(scripted_config())
    assert cli("run", "suites", "--out", "run", "--no-baseline").exit_code == 0
    started = time.perf_counter()
    got = cli("export", "run", "--mlflow", "--mlflow-uri", "http://user:secret-pw@127.0.0.1:9")
    assert got.exit_code == 1 and got.output.count("warning: MLflow: not exported") == 1
    assert "secret-pw" not in got.output and time.perf_counter() - started < 15
    nothing = cli("export", "run", "--mlflow")
    assert nothing.exit_code == 1 and "MLFLOW_TRACKING_URI" in " ".join(nothing.output.split())
