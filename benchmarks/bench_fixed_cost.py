"""A run's fixed cost: `evalkit run` of 10 cases (scripted provider, the run history on, a few
runs already recorded so the trend check runs), the same with `--no-history`, and `evalkit run`
stopping on bad input, each as a fresh process, as a user or CI starts it. Wall time and CPU
time (user + system) per command, median of the repeats, and each checkout's ratio to the first.

Usage: python benchmarks/bench_fixed_cost.py [REPEATS] [--against CHECKOUT ...]
Each --against names another checkout of evalkit (e.g. a worktree of an older commit) whose
code runs the same commands in the same venv, interleaved with this one's, so the ratios hold
on a busy machine. Bytecode is written and used (PYTHONDONTWRITEBYTECODE is dropped for the
commands), as in an installed evalkit: a first run per checkout compiles it. The load average
is printed before and after: on a shared machine, compare the ratios and the CPU seconds.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT, write_suite

CONFIG = "providers:\n  p: {type: scripted, default: hello}\nvariants:\n  v: {provider: p}\n"
BAD = 'name: bad\nprompt: "{{ q }}"\nscorers: [no_such_scorer]\ncases:\n  - {id: a, vars: {q: x}}\n'
RUN = ["run", "suite.yaml", "--out", "out", "--overwrite", "--no-baseline"]
COMMANDS = {
    "run 10 cases": RUN,
    "  --no-history": [*RUN, "--no-history"],
    "run, bad input": ["run", "bad.yaml", "--out", "bad-out", "--no-baseline"],
}


def one(code: Path, args: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of `python -m evalkit ARGS` with `code` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(code), "NO_COLOR": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed evalkit has its bytecode compiled
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, env=env, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    argv = sys.argv[1:]
    repeats = int(argv[0]) if argv and argv[0].isdigit() else 7
    checkouts = [ROOT] + [Path(argv[i + 1]) for i, a in enumerate(argv) if a == "--against"]
    print(f"{os.cpu_count()} CPUs, load average {load()} (1, 5, 15 min) at the start", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {}
        for code in checkouts:
            d = Path(tmp) / f"c{len(dirs)}"
            write_suite(d, 10, scorers="[exact]")
            (d / "evalkit.yaml").write_text(CONFIG)
            (d / "bad.yaml").write_text(BAD)
            for _ in range(4):  # bytecode, the templates' cache, and a history with a trend to check
                one(code, RUN, d)
            dirs[code] = d
        times: dict[tuple[Path, str], list[tuple[float, float]]] = {}
        for _ in range(repeats):
            for name, args in COMMANDS.items():
                for code in checkouts:  # interleaved: the machine's load hits each alike
                    wall, cpu, rc = one(code, args, dirs[code])
                    assert rc in ((2,) if "bad" in name else (0, 1)), (code, name, rc)
                    times.setdefault((code, name), []).append((wall, cpu))
    print(f"median of {repeats}; load average {load()} at the end")
    print(f"{'command':16} {'checkout':28} {'wall s':>7} {'cpu s':>7} {'wall x':>7} {'cpu x':>6}")
    for name in COMMANDS:
        first = None
        for code in checkouts:
            runs = times[(code, name)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            first = first or (wall, cpu)
            print(
                f"{name:16} {str(code)[-28:]:28} {wall:7.2f} {cpu:7.2f}"
                f" {wall / first[0]:6.2f}x {cpu / first[1]:5.2f}x"
            )


if __name__ == "__main__":
    main()
