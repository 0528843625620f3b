"""The doors to other tools (issue 25), measured:

1. pytest plugin overhead per case: the same suite (scripted provider, N cases) through
   `evalkit run` and through `pytest --evalkit` (and with `-n 2`), each a fresh process.
2. OpenTelemetry export of a 10,000-case run (`evalkit export RUN --otlp`'s code) to an OTLP/HTTP
   receiver on 127.0.0.1 that decodes every request (in this process, so it shares the CPU).
3. MLflow export of the same run, when an `mlflow server` is given (EVALKIT_MLFLOW_URL).

Usage: python benchmarks/bench_integrations.py [N_PLUGIN_CASES]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT

CONFIG = (
    "providers:\n  p: {type: scripted, default: hello}\nvariants:\n  v: {provider: p}\n"
    "cache: {enabled: false}\nhistory: {enabled: false}\n"
)


def suite(n: int) -> str:
    cases = "\n".join(f"  - {{id: c{i}, vars: {{q: question {i}}}, reference: hello}}" for i in range(n))
    return f'name: s\nprompt: "{{{{ q }}}}"\nscorers: [exact]\ncases:\n{cases}\n'


def timed(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return took


def plugin_overhead(n: int, folder: Path) -> None:
    (folder / "suites").mkdir()
    (folder / "suites" / "s.yaml").write_text(suite(n))
    (folder / "evalkit.yaml").write_text(CONFIG)
    base = pytest_1 = pytest_2 = float("inf")
    for k in range(3):  # best of 3, interleaved
        base = min(base, timed(["-m", "evalkit", "run", "suites", "--out", f"r{k}", "--no-baseline"], folder))
        pytest_1 = min(
            pytest_1,
            timed(
                [
                    "-m",
                    "pytest",
                    "--evalkit",
                    "suites",
                    "--evalkit-out",
                    f"p{k}",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                ],
                folder,
            ),
        )
        pytest_2 = min(
            pytest_2,
            timed(
                [
                    "-m",
                    "pytest",
                    "--evalkit",
                    "suites",
                    "--evalkit-out",
                    f"x{k}",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "-n",
                    "2",
                ],
                folder,
            ),
        )
    print(f"plugin, {n} cases (best of 3, wall):")
    print(f"  evalkit run          {base:6.2f} s")
    print(f"  pytest --evalkit     {pytest_1:6.2f} s  (+{(pytest_1 - base) / n * 1000:.2f} ms per case)")
    print(f"  pytest --evalkit -n2 {pytest_2:6.2f} s  (+{(pytest_2 - base) / n * 1000:.2f} ms per case)")


def big_run(folder: Path, n: int = 10_000) -> Path:
    (folder / "s.yaml").write_text(suite(n))
    (folder / "evalkit.yaml").write_text(CONFIG)
    timed(["-m", "evalkit", "run", "s.yaml", "--out", "big", "--no-baseline"], folder)
    return folder / "big"


def otlp_export(run_dir: Path) -> None:
    from evalkit.integrations import otel_out
    from tests.integrations.conftest import OtlpReceiver

    receiver = OtlpReceiver()
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.url
    try:
        got = otel_out.export_run(run_dir)
    finally:
        receiver.stop()
    received = len(receiver.spans())
    assert got.error is None and received == got.spans, (got, received)
    print(
        f"OTLP export, {got.traces:,} cases: {got.seconds:.2f} s, {got.spans:,} spans, "
        f"{len(receiver.requests)} requests ({got.seconds / got.traces * 1e6:.0f} µs per case)"
    )


def mlflow_export(run_dir: Path) -> None:
    url = os.environ.get("EVALKIT_MLFLOW_URL")
    if not url:
        print("MLflow export: skipped (set EVALKIT_MLFLOW_URL to an mlflow server)")
        return
    from evalkit.integrations import mlflow_export as mx

    started = time.perf_counter()
    got = mx.export_run(run_dir, tracking_uri=url, experiment="bench")
    took = time.perf_counter() - started
    print(f"MLflow export, 10,000 cases: {took:.2f} s, {got.metrics} metrics, {got.artifacts} artifacts")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["EVALKIT_CACHE_DIR"] = str(home / "cache")
        (home / "plugin").mkdir()
        plugin_overhead(n, home / "plugin")
        (home / "big").mkdir()
        run_dir = big_run(home / "big")
        otlp_export(run_dir)
        mlflow_export(run_dir)


if __name__ == "__main__":
    main()
