from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def settle(page: Any, section: str = "#cases") -> Any:
    """Wait until a section of the report is done: a search reads the case chunks one at a time
    and the cells of a page are decoded from theirs, so its tables fill in asynchronously (the
    section is aria-busy meanwhile). Returns the page."""
    page.wait_for_selector(f"{section}:not([aria-busy])", timeout=60_000)
    return page


def big_run(root: Path, n: int) -> Path:
    """A synthetic run directory of n results (two variants per case id, written line by line as
    `evalkit run` writes them); `failing` says which fail, by the exact scorer, which decides the
    pass (summary.json from the first 1,000, its counts those of all n)."""
    from evalkit.compare.aggregate import Summary, summarize_group
    from evalkit.scorers.base import metric_infos
    from evalkit.spec.suite import ScorerSpec
    from evalkit.types import CaseResult, Threshold

    run = root / f"run{n}"
    run.mkdir()
    sample: list[CaseResult] = []
    with (run / "results.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            ok = not failing(i)
            row = {
                "schema_version": 3,
                "suite": "big",
                "case_id": f"case-{i // 2}",
                "variant": "ab"[i % 2],
                "repeat": 0,
                "provider": "api",
                "model": "m",
                "tags": [f"t{i % 3}"],
                "messages": [
                    {"role": "system", "content": "Answer in one sentence."},
                    {"role": "user", "content": f"question {i} about river {i % 97}"},
                ],
                "references": [f"answer {i // 2}"],
                "output": "I do not know" if not ok else f"the answer to question {i} is river {i % 89}",
                "latency_ms": 100 + (i * 37) % 900,
                "usage": {"input_tokens": 20, "output_tokens": 9},
                "cost_usd": 0.00002,
                "scores": {"exact": {"value": float(ok), "passed": ok, "reason": None}},
            }
            fh.write(json.dumps(row) + "\n")
            if i < 1_000:
                sample.append(CaseResult.model_validate(row))
    infos = metric_infos([ScorerSpec(type="exact")])
    groups = [
        summarize_group([r for r in sample if r.variant == v], infos, {"exact": Threshold(min=0.5)})
        for v in "ab"
    ]
    summary = Summary(
        run_id="big", status="failed", exit_code=1, results=n, errors=0, error_budget="", groups=groups
    )
    (run / "summary.json").write_text(summary.model_dump_json())
    (run / "run.json").write_text(json.dumps({"run_id": "big", "options": {}}))
    return run


def failing(i: int) -> bool:
    """Whether big_run's i-th result fails (both variants have failures)."""
    return i % 5 == 3


def haystack(i: int) -> str:
    """What the case table's search looks through for big_run's i-th result (report.js)."""
    output = "I do not know" if failing(i) else f"the answer to question {i} is river {i % 89}"
    return "\n".join(
        [f"case-{i // 2}", output, "", "Answer in one sentence.", f"question {i} about river {i % 97}"]
    )
