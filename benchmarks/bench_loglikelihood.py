"""Log-likelihood multiple choice on the embedded model: evalkit (`evalkit run`, transformers
provider) against lm-evaluation-harness's own run (HFLM, a multiple_choice task) on the same
items, each in its own process, interleaved (A B A B ...) so the ratio holds on a busy machine.
Prints CPU seconds and wall seconds per item and the ratios, and checks that both chose alike.

    python benchmarks/bench_loglikelihood.py --items 64 --rounds 2
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

CHOICES = ["red", "blue", "green", "yellow"]

LM_EVAL = """
import json, sys
from lm_eval import simple_evaluate
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
data, model, out = sys.argv[1:4]
task = {"task": "bench_mc", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": data}},
        "test_split": "test", "output_type": "multiple_choice", "doc_to_text": "Question: {{q}}\\nAnswer:",
        "doc_to_choice": "{{choices}}", "doc_to_target": "{{gold}}", "metric_list": [{"metric": "acc"}]}
result = simple_evaluate(model=HFLM(pretrained=model, batch_size=8, device="cpu", dtype="float32"),
                         tasks=[task], log_samples=True, task_manager=TaskManager())
picks = {s["doc"]["id"]: max(range(4), key=lambda i: s["filtered_resps"][i][0]) for s in result["samples"]["bench_mc"]}
json.dump(picks, open(out, "w"))
"""


def write_items(folder: Path, n: int) -> tuple[Path, Path]:
    items = [
        {
            "id": f"q{i}",
            "q": f"Which colour is item number {i} in the picture?",
            "choices": CHOICES,
            "gold": i % 4,
        }
        for i in range(n)
    ]
    data = folder / "items.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in items))
    cases = folder / "cases.jsonl"
    cases.write_text(
        "".join(
            json.dumps({"id": x["id"], "vars": {"q": x["q"]}, "choices": x["choices"], "gold": x["gold"]})
            + "\n"
            for x in items
        )
    )
    (folder / "mc.yaml").write_text(
        'name: mc\nprompt: "Question: {{ q }}\\nAnswer:"\nscorers: [multiple_choice]\ncases: cases.jsonl\n'
    )
    (folder / "evalkit.yaml").write_text(
        "providers:\n  local: {type: transformers, batch_size: 8}\nvariants:\n  emb: {provider: local}\n"
    )
    return data, folder / "mc.yaml"


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:3]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from evalkit.providers import embedded

    model = str(embedded.ensure_converted()[0])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data, suite = write_items(folder, args.items)
        times: dict[str, list[tuple[float, float]]] = {"evalkit": [], "lm-eval": []}
        script = folder / "lm_eval_run.py"
        script.write_text(LM_EVAL)
        for r in range(args.rounds):
            out = folder / f"lm_{r}.json"
            run_dir = folder / f"run{r}"
            times["evalkit"].append(
                timed(
                    [
                        sys.executable,
                        "-m",
                        "evalkit",
                        "run",
                        str(suite),
                        "--no-cache",
                        "--no-baseline",
                        "--no-history",
                        "--out",
                        str(run_dir),
                    ],
                    folder,
                    env,
                )
            )
            times["lm-eval"].append(
                timed([sys.executable, str(script), str(data), model, str(out)], folder, env)
            )
        ours = {
            json.loads(line)["case_id"]: json.loads(line)["output"]
            for line in (folder / "run0" / "results.jsonl").read_text().splitlines()
        }
        theirs = json.loads((folder / "lm_0.json").read_text())
        agree = sum(ours[k] == CHOICES[v] for k, v in theirs.items())
    print(f"{args.items} items x {len(CHOICES)} choices, {args.rounds} interleaved rounds (best of each)")
    print(f"{'tool':<10}{'CPU s/item':>12}{'wall s/item':>13}")
    best = {k: min(v, key=lambda t: t[1]) for k, v in times.items()}
    for name, (cpu, wall) in best.items():
        print(f"{name:<10}{cpu / args.items:>12.4f}{wall / args.items:>13.4f}")
    e, lm = best["evalkit"], best["lm-eval"]
    print(
        f"lm-eval / evalkit: CPU {lm[0] / e[0]:.2f}x, wall {lm[1] / e[1]:.2f}x; same choice on {agree}/{len(theirs)}"
    )


if __name__ == "__main__":
    main()
