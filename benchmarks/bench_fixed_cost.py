"""A run's fixed cost: `evalkit run` of 10 cases (scripted provider, the run history on, a few
runs already recorded so the trend check runs) and `evalkit run` stopping on bad input, each as
a fresh process, as a user or CI starts it. Wall time and CPU time (user + system) per command,
median of the repeats.

Usage: python benchmarks/bench_fixed_cost.py [REPEATS] [--against CHECKOUT ...]
Each --against names another checkout of evalkit (e.g. /work/main) whose code runs the same
commands in the same venv, interleaved with this one's, so the ratios hold on a busy machine.
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


def one(code: Path, args: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of `python -m evalkit ARGS` with `code` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(code), "NO_COLOR": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "evalkit", *args], cwd=cwd, env=env, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def main() -> None:
    argv = sys.argv[1:]
    repeats = int(argv[0]) if argv and argv[0].isdigit() else 7
    checkouts = [ROOT] + [Path(argv[i + 1]) for i, a in enumerate(argv) if a == "--against"]
    commands = {
        "run 10 cases": ["run", "suite.yaml", "--out", "out", "--overwrite", "--no-baseline"],
        "run, bad input": ["run", "bad.yaml", "--out", "bad-out", "--no-baseline"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {}
        for code in checkouts:
            d = Path(tmp) / f"c{len(dirs)}"
            write_suite(d, 10, scorers="[exact]")
            (d / "evalkit.yaml").write_text(CONFIG)
            (d / "bad.yaml").write_text(BAD)
            for _ in range(4):  # a history with a trend to check
                one(code, commands["run 10 cases"], d)
            dirs[code] = d
        times: dict[tuple[Path, str], list[tuple[float, float]]] = {}
        for _ in range(repeats):
            for name, args in commands.items():
                for code in checkouts:  # interleaved: the machine's load hits each alike
                    wall, cpu, rc = one(code, args, dirs[code])
                    assert rc in ((0, 1) if name.startswith("run 10") else (2,)), (code, name, rc)
                    times.setdefault((code, name), []).append((wall, cpu))
    print(f"median of {repeats} (wall s / cpu s)")
    for name in commands:
        for code in checkouts:
            runs = times[(code, name)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            print(f"{name:16} {code!s:28} {wall:6.2f} s wall  {cpu:6.2f} s cpu")


if __name__ == "__main__":
    main()
