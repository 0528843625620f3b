"""evalkit against its peers on one workload: N Q&A cases, concurrency 32, one fake server.

The same cases go through evalkit, promptfoo (npm) and Inspect AI (PyPI) against
tests/fake_openai.py on 127.0.0.1 with a fixed latency, each tool as a subprocess with its
own empty cache. Printed side by side: wall time against the ideal (cases / concurrency ×
latency), CPU per case (the tool's process and its children), a warm-cache rerun, and
`--help` time. A peer that is not installed is skipped. Neither peer is a dependency of
evalkit: install them anywhere and point at them. The tools are interleaved: each repeat runs
every tool once, so load on a shared machine falls on all of them alike.

Usage: python -m benchmarks.bench_peers [--cases 2000] [--latency 0.1] [--concurrency 32]
           [--repeats 3] [--promptfoo PATH] [--inspect PATH]
  (default paths: `promptfoo` and `inspect` on PATH, or $PROMPTFOO_BIN / $INSPECT_BIN)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._common import fake_server

MODEL = "bench-model"
# exit codes of a finished run (evalkit 1 and promptfoo 100: some assertions failed)
OK_EXIT = {"evalkit": {0, 1}, "promptfoo": {0, 100}, "inspect": {0}}


@dataclass
class Figures:
    tool: str
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    warm_s: list[float] = field(default_factory=list)
    help_s: float | None = None
    note: str = ""


def cases(n: int) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        q = f"question number {i} about topic {i % 97}"
        out.append({"id": f"c{i}", "q": q, "reference": f"echo: {q}"})
    return out


def measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user + system, the process and all it waited for), exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, (proc.stdout + proc.stderr)[-2000:]


def help_time(cmd: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(cmd, env={**os.environ, **env}, capture_output=True)
        times.append(time.perf_counter() - started)
    return min(times)


# --- one function per tool: (workdir, url, rows, concurrency) -> (command, env) -------------


def evalkit_setup(
    work: Path, url: str, rows: list[dict[str, str]], concurrency: int
) -> tuple[list[str], dict]:
    with (work / "cases.jsonl").open("w") as fh:
        for r in rows:
            fh.write(json.dumps({"id": r["id"], "vars": {"q": r["q"]}, "reference": r["reference"]}) + "\n")
    (work / "suite.yaml").write_text('name: bench\nprompt: "{{ q }}"\nscorers: [exact]\ncases: cases.jsonl\n')
    (work / "evalkit.yaml").write_text(
        f"providers:\n  api: {{type: openai, base_url: '{url}', model: {MODEL}}}\n"
        "variants:\n  v: {provider: api, params: {max_tokens: 64}}\n"
    )
    exe = [sys.executable, "-m", "evalkit"]
    cmd = [*exe, "run", "suite.yaml", "--concurrency", str(concurrency), "--no-baseline", "--out", "{out}"]
    return cmd, {"EVALKIT_CACHE_DIR": str(work / "cache")}


def promptfoo_setup(
    exe: str, work: Path, url: str, rows: list[dict[str, str]], concurrency: int
) -> tuple[list[str], dict]:
    config = {
        "description": "bench",
        "prompts": ["{{q}}"],
        "providers": [
            {"id": f"openai:chat:{MODEL}", "config": {"apiBaseUrl": url, "apiKey": "bench", "max_tokens": 64}}
        ],
        "tests": [
            {"vars": {"q": r["q"]}, "assert": [{"type": "equals", "value": r["reference"]}]} for r in rows
        ],
    }
    (work / "promptfooconfig.yaml").write_text(json.dumps(config))  # JSON is YAML
    env = {
        "HOME": str(work),
        "PROMPTFOO_CONFIG_DIR": str(work / ".promptfoo"),
        "PROMPTFOO_CACHE_PATH": str(work / "cache"),
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "NO_COLOR": "1",
    }
    cmd = [exe, "eval", "-c", "promptfooconfig.yaml", "--max-concurrency", str(concurrency)]
    return [*cmd, "--no-progress-bar", "--no-table", "-o", "{out}.json"], env


INSPECT_TASK = """
import json
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import exact
from inspect_ai.solver import generate

@task
def bench():
    rows = [json.loads(line) for line in open("cases.jsonl")]
    samples = [Sample(id=r["id"], input=r["q"], target=r["reference"]) for r in rows]
    return Task(dataset=samples, solver=generate(cache=True), scorer=exact())
