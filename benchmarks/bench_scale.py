"""Scale: time per case, CPU per case and peak memory as a run grows from 1k to 100k cases.

Each size runs `evalkit run` (plan, openai provider, exact scorer, results.jsonl, summary)
in a fresh process against the zero-latency fake server (its own process too), so peak RSS
is that size's alone. Admission is O(1) per request when time per case stays flat.
Usage: python benchmarks/bench_scale.py [SIZES] [CONCURRENCY] [--against CHECKOUT] [--rounds N]
e.g. 1000,10000,100000 32. With --against (another checkout of evalkit, e.g. a worktree of an
older commit), each size also runs with that checkout's code, interleaved, for side-by-side ratios.

Each size also runs the HTTP client alone ("raw aiohttp": importing aiohttp, then the same
requests at the same concurrency through it, each answer's JSON parsed, nothing else), so
evalkit's own CPU per case is the difference: what the harness adds to the client any harness
needs (evalkit's run imports aiohttp inside the timed part too). On a shared
machine compare CPU (wall waits for the CPU) and the ratios of interleaved rows.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, arguments, fake_server, rounds, write_config, write_suite


def child(n: int, url: str, concurrency: int) -> None:
    """One run of n cases in this process; prints a JSON line of its figures."""
    from evalkit.stages.pipeline import RunOptions, execute, prepare

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        suite = write_suite(root, n, scorers="[exact]")
        config = write_config(root, url, concurrency)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        prepared = prepare(RunOptions(suites=[suite], config=config, out=root / "run", no_cache=True))
        summary = execute(prepared).summary
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        assert summary.results == n and summary.errors == 0, summary
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "wall_s": wall, "cpu_s": cpu, "rss_mb": rss_mb}))


def raw_child(n: int, url: str, concurrency: int) -> None:
    """The same n requests through aiohttp alone; prints a JSON line of its figures. Its import
    is timed too (0.2 s of CPU: it builds its SSL contexts), as evalkit's run imports it."""
    import asyncio

    cpu0, wall0 = time.process_time(), time.perf_counter()
    import aiohttp

    async def go() -> int:
        sem = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

            async def one(i: int) -> str:
                body = {
                    "model": "bench-model",
                    "max_tokens": 64,
                    "messages": [{"role": "user", "content": f"question number {i} about topic {i % 97}"}],
                }
                async with sem, session.post(url + "/chat/completions", json=body) as r:
                    data = await r.json()
                return str(data["choices"][0]["message"]["content"])

            return len(await asyncio.gather(*(one(i) for i in range(n))))

    assert asyncio.run(go()) == n
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "wall_s": wall, "cpu_s": cpu, "rss_mb": rss_mb}))


def main() -> None:
    args, against = arguments(sys.argv)
    sizes = [int(s) for s in (args[0] if args else "1000,10000,100000").split(",")]
    concurrency = int(args[1]) if len(args) > 1 else 32
    checkouts = [ROOT, *against]
    print(f"{os.cpu_count()} CPUs, load average {load()} at the start", flush=True)
    with fake_server(0.0) as url:
        rows = [
            row for n in sizes for row in measure_rounds(checkouts, n, url, concurrency, rounds(sys.argv))
        ]
    print(
        f"zero-latency fake server, concurrency {concurrency}, scorer exact, no cache; load {load()} at the end"
    )
    print_rows(rows)


def measure_rounds(
    checkouts: list[Path], n: int, url: str, concurrency: int, times: int
) -> list[dict[str, Any]]:
    """Each checkout's run of n cases and aiohttp alone's, interleaved (so the machine's load hits
    each alike), `times` rounds: per checkout the median of its wall, CPU and peak RSS."""
    got: dict[Path | None, list[dict[str, Any]]] = {code: [] for code in [*checkouts, None]}
    for _ in range(times):
        for code in got:
            got[code].append(measure(code, n, url, concurrency))
    return [
        {**samples[0], **{k: statistics.median(s[k] for s in samples) for k in ("wall_s", "cpu_s", "rss_mb")}}
        for samples in got.values()
    ]


def measure(code: Path | None, n: int, url: str, concurrency: int) -> dict[str, Any]:
    """One size in a fresh process: a checkout's `evalkit run`, or aiohttp alone (code None)."""
    mode = "--raw" if code is None else "--child"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scale", mode, str(n), url, str(concurrency)],
        cwd=code or ROOT,  # from the checkout: its evalkit comes first on the path
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        capture_output=True,
        text=True,
        check=True,
    )
    name = "raw aiohttp" if code is None else str(code)[-20:]
    row: dict[str, Any] = {**json.loads(out.stdout.strip().splitlines()[-1]), "code": name}
    return row


def print_rows(rows: list[dict[str, Any]]) -> None:
    """The table: each checkout's CPU per case, and its own (less aiohttp alone's at that size)."""
    print(
        f"{'cases':>8}  {'checkout':20}  {'wall s':>8}  {'ms/case':>8}  {'CPU ms/case':>11}"
        f"  {'own CPU ms':>10}  {'peak RSS MB':>11}"
    )
    raw = {r["n"]: r["cpu_s"] / r["n"] for r in rows if r["code"] == "raw aiohttp"}
    for r in rows:
        cpu = r["cpu_s"] / r["n"]
        own = "" if r["code"] == "raw aiohttp" else f"{(cpu - raw[r['n']]) * 1000:.3f}"
        print(
            f"{r['n']:>8}  {r['code']:20}  {r['wall_s']:>8.2f}  {r['wall_s'] / r['n'] * 1000:>8.3f}"
            f"  {cpu * 1000:>11.3f}  {own:>10}  {r['rss_mb']:>11.0f}"
        )


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--raw":
        raw_child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        main()
