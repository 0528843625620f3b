"""The client's turnaround per request cycle at a fixed latency: evalkit against aiohttp alone.

A slot's cycle is the server's latency plus the client's turnaround: the time from the server
sending an answer on a connection until the next request arrives on that connection (reading
and parsing the answer, whatever the client does on its event loop meanwhile, sending the next
request). The fake server (tests/fake_openai.py) runs in a thread of this process, which does
nothing else while a run's process works, and notes both moments per connection. Answers arrive
in clumps, so work done between one answer and the next request (scoring, writing, a chunk's
rendering, a collection of the garbage collector) delays the other answers of the clump too:
the turnaround's median and p90 show it, where the whole run's wall time hides it in noise.

Per run: the cycle (first request to last answer, per request of a slot, as in
bench_timeline.py), the turnaround's mean, median, p90 and p99 in ms, and the run's wall time.
Checkouts and aiohttp alone (bench_scale.py --raw) run interleaved, `--rounds N` times; the
last rows are each checkout's medians over the rounds.

Usage: python -m benchmarks.bench_turnaround [CASES] [LATENCY_S] [--against CHECKOUT ...]
[--rounds N], e.g. 2000 0.1 --against /path/to/main --rounds 5 (concurrency 32).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, arguments, rounds
from benchmarks.bench_timeline import CONCURRENCY, load, run_once
from tests.fake_openai import FakeOpenAI


class Turnaround(FakeOpenAI):
    """The fake server, noting per connection when an answer left and when the next request on
    that connection arrived."""

    def __init__(self, latency_s: float):
        super().__init__(latency_s=latency_s)
        self.sent: dict[int, float] = {}  # connection -> when its last answer was written
        self.turns: list[float] = []  # seconds from an answer to the next request on its connection
        self.answered: list[float] = []  # when each answer was written

    def clear(self) -> None:
        self.sent.clear()
        self.turns.clear()
        self.answered.clear()

    async def _respond(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        sent = self.sent.pop(id(writer), None)
        if sent is not None:
            self.turns.append(time.perf_counter() - sent)
        return await super()._respond(method, path, headers, raw, writer)

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, payload: Any, extra: dict[str, str] | None = None
    ) -> bool:
        keep = await super()._send(writer, status, payload, extra)
        now = time.perf_counter()
        self.sent[id(writer)] = now
        self.answered.append(now)
        return keep


def figures(server: Turnaround, n: int, latency: float, wall: float) -> dict[str, float]:
    turns = sorted(server.turns)
    first, last = min(server.answered) - latency, max(server.answered)
    return {
        "wall": wall,
        "cycle": (last - first) / (n / CONCURRENCY) * 1000,
        "mean": statistics.fmean(turns) * 1000,
        "median": statistics.median(turns) * 1000,
        "p90": turns[int(len(turns) * 0.9)] * 1000,
        "p99": turns[int(len(turns) * 0.99)] * 1000,
    }


COLUMNS = ("wall", "cycle", "mean", "median", "p90", "p99")


def row(name: str, got: dict[str, float]) -> str:
    return f"{name:24}  " + "  ".join(f"{got[c]:>8.2f}" for c in COLUMNS)


def main() -> None:
    args, against = arguments(sys.argv)
    n = int(args[0]) if args else 2000
    latency = float(args[1]) if len(args) > 1 else 0.1
    times = rounds(sys.argv, 3)
    print(f"{n} cases, latency {latency * 1000:.0f} ms, concurrency {CONCURRENCY}, load {load()}")
    heads = ("wall s", "cycle ms", "turn avg", "turn p50", "turn p90", "turn p99")
    print(f"{'checkout':24}  " + "  ".join(f"{h:>8}" for h in heads))
    seen: dict[str, list[dict[str, float]]] = defaultdict(list)
    server = Turnaround(latency)
    with server, tempfile.TemporaryDirectory() as tmp:
        for r in range(times):
            for k, code in enumerate([ROOT, *against, None]):  # interleaved; None: aiohttp alone
                server.clear()
                _, wall, rc = run_once(code, n, server.url, Path(tmp) / f"{r}-{k}")
                name = "aiohttp alone" if code is None else str(code)[-24:]
                if rc not in (0, 1) or len(server.answered) < n:
                    print(f"{name:24}  failed (exit {rc}, {len(server.answered)} answers)", flush=True)
                    continue
                seen[name].append(figures(server, n, latency, wall))
                print(row(name, seen[name][-1]), flush=True)
    print(f"medians of {times} rounds (load {load()} at the end):")
    for name, runs in seen.items():
        print(row(name, {c: statistics.median(run[c] for run in runs) for c in COLUMNS}))


if __name__ == "__main__":
    main()
