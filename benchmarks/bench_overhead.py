"""Harness overhead: N cases with exact + ROUGE-L against the fake server at zero latency.

Measured side by side in one run, against the same server:
  raw   - an aiohttp session (the client evalkit uses) posting the same chat requests at the same concurrency, then
          rouge-score and an exact comparison on each output, in a plain loop;
  evalkit - `evalkit run` in-process (plan, provider, scoring, results.jsonl, summary.json).
evalkit's own time per case is the difference. Usage: python benchmarks/bench_overhead.py [N]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import aiohttp
from rouge_score import rouge_scorer

from benchmarks._common import fake_server, timed, write_config, write_suite
from evalkit.stages.pipeline import RunOptions, execute, prepare

CONCURRENCY = 16


def raw_loop(url: str, cases: list[dict]) -> int:
    scorer = rouge_scorer.RougeScorer(["rougeL"])

    async def go() -> int:
        sem = asyncio.Semaphore(CONCURRENCY)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(case: dict) -> float:
                async with sem:
                    body = {
                        "model": "bench-model",
                        "max_tokens": 64,
                        "messages": [{"role": "user", "content": case["vars"]["q"]}],
                    }
                    async with session.post(url + "/chat/completions", json=body) as r:
                        data = await r.json()
                text = data["choices"][0]["message"]["content"]
                exact = float(text.strip() == case["reference"])
                return exact + scorer.score(case["reference"], text)["rougeL"].fmeasure

            results = await asyncio.gather(*(one(c) for c in cases))
        return len(results)

    return asyncio.run(go())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as tmp, fake_server(0.0) as url:
        root = Path(tmp)
        suite = write_suite(root, n)
        config = write_config(root, url, CONCURRENCY)
        cases = [json.loads(line) for line in (root / "cases.jsonl").read_text().splitlines()]
        raw_loop(url, cases[:200])  # warm both paths once
        _, raw_s = timed(lambda: raw_loop(url, cases))
        prepared, prep_s = timed(lambda: prepare(RunOptions(suites=[suite], config=config, out=root / "run")))
        summary, exec_s = timed(lambda: execute(prepared).summary)
        assert summary.results == n and summary.errors == 0, summary
        total = prep_s + exec_s
        print(f"cases                     {n}")
        print(f"raw aiohttp + rouge-score  {raw_s:7.2f} s  {raw_s / n * 1000:6.3f} ms/case")
        print(
            f"evalkit run (total)       {total:7.2f} s  {total / n * 1000:6.3f} ms/case  (plan {prep_s:.2f} s, execute+write+summary {exec_s:.2f} s)"
        )
        print(f"evalkit's own time        {(total - raw_s) / n * 1000:6.3f} ms/case")
        print(f"ratio evalkit / raw       {total / raw_s:6.2f}x")


if __name__ == "__main__":
    main()
