"""Helpers for the stage tests: a real plan from files, and the execute stage run on its own."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from evalkit.providers.service import build_providers
from evalkit.rundir.files import ResultWriter, read_results
from evalkit.spec.config import load_config
from evalkit.spec.suite import load_suite
from evalkit.stages.execute import Runner
from evalkit.stages.plan import Plan, build_plan
from evalkit.types import CaseResult
from tests.conftest import write


def plan_of(
    root: Path, providers: str, cases: list[str], extra: str = "", variants: str = "v: {provider: p}"
) -> Plan:
    """A plan of one suite whose case `c` asks `q-c` and expects `ok-c`, by default one variant
    `v` on provider `p` (`extra`: more of evalkit.yaml, e.g. a `run:` section)."""
    write(root / "evalkit.yaml", f"providers:\n{providers}\nvariants:\n  {variants}\n{extra}")
    listed = "".join(f"  - {{id: {c}, vars: {{q: q-{c}}}, reference: ok-{c}}}\n" for c in cases)
    write(root / "s.yaml", f'name: s\nprompt: "{{{{ q }}}}"\nscorers: [exact]\ncases:\n{listed}')
    return build_plan(load_config(root / "evalkit.yaml"), [load_suite(root / "s.yaml")])


def run_stage(plan: Plan, root: Path, **kw: Any) -> list[CaseResult]:
    """The execute stage on its own (`kw`: the Runner's options); the results on disk, in the
    order they were written, also when the run raised (read them from root/results.jsonl)."""
    writer = ResultWriter(root / "results.jsonl")
    try:
        asyncio.run(Runner(plan, build_providers(plan.providers), writer, **kw).run())
    finally:
        writer.close()
    return list(read_results(root / "results.jsonl"))
