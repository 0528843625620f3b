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

Sizes above --run-limit (default 100,000) do not go through `run` (hours on a small machine):
their run directories are synthetic, made from a small real run (and its two shards) by
repeating its result lines with new case ids, so report, baseline save, diff and merge read a
run of that size exactly as they would read a real one. The curve (peak MB and wall per size,
checkouts side by side) is printed at the end.

Usage: python benchmarks/bench_memory.py [SIZES] [--against CHECKOUT] [--run-limit N] [--only CMD,CMD]
e.g. 10000,100000,1000000
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

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


def timed(code: Path, args: list[str], cwd: Path) -> tuple[float, float, int, float]:
    """Peak RSS (MB), wall seconds, exit code and CPU seconds of `python -m evalkit ARGS` run
    with `code`."""
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{cwd}", "NO_COLOR": "1"}
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M %e %U %S", sys.executable, "-m", "evalkit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    rss_kb, wall, user, system = proc.stderr.strip().splitlines()[-1].split()
    return int(rss_kb) / 1024, float(wall), proc.returncode, float(user) + float(system)


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


def _synthetic_results(
    even: dict[str, Any], odd: dict[str, Any], out: Path, n: int, shard: tuple[int, int] | None
) -> int:
    """results.jsonl of n cases (those of one shard), from a passing and a failing result of the
    small run, with each case's own id, question and reference."""
    kept = 0
    with (out / "results.jsonl").open("w") as fh:
        for i in range(n):
            if shard is not None and _shard_of(f"c{i}", shard[1]) != shard[0]:
                continue
            row = dict(even if i % 2 == 0 else odd)
            question = f"question number {i} about topic {i % 97}"
            reference = f"echo: {question}" if i % 2 == 0 else f"an unrelated answer {i}"
            row |= {
                "case_id": f"c{i}",
                "case_hash": hashlib.sha256(question.encode()).hexdigest()[:16],
                "messages": [{**row["messages"][0], "content": question}],
                "references": [reference],
                "output": f"echo: {question}" if i % 2 == 0 else "no",
            }
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
            kept += 1
    return kept


def _shard_of(case_id: str, count: int) -> int:
    digest = hashlib.sha256(f"bench\x00{case_id}\x00v".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def synthesize(d: Path, n: int) -> None:
    """Run directories r, s1 and s2 of n cases in `d`, from the small real ones already there."""
    template = json.loads((d / "r" / "cases.jsonl").read_text().splitlines()[0])
    small = {
        row["case_id"]: row for row in map(json.loads, (d / "r" / "results.jsonl").read_text().splitlines())
    }
    for name, shard in (("r", None), ("s1", (1, 2)), ("s2", (2, 2))):
        out = d / name
        with (out / "cases.jsonl").open("w") as fh:
            for i in range(n):
                question = f"question number {i} about topic {i % 97}"
                reference = f"echo: {question}" if i % 2 == 0 else f"an unrelated answer {i}"
                case = template | {
                    "id": f"c{i}",
                    "origin": f"cases.jsonl:{i + 1}",
                    "references": [reference],
                    "vars": {"q": question},
                }
                fh.write(json.dumps(case) + "\n")
        kept = _synthetic_results(small["c0"], small["c1"], out, n, shard)
        info = json.loads((out / "run.json").read_text())
        info["plan"]["requests"] = kept
        (out / "run.json").write_text(json.dumps(info))


def curve(rows: list[tuple[int, str, str, float, float, float]]) -> None:
    """Peak MB, wall and CPU per command across sizes, one line per command and checkout."""
    sizes = sorted({r[0] for r in rows})
    print("\npeak RSS MB / wall s / CPU s by size")
    print(f"{'command':15} {'checkout':28} " + "  ".join(f"{n:>16,}" for n in sizes))
    for name, code in dict.fromkeys((r[1], r[2]) for r in rows):
        cells = {
            r[0]: f"{r[3]:>6.0f} MB {r[4]:>6.1f} s {r[5]:>6.1f} s CPU"
            for r in rows
            if (r[1], r[2]) == (name, code)
        }
        print(f"{name:15} {code[-28:]:28} " + "  ".join(f"{cells.get(n, '-'):>30}" for n in sizes))


def _needed(only: list[str] | None) -> set[str]:
    """The runs the commands in `only` read (made first, and measured too)."""
    if only is None:
        return set()
    return ({"run"} if {"report", "baseline save", "diff"} & set(only) else set()) | (
        {"shard 1/2", "shard 2/2"} if "merge" in only else set()
    )


def main() -> None:
    argv = sys.argv[1:]
    sizes = [int(s) for s in (argv[0] if argv and argv[0][0].isdigit() else "10000,100000").split(",")]
    checkouts = [ROOT] + [Path(argv[i + 1]) for i, a in enumerate(argv) if a == "--against"]
    limit = next((int(argv[i + 1]) for i, a in enumerate(argv) if a == "--run-limit"), 100_000)
    only = next((argv[i + 1].split(",") for i, a in enumerate(argv) if a == "--only"), None)
    print(
        f"{'cases':>8}  {'command':14} {'checkout':28} {'peak RSS MB':>11}  {'wall s':>8}  {'CPU s':>8}",
        flush=True,
    )
    rows: list[tuple[int, str, str, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            dirs = {}
            for k, code in enumerate(checkouts):
                d = Path(tmp) / f"n{n}-c{k}"
                write_suite(d, n if n <= limit else 4, scorers="[exact]")
                (d / "evalkit.yaml").write_text(CONFIG)
                (d / "answers.py").write_text(ANSWERS)
                dirs[code] = d
            todo = commands(n)
            if n > limit:  # synthetic: a small real run and shards, grown to n cases
                for code in checkouts:
                    for _, args, _ in (c for c in todo if c[0] in ("run", "shard 1/2", "shard 2/2")):
                        timed(code, args, dirs[code])
                    synthesize(dirs[code], n)
                todo = [c for c in todo if c[0] not in ("run", "shard 1/2", "shard 2/2")]
            for name, args, ok in [c for c in todo if only is None or c[0] in only or c[0] in _needed(only)]:
                for code in checkouts:
                    rss, wall, rc, cpu = timed(code, args, dirs[code])
                    flag = "" if rc in ok else f"  (exit {rc})"
                    rows.append((n, name + (" *" if n > limit else ""), str(code), rss, wall, cpu))
                    print(
                        f"{n:>8}  {name:14} {str(code)[-28:]:28} {rss:>11.0f}  {wall:>8.1f}  {cpu:>8.1f}{flag}",
                        flush=True,
                    )
    curve(rows)
    print("* a synthetic run directory of that size (see above)")


if __name__ == "__main__":
    main()
