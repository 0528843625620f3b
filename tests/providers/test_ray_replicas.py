"""Ray replicas on a real local Ray cluster (CPU): two replicas of the embedded model give the
outputs of one in-process provider, stream each chunk back, survive a replica killed mid-run,
and each replica is given its own device."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from evalkit.providers.ray_replicas import RayReplicas, balanced_chunks
from evalkit.providers.transformers_local import TransformersProvider, TransformersSettings
from evalkit.types import GenerationParams, Message, Request
from tests.conftest import write


def req(i: int, text: str) -> Request:
    return Request(
        key=f"s/c{i}/v/0",
        suite="s",
        case_id=f"c{i}",
        variant="v",
        repeat=0,
        messages=(Message(role="user", content=text),),
        params=GenerationParams(max_tokens=6),
    )


REQUESTS = [req(i, q) for i, q in enumerate(["Name a colour.", "2+2=?", "Say hi.", "Capital of France?"] * 2)]
SETTINGS = TransformersSettings(batch_size=1)  # one row per forward pass: greedy outputs are exact


def generate(provider: Any, requests: list[Request], on_each: Any = None) -> dict[str, list[str | None]]:
    seen: dict[str, list[str | None]] = {}

    async def consume() -> None:
        async for request, completion in provider.generate(requests):
            seen.setdefault(request.key, []).append(completion.text)
            if on_each is not None:
                on_each(len(seen))

    asyncio.run(consume())
    return seen


@pytest.mark.slow
def test_two_replicas_equal_one_in_process_and_survive_a_kill(ray_cluster: Any) -> None:
    local = TransformersProvider("local", SETTINGS)
    local.load()
    want = generate(local, REQUESTS)
    replicas = RayReplicas(TransformersProvider("local", SETTINGS), 2)
    replicas.check()
    try:
        assert generate(replicas, REQUESTS) == want  # every key once, the same greedy text
        assert sorted(d["gpu_ids"][0] for d in replicas.devices) == ["0", "1"]  # one device each
        assert len({d["pid"] for d in replicas.devices}) == 2

        victim = replicas.actors[1]

        def kill_after_first(n: int) -> None:
            if n == 1:
                ray_cluster.kill(victim, no_restart=True)

        survived = generate(replicas, REQUESTS, kill_after_first)
        assert survived == want  # nothing lost, nothing twice
        assert [e["event"] for e in replicas.events] == ["replica died"]
        assert replicas.events[0]["replica"] == 1 and replicas.events[0]["requeued"] >= 1
        assert replicas.describe()["events"] == replicas.events  # run.json gets them
    finally:
        asyncio.run(replicas.aclose())


def test_each_replica_gets_its_own_device(ray_cluster: Any) -> None:
    replicas = RayReplicas(TransformersProvider("local", SETTINGS), 2)
    try:
        replicas._start_actors()  # the actors, without loading any model
        devices = ray_cluster.get([a.device.remote() for a in replicas.actors])
        assert replicas.gpus_per_replica == 1
        assert sorted(d["cuda_visible_devices"] for d in devices) == ["0", "1"]
    finally:
        asyncio.run(replicas.aclose())


def test_chunks_longest_first_and_small_enough_to_share() -> None:
    reqs = [req(i, "x" * (i % 7 + 1)) for i in range(40)]
    chunks = balanced_chunks(reqs, 2, 8)
    assert sorted(r.key for c in chunks for r in c) == sorted(r.key for r in reqs)
    lengths = [len(r.messages[0].content) for c in chunks for r in c]
    assert lengths == sorted(lengths, reverse=True)
    assert len(chunks) >= 8 and max(map(len, chunks)) == 5


def test_without_ray_replicas_stop_with_an_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from evalkit.cli.app import app

    write(
        tmp_path / "s.yaml",
        "name: s\nprompt: '{{ q }}'\nscorers: [exact]\ncases:\n  - {id: a, vars: {q: hi}, reference: x}\n",
    )
    write(tmp_path / "evalkit.yaml", "providers:\n  local: {type: transformers, replicas: 2}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    out = CliRunner().invoke(app, ["run", "s.yaml", "--out", "r"])
    assert out.exit_code == 2 and "pip install 'evalkit[ray]'" in out.output, out.output
    assert not (tmp_path / "r" / "results.jsonl").exists()
    write(tmp_path / "evalkit.yaml", "providers:\n  api: {type: openai, model: m, replicas: 2}\n")
    out = CliRunner().invoke(app, ["run", "s.yaml", "--out", "r"])
    assert out.exit_code == 2 and "only local engines" in out.output, out.output
