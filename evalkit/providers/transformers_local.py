"""Local generation with Hugging Face transformers: batched (left padding), greedy by default.

`generate` runs a whole batch at once, so no row has a latency of its own: each result records
the batch's wall time as `batch_ms` and leaves `latency_ms` unmeasured."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit._util.heavy import IMPORT_LOCK, quiet_libraries
from evalkit.errors import UserInputError
from evalkit.providers import embedded, loglikelihood
from evalkit.providers.base import Provider
from evalkit.types import Completion, GenerationParams, Request, Usage

DEFAULT_MAX_NEW_TOKENS = 128


class TransformersSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    model_path: str | None = None  # a local model folder; None = the embedded SmolLM2-135M-Instruct
    device: str = "auto"  # auto: cuda when available, else cpu
    # weights' precision; auto: the model's own
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    batch_size: int = Field(default=8, ge=1)  # prompts generated together
    max_batch_tokens: int = Field(default=16384, ge=1)  # (prompt + new tokens) × rows per batch
    trust_remote_code: bool = False  # run code shipped with the model folder (only for models you trust)


class TransformersProvider(Provider[TransformersSettings]):
    """Local Hugging Face model (default: the embedded SmolLM2-135M-Instruct), batched."""

    settings_model = TransformersSettings
    extra = "local"
    operational_settings = frozenset({"batch_size", "max_batch_tokens"})
    batches = True  # batch_size and max_batch_tokens bound it, not a concurrency
    loglikelihood_contexts = frozenset({"plain", "chat"})

    def __init__(self, name: str, settings: TransformersSettings):
        super().__init__(name, settings)
        self._model: Any = None
        self._tokenizer: Any = None
        self._device: str = "cpu"
        self._version: str | None = None
        self._load_lock = threading.Lock()

    def check(self) -> None:
        for module, extra in (("torch", "local"), ("transformers", "local")):
            if importlib.util.find_spec(module) is None:
                raise UserInputError(f"provider '{self.name}' needs {module}: pip install 'evalkit[{extra}]'")
        if self.settings.model_path is None:
            embedded.gguf_path()
        elif not Path(self.settings.model_path).expanduser().is_dir():
            raise UserInputError(
                f"provider '{self.name}': model_path '{self.settings.model_path}' is not a folder"
            )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "transformers",
            "model_path": self.settings.model_path or "embedded:SmolLM2-135M-Instruct",
            "device": self.settings.device,
            "dtype": self.settings.dtype,
            "batch_size": self.settings.batch_size,
            "model_version": self._version,
        }

    def model_name(self, request: Request) -> str | None:
        return self.settings.model_path or "embedded:SmolLM2-135M-Instruct"

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        return {"type": "transformers", "model_version": self.model_version(), "dtype": self.settings.dtype}

    def model_version(self) -> str:
        """Identify the weights without loading them (the cache is consulted before any load)."""
        if self._version is None:
            if self.settings.model_path is None:
                self._version = embedded.ensure_converted()[1]
            else:
                self._version = folder_version(Path(self.settings.model_path).expanduser())
        return self._version

    async def start(self) -> None:
        await asyncio.to_thread(self.load)

    def load(self) -> None:
        """Load model and tokenizer once per process (thread-safe)."""
        with self._load_lock, IMPORT_LOCK:
            if self._model is not None:
                return
            quiet_libraries()
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            if self.settings.model_path is None:
                path, self._version = embedded.ensure_converted()
            else:
                path = Path(self.settings.model_path).expanduser()
                self.model_version()
            device = self.settings.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            dtype: Any = "auto" if self.settings.dtype == "auto" else getattr(torch, self.settings.dtype)
            if dtype == "auto" and device == "cpu":
                dtype = torch.float32  # half precision is slow or unsupported on most CPUs
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=self.settings.trust_remote_code)
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype=dtype, trust_remote_code=self.settings.trust_remote_code
            )
            model.to(device)
            model.eval()
            self._tokenizer, self._model, self._device = tokenizer, model, device

    async def generate(self, batch: Sequence[Request]) -> AsyncIterator[tuple[Request, Completion]]:
        await self.start()
        choice_requests = [r for r in batch if r.loglikelihood is not None]
        for start in range(0, len(choice_requests), self.settings.batch_size):
            rows = choice_requests[start : start + self.settings.batch_size]
            self.report(f"scoring choices {start + len(rows)}/{len(choice_requests)} on {self.name}")
            completions = await asyncio.to_thread(self._loglikelihood_rows, rows)
            for pair in zip(rows, completions, strict=True):
                yield pair
        planned = self.plan_batches([r for r in batch if r.loglikelihood is None])
        for k, rows in enumerate(planned, 1):
            self.report(f"generating batch {k}/{len(planned)} on {self.name}")
            completions = await asyncio.to_thread(self._generate_batch, rows)
            for pair in zip(rows, completions, strict=True):
                yield pair

    def plan_batches(self, requests: Sequence[Request]) -> list[list[Request]]:
        """Group identical sampling params, sort by prompt length, cut by rows and token budget."""
        groups: dict[str, list[tuple[int, Request]]] = {}
        for r in requests:
            length = len(self._prompt_ids(r))
            groups.setdefault(r.params.model_dump_json(), []).append((length, r))
        batches: list[list[Request]] = []
        for items in groups.values():
            items.sort(key=lambda pair: pair[0])
            current: list[Request] = []
            longest = 0
            for length, r in items:
                new_tokens = r.params.max_tokens or DEFAULT_MAX_NEW_TOKENS
                grown = max(longest, length) + new_tokens
                if current and (
                    len(current) >= self.settings.batch_size
                    or grown * (len(current) + 1) > self.settings.max_batch_tokens
                ):
                    batches.append(current)
                    current, longest = [], 0
                current.append(r)
                longest = max(longest, length)
            if current:
                batches.append(current)
        return batches

    def _prompt_ids(self, request: Request) -> list[int]:
        return chat_prompt_ids(self._tokenizer, request)

    def _generate_batch(self, batch: Sequence[Request]) -> list[Completion]:
        import torch

        tok, model = self._tokenizer, self._model
        params: GenerationParams = batch[0].params
        prompts = [
            tok.apply_chat_template(
                [m.model_dump() for m in r.messages], tokenize=False, add_generation_prompt=True
            )
            for r in batch
        ]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self._device)
        max_new = params.max_tokens or DEFAULT_MAX_NEW_TOKENS
        kwargs: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": tok.pad_token_id}
        if params.temperature:
            kwargs.update(do_sample=True, temperature=params.temperature)
            if params.top_p is not None:
                kwargs["top_p"] = params.top_p
            if params.seed is not None:
                torch.manual_seed(params.seed)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=tok)
        started = time.perf_counter()
        with torch.inference_mode():
            output = model.generate(**enc, **kwargs)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        prompt_len = enc["input_ids"].shape[1]
        eos_ids = _eos_ids(model, tok)
        completions = []
        for row, attention in zip(output, enc["attention_mask"], strict=True):
            generated = row[prompt_len:].tolist()
            n_out, hit_eos = len(generated), False
            for i, token in enumerate(generated):
                if token in eos_ids:
                    n_out, hit_eos = i + 1, True
                    break
            text = tok.decode(generated[:n_out], skip_special_tokens=True)
            finish = "stop" if hit_eos else "length"
            if params.stop:
                cut = [text.find(s) for s in params.stop if s in text]
                if cut:
                    text, finish = text[: min(cut)], "stop"
            completions.append(
                Completion(
                    text=text,
                    finish_reason=finish,
                    usage=Usage(input_tokens=int(attention.sum().item()), output_tokens=n_out),
                    batch_ms=elapsed_ms,  # one generate() call for the batch: no per-row latency
                    batch_size=len(batch),
                    model_version=self._version,
                )
            )
        return completions

    def _loglikelihood_rows(self, requests: Sequence[Request]) -> list[Completion]:
        """Every choice of these requests, in forward passes of at most `batch_size` rows
        (right-padded, as lm-evaluation-harness batches them): no generation."""
        pairs = loglikelihood.encode_requests(self._tokenizer, requests)
        started = time.perf_counter()
        figures = self._score_pairs([(ctx, cont) for _, ctx, cont in pairs])
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return loglikelihood.completions(requests, pairs, figures, elapsed_ms, self._version)

    def _score_pairs(self, pairs: Sequence[tuple[list[int], list[int]]]) -> list[tuple[float, bool]]:
        """(summed log-probability, greedy?) of each continuation after its context."""
        import torch

        model, size = self._model, self.settings.batch_size
        max_length = int(getattr(model.config, "max_position_embeddings", 2048))
        out: list[tuple[float, bool]] = []
        for start in range(0, len(pairs), size):
            chunk = pairs[start : start + size]
            inputs = [loglikelihood.window(ctx, cont, max_length) for ctx, cont in chunk]
            width = max(len(x) for x in inputs)
            ids = torch.zeros((len(inputs), width), dtype=torch.long)
            mask = torch.zeros((len(inputs), width), dtype=torch.long)
            for row, x in enumerate(inputs):
                ids[row, : len(x)] = torch.tensor(x)
                mask[row, : len(x)] = 1
            with torch.inference_mode():
                logits = model(input_ids=ids.to(self._device), attention_mask=mask.to(self._device)).logits
                logprobs = torch.log_softmax(logits.float(), dim=-1)
            for row, ((_, cont), x) in enumerate(zip(chunk, inputs, strict=True)):
                picked = logprobs[row, len(x) - len(cont) : len(x)]
                target = torch.tensor(cont, device=picked.device)
                greedy = bool((picked.argmax(dim=-1) == target).all())
                out.append((float(picked.gather(1, target.unsqueeze(-1)).sum()), greedy))
        return out


def chat_prompt_ids(tokenizer: Any, request: Request) -> list[int]:
    """The request's messages through the model's chat template, as token ids."""
    encoded: Any = tokenizer.apply_chat_template(
        [m.model_dump() for m in request.messages], tokenize=True, add_generation_prompt=True
    )
    if not isinstance(encoded, list):  # newer transformers return a BatchEncoding
        encoded = encoded["input_ids"]
    return list(encoded)


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    return ids


def folder_version(path: Path) -> str:
    """Identify a local model folder: its path plus a digest of its config and weight files' sizes."""
    digest = hashlib.sha256()
    for file in sorted(path.iterdir()):
        if file.suffix in (".json", ".safetensors", ".bin", ".model", ".gguf"):
            digest.update(file.name.encode())
            if file.suffix == ".json":
                digest.update(file.read_bytes())
            else:
                digest.update(str(file.stat().st_size).encode())
    config = path / "config.json"
    name = path.name
    if config.exists():
        name = json.loads(config.read_text()).get("_name_or_path") or name
    return f"{name} ({path}, sha256:{digest.hexdigest()[:12]})"
