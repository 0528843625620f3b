"""Memory as a run grows: peak RSS and wall time of each command that reads a run's size.

Per size, each command runs as a fresh process (`/usr/bin/time` reports its peak RSS):
  run            `evalkit run` of N cases (scripted provider: no server, so RSS is evalkit's own;
                 exact scorer, half the cases fail, so junit.xml has N/2 failing test cases)
  report         `evalkit report RUN` (junit.xml, summary.md, report.html again)
  baseline save  `evalkit baseline save RUN`
  diff           `evalkit diff RUN RUN` (every case paired)
  merge          `evalkit merge` of the run made again as two shards of N/2
With --against CHECKOUT (e.g. a worktree of an older commit), every command also runs with
that checkout's code, interleaved with this one's, so the ratios hold on a busy machine.

Usage: python benchmarks/bench_memory.py [SIZES] [--against CHECKOUT]   e.g. 10000,100000
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._common import ROOT, write_suite

CONFIG = (
    "providers:\n  p: {type: scripted, respond: 'answers:respond'}\n"
    "variants:\n  v: {provider: p}\nhistory: {enabled: false}\nrun: {max_error_rate: 0.0}\n"
)
ANSWERS = (  # the reference for even cases, something else for odd ones
    "def respond(request):\n"
    "    q = request.messages[-1].content\n"
    "    return 'echo: ' + q if int(q.split()[2]) % 2 == 0 else 'no'\n"
)


def timed(code: Path, args: list[str], cwd: Path) -> tuple[float, float, int]:
    """Peak RSS (MB), wall seconds and exit code of `python -m evalkit ARGS` run with `code`."""
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{cwd}", "NO_COLOR": "1"}
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M %e", sys.executable, "-m", "evalkit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    rss_kb, wall = proc.stderr.strip().splitlines()[-1].split()
    return int(rss_kb) / 1024, float(wall), proc.returncode


def commands(n: int) -> list[tuple[str, list[str], tuple[int, ...]]]:
    run = ["run", "suite.yaml", "--no-baseline", "--overwrite"]
    return [
        ("run", [*run, "--out", "r"], (0, 1)),
        ("report", ["report", "r"], (0,)),
        ("baseline save", ["baseline", "save", "r", "--to", "b", "--force"], (0,)),
        ("diff", ["diff", "r", "r"], (0,)),
        ("shard 1/2", [*run, "--out", "s1", "--shard", "1/2"], (0, 1)),
        ("shard 2/2", [*run, "--out", "s2", "--shard", "2/2"], (0, 1)),
        ("merge", ["merge", "s1", "s2", "--out", "m", "--no-baseline"], (0, 1)),
    ]


def main() -> None:
    argv = sys.argv[1:]
    sizes = [int(s) for s in (argv[0] if argv and argv[0][0].isdigit() else "10000,100000").split(",")]
    checkouts = [ROOT] + [Path(argv[i + 1]) for i, a in enumerate(argv) if a == "--against"]
    print(f"{'cases':>8}  {'command':14} {'checkout':28} {'peak RSS MB':>11}  {'wall s':>8}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            dirs = {}
            for k, code in enumerate(checkouts):
                d = Path(tmp) / f"n{n}-c{k}"
                write_suite(d, n, scorers="[exact]")
                (d / "evalkit.yaml").write_text(CONFIG)
                (d / "answers.py").write_text(ANSWERS)
                dirs[code] = d
            for name, args, ok in commands(n):
                for code in checkouts:
                    rss, wall, rc = timed(code, args, dirs[code])
                    flag = "" if rc in ok else f"  (exit {rc})"
                    print(
                        f"{n:>8}  {name:14} {str(code)[-28:]:28} {rss:>11.0f}  {wall:>8.1f}{flag}", flush=True
                    )


if __name__ == "__main__":
    main()