"""


def inspect_setup(
    exe: str, work: Path, url: str, rows: list[dict[str, str]], concurrency: int
) -> tuple[list[str], dict]:
    with (work / "cases.jsonl").open("w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    (work / "task.py").write_text(INSPECT_TASK)
    env = {
        "BENCH_API_KEY": "bench",
        "BENCH_BASE_URL": url,
        "XDG_CACHE_HOME": str(work / "cache"),
        "NO_COLOR": "1",
    }
    cmd = [exe, "eval", "task.py", "--model", f"openai-api/bench/{MODEL}", "--max-tokens", "64"]
    cmd += ["--max-connections", str(concurrency), "--display", "none", "--log-dir", "{out}"]
    return cmd, env


def with_out(cmd: list[str], out: Path) -> list[str]:
    return [part.replace("{out}", str(out)) for part in cmd]


def run_once(
    figures: Figures,
    setup: Callable[[Path, str, list[dict[str, str]], int], tuple[list[str], dict]],
    url: str,
    rows: list[dict[str, str]],
    args: argparse.Namespace,
) -> None:
    """One cold run and one warm rerun of one tool, in a fresh folder (its own empty cache)."""
    name = figures.tool
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        work = Path(tmp)
        cmd, env = setup(work, url, rows, args.concurrency)
        wall, cpu, code, tail = measured(with_out(cmd, work / "cold"), work, env)
        if code not in OK_EXIT[name]:
            figures.note = f"exit {code}: {tail.strip().splitlines()[-1] if tail.strip() else ''}"
            return
        warm, _, _, _ = measured(with_out(cmd, work / "warm"), work, env)
    figures.wall_s.append(wall)
    figures.cpu_s.append(cpu)
    figures.warm_s.append(warm)
    print(f"  {name} run {len(figures.wall_s)}: {wall:.1f} s, warm {warm:.1f} s", flush=True)


def table(results: list[Figures], n: int, concurrency: int, ideal: float) -> None:
    print(f"\n{n:,} cases, concurrency {concurrency}, ideal {ideal:.2f} s (medians)")
    print(f"{'tool':<12}{'wall s':>9}{'ideal/wall':>12}{'CPU ms/case':>13}{'warm s':>9}{'--help s':>10}")
    for f in results:
        if not f.wall_s:
            print(f"{f.tool:<12}  skipped: {f.note}"[:80])
            continue
        wall, cpu, warm = (statistics.median(x) for x in (f.wall_s, f.cpu_s, f.warm_s))
        help_s = f"{f.help_s:.2f}" if f.help_s is not None else "–"
        print(f"{f.tool:<12}{wall:>9.2f}{ideal / wall:>12.2f}{cpu * 1000 / n:>13.2f}{warm:>9.2f}{help_s:>10}")
    base = next((f for f in results if f.tool == "evalkit" and f.wall_s), None)
    for f in results:
        if base is None or f is base or not f.wall_s:
            continue
        ratio = statistics.median(f.wall_s) / statistics.median(base.wall_s)
        warm = statistics.median(f.warm_s) / statistics.median(base.warm_s)
        print(f"{f.tool} takes {ratio:.1f}× evalkit's wall time, {warm:.1f}× its warm rerun")


def find(explicit: str | None, env_var: str, name: str) -> str | None:
    return explicit or os.environ.get(env_var) or shutil.which(name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--promptfoo")
    parser.add_argument("--inspect")
    args = parser.parse_args()
    rows = cases(args.cases)
    ideal = args.cases / args.concurrency * args.latency
    evalkit_help = [str(Path(sys.executable).parent / "evalkit"), "--help"]
    tools: list[tuple[str, Callable[..., tuple[list[str], dict]] | None, list[str]]] = [
        ("evalkit", evalkit_setup, evalkit_help)
    ]
    promptfoo = find(args.promptfoo, "PROMPTFOO_BIN", "promptfoo")
    inspect = find(args.inspect, "INSPECT_BIN", "inspect")
    tools.append(
        (
            "promptfoo",
            (lambda *a: promptfoo_setup(promptfoo, *a)) if promptfoo else None,
            [promptfoo or "", "--help"],
        )
    )
    tools.append(
        ("inspect", (lambda *a: inspect_setup(inspect, *a)) if inspect else None, [inspect or "", "--help"])
    )
    results = [Figures(name, note="" if setup else "not installed (see --help)") for name, setup, _ in tools]
    with fake_server(args.latency) as url:
        # interleaved: each repeat runs every tool once, so a noisy machine slows them all alike
        for rep in range(args.repeats):
            print(f"repeat {rep + 1} of {args.repeats}: {args.cases:,} cases each", flush=True)
            for figures, (_, setup, _) in zip(results, tools, strict=True):
                if setup is not None and not figures.note:
                    run_once(figures, setup, url, rows, args)
    for figures, (_, _, help_cmd) in zip(results, tools, strict=True):
        if figures.wall_s:
            figures.help_s = help_time(help_cmd, {})
    table(results, args.cases, args.concurrency, ideal)


if __name__ == "__main__":
    main()
