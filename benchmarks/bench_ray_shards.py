"""Beyond one machine, measured side by side in one run:

ray       the embedded model via `transformers`: in process, 1 Ray replica, 2 Ray replicas
          (throughput in requests/s; ratios: Ray overhead = 1 replica / in process, and
          2 replicas / 1 replica - on a 2-core machine expect little gain: both share the cores)
merge     `evalkit merge` of 4 shards of a 40,000-line run (wall time; the shards are real
          `evalkit run --shard I/4` runs against the fake OpenAI server)

  python benchmarks/bench_ray_shards.py                      # both, on this machine
  python benchmarks/bench_ray_shards.py ray --prompts 64     # only the Ray part
  RAY_ADDRESS=auto python benchmarks/bench_ray_shards.py ray --replicas 8 --model /models/X --device cuda
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, fake_server, write_suite

TOPICS = ["rivers", "bees", "the moon", "bread", "chess", "rain", "glass", "owls"]


def requests(n: int, max_tokens: int) -> list[Any]:
    from evalkit.types import GenerationParams, Message, Request

    return [
        Request(
            key=f"b/c{i}/v/0",
            suite="b",
            case_id=f"c{i}",
            variant="v",
            repeat=0,
            messages=(
                Message(role="user", content=f"Fact {i} about {TOPICS[i % 8]}" + ", please" * (i % 5)),
            ),
            params=GenerationParams(max_tokens=max_tokens),
        )
        for i in range(n)
    ]


def _throughput(provider: Any, reqs: list[Any]) -> float:
    asyncio.run(provider.start())
    asyncio.run(provider.generate(reqs[:2], lambda r, c: None))  # warm-up
    t0 = time.perf_counter()
    done = asyncio.run(provider.generate(reqs, lambda r, c: None))
    elapsed = time.perf_counter() - t0
    assert all(c.error is None for c in done), [c.error for c in done if c.error][:1]
    return len(reqs) / elapsed


def bench_ray(args: argparse.Namespace) -> None:
    import ray

    from evalkit.providers.ray_replicas import RayReplicas
    from evalkit.providers.transformers_local import TransformersProvider, TransformersSettings

    settings = TransformersSettings(model_path=args.model, device=args.device, batch_size=args.batch_size)
    reqs = requests(args.prompts, args.max_tokens)
    rates: dict[str, float] = {}
    import torch

    local = TransformersProvider("local", settings)
    rates[f"in process, {torch.get_num_threads()} threads"] = _throughput(local, reqs)
    torch.set_num_threads(1)  # what a Ray actor with num_cpus=1 gets (Ray sets OMP_NUM_THREADS=1)
    rates["in process, 1 thread"] = _throughput(local, reqs)
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        opts = {} if address else {"_node_ip_address": "127.0.0.1"}  # a local cluster: this machine only
        ray.init(address=address, include_dashboard=False, log_to_driver=False, **opts)
    for n in sorted({1, args.replicas}):
        replicas = RayReplicas(TransformersProvider("local", settings), n)
        try:
            rates[f"{n} Ray replica(s)"] = _throughput(replicas, reqs)
        finally:
            asyncio.run(replicas.aclose())
    rates["in process, 1 thread (again)"] = _throughput(local, reqs)  # the busy machine's drift
    print(
        f"\n{args.prompts} prompts, {args.max_tokens} new tokens, batch {args.batch_size}, {os.cpu_count()} cores"
    )
    for name, rate in rates.items():
        print(f"  {name:<30} {rate:8.2f} requests/s")
    one = rates["1 Ray replica(s)"]
    same = (rates["in process, 1 thread"] + rates["in process, 1 thread (again)"]) / 2
    print(f"  Ray overhead (1 replica / in process, 1 thread): {one / same:.2f}x")
    if args.replicas > 1:
        print(
            f"  {args.replicas} replicas / 1 replica:            {rates[f'{args.replicas} Ray replica(s)'] / one:.2f}x"
        )


def evalkit(cwd: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(proc.stdout[-2000:] + proc.stderr[-2000:])


def bench_merge(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-merge-") as tmp, fake_server() as url:
        work = Path(tmp)
        write_suite(work, args.lines // 4, scorers="[exact]")
        (work / "evalkit.yaml").write_text(
            f"providers:\n  api: {{type: openai, base_url: '{url}', model: m, concurrency: 64}}\n"
            "cache: {enabled: false}\nhistory: {enabled: false}\n"
        )
        t0 = time.perf_counter()
        for i in range(1, 5):
            evalkit(
                work,
                "run",
                "suite.yaml",
                "--repeats",
                "4",
                "--shard",
                f"{i}/4",
                "--out",
                f"s{i}",
                "--no-baseline",
            )
        shards_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        evalkit(work, "merge", "s1", "s2", "s3", "s4", "--out", "merged", "--no-baseline")
        merge_s = time.perf_counter() - t0
        n = sum(1 for _ in (work / "merged" / "results.jsonl").open())
    print(f"\nmerge: 4 shards, {n:,} result lines")
    print(f"  running the 4 shards (sequentially): {shards_s:8.1f} s")
    print(f"  evalkit merge (whole command):       {merge_s:8.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", nargs="?", choices=("ray", "merge", "all"), default="all")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--model", default=None, help="a local model folder (default: the embedded model)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--lines", type=int, default=40_000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("EVALKIT_MODELS_DIR", str(Path.home() / ".cache" / "evalkit" / "models"))
    os.environ.setdefault("EVALKIT_CACHE_DIR", tempfile.mkdtemp(prefix="evalkit-bench-cache-"))
    sys.path.insert(0, str(ROOT))
    if args.what in ("ray", "all"):
        bench_ray(args)
    if args.what in ("merge", "all"):
        bench_merge(args)


if __name__ == "__main__":
    main()
