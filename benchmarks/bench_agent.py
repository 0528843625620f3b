"""The agent loop: evalkit's own time per step, and concurrent loops against the ideal.

1. Overhead: N cases × R tool rounds against a zero-latency fake server (its own process), so
   the CPU time of this process is evalkit's: loop, tool calls, HTTP client, scoring, writing.
   Printed per step (model call or tool run) beside the same figure for plain requests.
2. Concurrency: N cases × R rounds at 200 ms per model call, concurrency 32. The ideal wall time
   is ceil(N / 32) × (R + 1) × 0.2 s; the ratio ideal / measured shows the loops overlap.
Usage: python benchmarks/bench_agent.py [N] [R]
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import fake_server, write_config
from evalkit.stages.pipeline import RunOptions, execute, prepare


def echo(text: str) -> str:
    """The benchmark's tool."""
    return text


def write_agent_suite(directory: Path, n: int, agent: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    cases = "\n".join(f"  - {{id: c{i}, vars: {{q: 'task {i}'}}}}" for i in range(n))
    tools = (
        "tools:\n  - {type: function, function: {name: echo, parameters: {type: object, "
        "properties: {text: {type: string}}}}}\n"
        "agent: {max_steps: 20, tools: {echo: 'benchmarks.bench_agent:echo'}}\n"
        if agent
        else ""
    )
    suite = directory / "suite.yaml"
    suite.write_text(f'name: bench\nprompt: "{{{{ q }}}}"\nscorers: [tool_loop]\n{tools}cases:\n{cases}\n')
    return suite


def measure(root: Path, url: str, n: int, concurrency: int, agent: bool) -> tuple[float, float, int]:
    """(wall s, this process's CPU s, model calls) for one run."""
    suite = write_agent_suite(root, n, agent)
    config = write_config(root, url, concurrency)
    prepared = prepare(RunOptions(suites=[suite], config=config, out=root / "run", no_cache=True))
    wall, cpu = time.perf_counter(), time.process_time()
    summary = execute(prepared).summary
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert summary.errors == 0, summary
    return wall, cpu, summary.results


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    steps = n * (2 * rounds + 1)  # per case: rounds + 1 model calls and `rounds` tool runs
    calls = n * (rounds + 1)
    with tempfile.TemporaryDirectory() as tmp:
        with fake_server(0.0, tool_rounds=rounds) as url:
            _, agent_cpu, _ = measure(Path(tmp) / "agent", url, n, 8, agent=True)
        with fake_server(0.0) as url:
            _, plain_cpu, _ = measure(Path(tmp) / "plain", url, calls, 8, agent=False)
        print(f"overhead: {n} cases × {rounds} tool rounds, zero-latency server, concurrency 8")
        print(f"  agent loop    {agent_cpu / steps * 1000:6.2f} ms CPU per step ({steps} steps)")
        print(f"  agent loop    {agent_cpu / calls * 1000:6.2f} ms CPU per model call (tools included)")
        print(f"  plain         {plain_cpu / calls * 1000:6.2f} ms CPU per request ({calls} requests)")
        print(f"  ratio agent/plain per model call  {agent_cpu / plain_cpu:.2f}")
        m, latency, concurrency = 128, 0.2, 32
        with fake_server(latency, tool_rounds=2) as url:
            wall, _, _ = measure(Path(tmp) / "conc", url, m, concurrency, agent=True)
        with fake_server(latency) as url:
            plain_wall, _, _ = measure(Path(tmp) / "conc-plain", url, 3 * m, concurrency, agent=False)
        ideal = math.ceil(m / concurrency) * 3 * latency
        print(f"concurrency: {m} cases × 3 model calls at {latency * 1000:.0f} ms, concurrency {concurrency}")
        print(
            f"  agent loops  ideal {ideal:.2f} s · measured {wall:.2f} s · ratio ideal/measured {ideal / wall:.3f}"
        )
        print(
            f"  {3 * m} plain requests  ideal {ideal:.2f} s · measured {plain_wall:.2f} s · "
            f"ratio ideal/measured {ideal / plain_wall:.3f}"
        )


if __name__ == "__main__":
    main()
