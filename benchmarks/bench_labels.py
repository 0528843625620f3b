"""`evalkit labels import` at scale: a run of 50 cases (scripted provider, no model) and a labels
file of N labels by N/10 labellers on those outputs, imported by the real CLI in its own
process: wall time, peak RSS (ru_maxrss of the child) and how many bytes it printed.

Usage: python -m benchmarks.bench_labels [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def measure(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run = _run(folder)
        _labels(folder / "labels.jsonl", n)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "evalkit", "labels", "import", "labels.jsonl", str(run)],
            cwd=folder,
            capture_output=True,
            env={**os.environ, "COLUMNS": "120"},
            check=True,
        )
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return {
            "labels": n,
            "wall_s": wall,
            "peak_mb": max(peak, before) / 1024,
            "printed_bytes": len(out.stdout),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    for n in parser.parse_args().sizes:
        m = measure(n)
        print(
            f"{m['labels']:>9,} labels: {m['wall_s']:6.1f} s, peak {m['peak_mb']:,.0f} MB, "
            f"printed {m['printed_bytes']:,} bytes"
        )


if __name__ == "__main__":
    main()
