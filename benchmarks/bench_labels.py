"""`evalkit labels import` at scale: a run of 50 cases (scripted provider, no model) and a labels
file of N labels by N/10 labellers on those outputs, imported by the real CLI in its own
process: wall time, peak RSS (ru_maxrss of that child) and how many bytes it printed.

With `--before TREE` (a checkout of an earlier evalkit, e.g. `git worktree add /tmp/before
main`), the same import runs with that tree's code first, on a copy of the same run, and the
ratio is printed: before and after side by side, on one machine, in one run.

Usage: python -m benchmarks.bench_labels [--sizes 100000 1000000] [--before TREE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = 50


def _run(folder: Path) -> Path:
    (folder / "evalkit.yaml").write_text("providers:\n  api: {type: scripted, default: ok}\n")
    cases = "\n".join(f"  - {{id: c{i}, vars: {{q: q{i}}}}}" for i in range(CASES))
    (folder / "s.yaml").write_text(
        f'name: s\nprompt: "{{{{ q }}}}"\nscorers: [json_valid]\ncases:\n{cases}\n'
    )
    cmd = [sys.executable, "-m", "evalkit", "run", "s.yaml", "-o", "run", "--no-baseline", "--no-history"]
    subprocess.run(cmd, cwd=folder, check=True, capture_output=True)
    return folder / "run"


def _labels(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            row = {"suite": "s", "case": f"c{i % CASES}", "labeller": f"person-{i // 10}", "verdict": "pass"}
            fh.write(json.dumps(row) + "\n")


def _import(folder: Path, run: Path, code: Path | None) -> dict[str, float]:
    """One import in its own process; `code`: a source tree to import evalkit from instead.
    The child is reaped with wait4, so its own peak RSS is read (not the largest child's)."""
    env = {**os.environ, "COLUMNS": "120"}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    started = time.perf_counter()
    with (folder / "out.txt").open("wb") as out, (folder / "err.txt").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "evalkit", "labels", "import", "labels.jsonl", str(run)],
            cwd=folder,
            stdout=out,
            stderr=err,
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        message = (folder / "err.txt").read_text()[-2000:]
        raise SystemExit(f"labels import failed ({proc.returncode}): {message}")
    printed = (folder / "out.txt").stat().st_size
    return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024, "printed_bytes": printed}


def measure(n: int, before: Path | None) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run = _run(folder)
        _labels(folder / "labels.jsonl", n)
        out = {}
        for name, code in ([("before", before)] if before is not None else []) + [("after", None)]:
            copy = folder / f"run-{name}"
            shutil.copytree(run, copy)
            out[name] = _import(folder, copy, code)
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--before", type=Path, help="a source tree of an earlier evalkit to compare with")
    args = parser.parse_args()
    for n in args.sizes:
        m = measure(n, args.before)
        for name, f in m.items():
            print(
                f"{n:>9,} labels, {name:>6}: {f['wall_s']:6.1f} s, peak {f['peak_mb']:,.0f} MB, "
                f"printed {f['printed_bytes']:,} bytes"
            )
        if "before" in m:
            b, a = m["before"], m["after"]
            print(
                f"{n:>9,} labels: {b['wall_s'] / a['wall_s']:.1f}× faster, "
                f"{b['peak_mb'] / a['peak_mb']:.1f}× less memory"
            )


if __name__ == "__main__":
    main()
