"""Data-parallel local engines on Ray: a provider with `replicas: N` runs as N copies of itself,
one Ray actor each (`num_gpus` = its tensor-parallel size, so Ray picks and sets the devices).

The wrapper is a provider like any other, so the framework's cache, results writer and resume path
stay in front of it. Requests are cut into chunks of similar prompt length and handed out longest
first to whichever replica is free (replicas finish together); each chunk's completions stream
back to the driver the moment that chunk is done. A replica that dies has its unfinished chunk
re-queued on the others (nothing lost, nothing twice); the event lands in run.json (the
provider's `events`). It connects to the cluster at RAY_ADDRESS when set, else starts a local one.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import math
import os
from collections import deque
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from evalkit.errors import EngineStartError, UserInputError, first_line
from evalkit.providers.base import Provider
from evalkit.types import Completion, Request

INSTALL_HINT = "pip install 'evalkit[ray]'"
REPLICA_TYPES = ("transformers", "vllm")  # local engines: the ones worth a GPU each


class ReplicaWorker:
    """The body of one Ray actor: one engine (an ordinary provider instance) in its own process."""

    def __init__(self, cls: type[Provider[Any]], name: str, settings: BaseModel):
        self.provider = cls(name, settings)

    def start(self) -> dict[str, Any]:
        asyncio.run(self.provider.start())
        return self.device()

    def device(self) -> dict[str, Any]:
        import ray

        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id()[:12],
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        }

    def generate(self, requests: list[Request]) -> list[Completion]:
        async def collect() -> dict[str, Completion]:
            return {r.key: c async for r, c in self.provider.generate(requests)}

        by_key = asyncio.run(collect())
        missing = Completion(error="the replica returned no completion for this request")
        return [by_key.get(r.key, missing) for r in requests]


class RayReplicas(Provider[Any]):
    """`replicas: N` on a transformers or vllm provider: N engines as Ray actors."""

    batches = True

    def __init__(self, inner: Provider[Any], replicas: int):
        super().__init__(inner.name, inner.settings)
        self.inner = inner  # in this process: identity, cache keys and model names, never loaded
        self.replicas = replicas
        self.actors: list[Any] = []
        self.devices: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.gpus_per_replica = 0
        self._owns_ray = False

    settings_model = BaseModel  # never validated: the wrapped provider's settings are

    def check(self) -> None:
        if importlib.util.find_spec("ray") is None:
            raise UserInputError(
                f"provider '{self.name}' asks for replicas: {self.replicas}, which run on Ray: {INSTALL_HINT}"
            )
        self.inner.check()

    def describe(self) -> dict[str, Any]:
        return {
            **self.inner.describe(),
            "replicas": self.replicas,
            "gpus_per_replica": self.gpus_per_replica,
            "ray_address": os.environ.get("RAY_ADDRESS") or "local",
            "devices": self.devices,
            "events": self.events,
        }

    def price_vendor(self) -> str | None:
        return self.inner.price_vendor()

    def model_name(self, request: Request) -> str | None:
        return self.inner.model_name(request)

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        return self.inner.cache_identity(request)

    async def start(self) -> None:
        if self.actors:
            return
        await asyncio.to_thread(self._start_actors)
        starts = (_await(a.start.remote()) for a in self.actors)
        started = await asyncio.gather(*starts, return_exceptions=True)
        for i, outcome in enumerate(started):
            if isinstance(outcome, BaseException):
                logs = _ray_logs_dir()
                await self.aclose()
                raise EngineStartError(
                    f"{_start_failure(self.name, outcome)} (replica {i + 1} of {self.replicas}"
                    + (f"; its log is under {logs})" if logs else ")")
                ) from None
        self.devices = [d for d in started if isinstance(d, dict)]

    def _start_actors(self) -> None:
        import ray

        if not ray.is_initialized():
            address = os.environ.get("RAY_ADDRESS") or None
            local: dict[str, Any] = {} if address else {"_node_ip_address": "127.0.0.1"}  # this machine only
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                **local,
            )
            self._owns_ray = address is None
        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        self.gpus_per_replica = gpus_per_replica(self.inner, resources.get("GPU", 0))
        actor = ray.remote(ReplicaWorker).options(num_gpus=self.gpus_per_replica, num_cpus=1)
        settings, cls = self.inner.settings, type(self.inner)
        self.actors = [actor.remote(cls, self.name, settings) for _ in range(self.replicas)]

    async def generate(self, batch: Sequence[Request]) -> AsyncIterator[tuple[Request, Completion]]:
        await self.start()
        chunks = deque(balanced_chunks(batch, self.replicas, _chunk_size(self.inner)))
        idle = list(range(len(self.actors)))
        running: dict[asyncio.Future[list[Completion]], tuple[int, list[Request]]] = {}
        while chunks or running:
            while idle and chunks:
                i, chunk = idle.pop(0), chunks.popleft()
                running[asyncio.ensure_future(_await(self.actors[i].generate.remote(chunk)))] = (i, chunk)
            if not running:  # every replica is gone: the rest become error results
                lost = Completion(error="every Ray replica died before finishing this request")
                for request in (r for chunk in chunks for r in chunk):
                    yield request, lost
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                i, chunk = running.pop(future)
                completions = self._outcome(future, i, chunk, chunks)
                if completions is None:
                    continue  # replica i is dead; its chunk is queued again
                idle.append(i)
                for request, completion in zip(chunk, completions, strict=True):
                    yield request, completion

    def _outcome(
        self,
        future: asyncio.Future[list[Completion]],
        i: int,
        chunk: list[Request],
        queue: deque[list[Request]],
    ) -> list[Completion] | None:
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

        try:
            return future.result()
        except (RayActorError, ActorDiedError, ActorUnavailableError) as exc:
            queue.appendleft(chunk)
            self.events.append(
                {
                    "event": "replica died",
                    "replica": i,
                    "at": datetime.now(UTC).isoformat(),
                    "requeued": len(chunk),
                    "error": str(exc).splitlines()[0][:200],
                }
            )
            return None
        except Exception as exc:  # the engine failed on this chunk: error results, the replica lives
            failed = Completion(error=f"replica {i} failed: {type(exc).__name__}: {str(exc)[:200]}")
            return [failed] * len(chunk)

    async def aclose(self) -> None:
        if not self.actors:
            return
        import ray

        for actor in self.actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
        self.actors = []
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False


def _start_failure(name: str, failure: BaseException) -> str:
    """A replica's start failure in one line: the engine's own EngineStartError, or its cause."""
    cause = getattr(failure, "cause", None) or failure  # a RayTaskError carries the actor's exception
    if isinstance(cause, EngineStartError):
        return str(cause)
    return f"provider '{name}' could not start: {first_line(cause)}"


def _ray_logs_dir() -> str | None:
    """Where Ray keeps the replicas' stderr (the engine's full error is there)."""
    try:
        from ray._private import worker

        return str(worker._global_node.get_logs_dir_path())  # type: ignore[attr-defined]
    except Exception:
        return None


async def _await(ref: Any) -> Any:
    return await ref


def gpus_per_replica(inner: Provider[Any], cluster_gpus: float) -> int:
    """GPUs Ray reserves per replica: its tensor-parallel size; none on a cluster without GPUs
    or for an engine configured for the CPU."""
    if cluster_gpus <= 0 or getattr(inner.settings, "device", "auto") == "cpu":
        return 0
    return int(getattr(inner.settings, "tensor_parallel_size", 1) or 1)


def _chunk_size(inner: Provider[Any]) -> int:
    return int(getattr(inner.settings, "batch_size", 0) or 32)


def balanced_chunks(requests: Sequence[Request], replicas: int, size: int) -> list[list[Request]]:
    """Chunks of similar prompt length (little padding), longest first: handed to whichever
    replica is free, so the long ones start early and the replicas finish together. Chunks are
    small enough that each replica gets several (finer balance, earlier streaming)."""
    if not requests:
        return []
    size = max(1, min(size, math.ceil(len(requests) / (replicas * 4))))
    ordered = sorted(requests, key=lambda r: -sum(len(m.content) for m in r.messages))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def with_replicas(provider: Provider[Any], type_name: str, replicas: int | None) -> Provider[Any]:
    """The provider itself, or wrapped to run as `replicas` Ray actors."""
    if replicas is None:
        return provider
    if type_name not in REPLICA_TYPES:
        raise UserInputError(
            f"providers.{provider.name}.replicas: only local engines ({', '.join(REPLICA_TYPES)}) "
            f"run as replicas, not '{type_name}'"
        )
    return RayReplicas(provider, replicas)
