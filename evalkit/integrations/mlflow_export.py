"""`evalkit export RUN_DIR --mlflow`: a run in an MLflow tracking server, through MLflow's REST API
(`/api/2.0/mlflow/...` and the artifact proxy `/api/2.0/mlflow-artifacts/...`).

The REST API rather than the `mlflow` client: mlflow-skinny requires importlib-metadata < 10,
which the tested set (constraints.txt) cannot hold, and the calls are six documented endpoints.

One parent MLflow run per evalkit run (tags: status, exit code, regressions; artifacts:
report.html, summary.md, summary.json, diff.json) and one child run per suite × variant
(params: suite, variant, provider, models, prompt digest; metrics: each score's mean and 95% CI,
pass rate, errors, latency percentiles, cost; tags: the gate's verdict). Credentials come from
MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (basic),
never from a file, and appear in no message."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit._util import secrets
from evalkit.compare.aggregate import GroupSummary, Summary
from evalkit.rundir.dir import DIFF, REPORT, SUMMARY, SUMMARY_MD, RunDir

TIMEOUT_S = 10.0
BATCH = 1000  # MLflow's limit of metrics per log-batch request
ARTIFACTS = (REPORT, SUMMARY_MD, SUMMARY, DIFF)


class MlflowError(Exception):
    pass


@dataclass(frozen=True)
class Exported:
    experiment_id: str
    parent_run_id: str
    runs: int
    metrics: int
    artifacts: int


class Client:
    """The few MLflow REST calls evalkit makes, with a bounded timeout and no secret in errors."""

    def __init__(self, uri: str):
        if not uri.startswith(("http://", "https://")):
            raise MlflowError(f"the tracking URI must be an http(s) server, not {secrets.redact_url(uri)}")
        self.uri = uri.rstrip("/")
        self.shown = secrets.redact_url(self.uri)
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = (
            os.environ.get("MLFLOW_TRACKING_USERNAME"),
            os.environ.get("MLFLOW_TRACKING_PASSWORD"),
        )
        self._auth = f"Bearer {token}" if token else None
        if user and password and not token:
            self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(self, method: str, path: str, payload: Any = None, *, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
        request = urllib.request.Request(self.uri + path, data=data, method=method)
        if self._auth:
            request.add_header("Authorization", self._auth)
        request.add_header(
            "Content-Type", "application/octet-stream" if raw is not None else "application/json"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = _error_code(exc)
            raise MlflowError(f"{method} {path.split('?')[0]}: HTTP {exc.code}{detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MlflowError(f"{self.shown}: {type(reason).__name__}: {reason}") from None
        return json.loads(body) if body else {}


def _error_code(exc: urllib.error.HTTPError) -> str:
    try:
        code = json.loads(exc.read() or b"{}").get("error_code")
    except (ValueError, OSError):
        return ""
    return f" {code}" if code else ""


def experiment_id(client: Client, name: str) -> str:
    try:
        got = client.call(
            "GET",
            "/api/2.0/mlflow/experiments/get-by-name?" + urllib.parse.urlencode({"experiment_name": name}),
        )
        return str(got["experiment"]["experiment_id"])
    except MlflowError as exc:
        if "RESOURCE_DOES_NOT_EXIST" not in str(exc):
            raise
    return str(client.call("POST", "/api/2.0/mlflow/experiments/create", {"name": name})["experiment_id"])


def _tags(values: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)[:5000]} for k, v in values.items() if v is not None]


def _create_run(client: Client, exp: str, name: str, started_ms: int, tags: dict[str, Any]) -> dict[str, Any]:
    payload = {"experiment_id": exp, "run_name": name, "start_time": started_ms, "tags": _tags(tags)}
    return dict(client.call("POST", "/api/2.0/mlflow/runs/create", payload)["run"]["info"])


def _log(client: Client, run_id: str, metrics: dict[str, float], params: dict[str, Any], now_ms: int) -> None:
    rows = [{"key": k, "value": v, "timestamp": now_ms, "step": 0} for k, v in metrics.items()]
    plist = [{"key": k, "value": str(v)[:6000]} for k, v in params.items() if v is not None]
    for start in range(0, max(len(rows), 1), BATCH):
        batch = {"run_id": run_id, "metrics": rows[start : start + BATCH]}
        if start == 0:
            batch["params"] = plist
        client.call("POST", "/api/2.0/mlflow/runs/log-batch", batch)


def _finish(client: Client, run_id: str, failed: bool, now_ms: int) -> None:
    payload = {"run_id": run_id, "status": "FAILED" if failed else "FINISHED", "end_time": now_ms}
    client.call("POST", "/api/2.0/mlflow/runs/update", payload)


def group_metrics(g: GroupSummary) -> dict[str, float]:
    """Every figure of a suite × variant as an MLflow metric (unmeasured ones left out)."""
    out: dict[str, float | None] = {
        "pass_rate": g.pass_rate,
        "errors": float(g.errors),
        "error_rate": g.error_rate,
        "results": float(g.results),
        "latency_p50_ms": g.latency.p50_ms,
        "latency_p95_ms": g.latency.p95_ms,
        "cost_usd": g.cost_usd,
        "cost_per_case_usd": g.cost_per_case_usd,
        "tokens_input": float(g.tokens.input),
        "tokens_output": float(g.tokens.output),
    }
    if g.pass_rate_ci is not None:
        out["pass_rate_ci_low"], out["pass_rate_ci_high"] = g.pass_rate_ci
    for name, m in g.metrics.items():
        out[f"{name}_mean"], out[f"{name}_ci_low"], out[f"{name}_ci_high"] = m.mean, m.ci_low, m.ci_high
    for name, value in g.corpus.items():
        out[name] = value
    return {_key(k): float(v) for k, v in out.items() if v is not None}


def _key(name: str) -> str:
    """MLflow keys allow letters, digits, _ - . space / only."""
    return "".join(c if c.isalnum() or c in "_-. /" else "_" for c in name)[:250]


def prompt_digests(run_dir: Path) -> dict[tuple[str, str], str]:
    """Per suite × variant: a digest of every prompt it sent (the results' input hashes)."""
    hashes: dict[tuple[str, str], set[str]] = {}
    for r in RunDir(run_dir).results():
        hashes.setdefault((r.suite, r.variant), set()).add(r.input_hash or "")
    return {k: hashlib.sha256("\n".join(sorted(v)).encode()).hexdigest()[:16] for k, v in hashes.items()}


def _verdicts(run_dir: Path) -> dict[tuple[str, str], str]:
    diff = RunDir(run_dir).diff_data() or {}
    return {(g["suite"], g["variant"]): str(g.get("verdict")) for g in diff.get("groups", [])}


def _artifacts(run_dir: Path) -> Iterator[Path]:
    for name in ARTIFACTS:
        if (run_dir / name).is_file():
            yield run_dir / name


def _upload(client: Client, info: dict[str, Any], path: Path) -> None:
    uri = str(info.get("artifact_uri", ""))
    if not uri.startswith("mlflow-artifacts:"):
        raise MlflowError(
            f"the server stores artifacts at {uri.split(':')[0]}: start it with --serve-artifacts"
        )
    where = uri.removeprefix("mlflow-artifacts:").lstrip("/")
    client.call(
        "PUT",
        f"/api/2.0/mlflow-artifacts/artifacts/{urllib.parse.quote(where)}/{path.name}",
        raw=path.read_bytes(),
    )


def export_run(run_dir: Path, *, tracking_uri: str | None = None, experiment: str = "evalkit") -> Exported:
    """Log a finished run: a parent MLflow run with the artifacts and the verdict, a child per
    suite × variant with its params and metrics. Raises MlflowError (one line, no secret)."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise MlflowError("no tracking server: pass --mlflow-uri or set MLFLOW_TRACKING_URI")
    rd = RunDir(run_dir)
    raw = rd.summary_data()
    if raw is None:
        raise MlflowError(f"{run_dir}: no summary.json (run `evalkit score` on it first)")
    summary = Summary.model_validate(raw)
    info = rd.info_or_none()  # through the migrations
    client = Client(uri)
    exp = experiment_id(client, experiment)
    now = int(time.time() * 1000)
    parent = _create_run(
        client,
        exp,
        summary.run_id,
        now,
        {
            "evalkit.run_id": summary.run_id,
            "evalkit.status": summary.status,
            "evalkit.exit_code": summary.exit_code,
            "evalkit.regressions": "; ".join(summary.regressions) or "none",
            "evalkit.git_sha": info.git_sha if info is not None else None,
        },
    )
    parent_id = str(parent["run_id"])
    _log(client, parent_id, {"results": float(summary.results), "errors": float(summary.errors)}, {}, now)
    digests, verdicts = prompt_digests(run_dir), _verdicts(run_dir)
    n_metrics = 2
    for g in summary.groups:
        key = (g.suite, g.variant)
        child = _create_run(
            client,
            exp,
            f"{g.suite} · {g.variant}",
            now,
            {
                "mlflow.parentRunId": parent_id,
                "evalkit.run_id": summary.run_id,
                "evalkit.verdict": verdicts.get(key, "not gated"),
            },
        )
        metrics = group_metrics(g)
        params = {
            "suite": g.suite,
            "variant": g.variant,
            "provider": g.provider,
            "model": ", ".join(g.models),
            "prompt_digest": digests.get(key),
        }
        _log(client, str(child["run_id"]), metrics, params, now)
        _finish(client, str(child["run_id"]), False, now)
        n_metrics += len(metrics)
    uploaded = 0
    for path in _artifacts(run_dir):
        _upload(client, parent, path)
        uploaded += 1
    # FAILED is MLflow's word for a run that broke, not for a verdict (that is the tag)
    _finish(client, parent_id, summary.status in ("errors", "interrupted"), int(time.time() * 1000))
    return Exported(exp, parent_id, 1 + len(summary.groups), n_metrics, uploaded)
