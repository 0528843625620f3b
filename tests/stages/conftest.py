"""Helpers for the stage tests: a real plan from files, the execute stage run on its own, what
concluding a run read, and a run's concluded files."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit.providers.service import build_providers
from evalkit.rundir.dir import RUN_FILES
from evalkit.rundir.files import ResultWriter, read_results
from evalkit.spec.config import load_config
from evalkit.spec.suite import load_suite
from evalkit.stages.execute import Runner
from evalkit.stages.plan import Plan, build_plan
from evalkit.types import CaseResult
from tests.conftest import write

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")


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


def concluded_files(run_dir: Path) -> dict[str, str]:
    """Every file of a run directory that `finish` writes or reads, timestamps masked."""
    return {
        name: STAMP.sub("<time>", (run_dir / name).read_text())
        for name in RUN_FILES
        if (run_dir / name).is_file()
    }


@pytest.fixture
def conclude_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the files read back line by line (`rundir.files.read_lines_at`: results.jsonl
    by any reader) while `finish` runs `conclude`, one entry a read; not the report's or the
    history's reads, which come after."""
    from evalkit.rundir import files
    from evalkit.stages import finish as finish_module

    reads: list[str] = []
    concluding = [False]
    real_conclude, real_lines_at = finish_module.conclude, files.read_lines_at

    def conclude(inp: Any) -> Any:
        concluding[0] = True
        try:
            return real_conclude(inp)
        finally:
            concluding[0] = False

    def read_lines_at(path: Path, parse: Callable[[str], Any]) -> Iterator[Any]:
        if concluding[0]:
            reads.append(path.name)
        return real_lines_at(path, parse)

    monkeypatch.setattr(finish_module, "conclude", conclude)
    monkeypatch.setattr(files, "read_lines_at", read_lines_at)
    yield reads


@pytest.fixture
def report_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """How report.html got its cases, one entry a report written: "results.jsonl" (read back from
    the file), "fed" (the blocks a run built as it wrote its results), "fed, N chunks again"
    (those blocks, N chunks rebuilt from their lines for the gate's verdicts)."""
    from evalkit.report import html

    reads: list[str] = []
    real_chunks, real_rebuilt, real_fed = html.case_chunks, html._rebuilt, html._fed_pieces

    def case_chunks(*args: Any, **kwargs: Any) -> Any:
        reads.append("results.jsonl")
        return real_chunks(*args, **kwargs)

    def rebuilt(run_dir: Any, ctx: Any, ranges: list[tuple[int, int]]) -> Any:
        if ranges:
            reads[-1] += f", {len(ranges)} chunks again"
        return real_rebuilt(run_dir, ctx, ranges)

    def fed_pieces(run_dir: Any, fed: Any) -> Any:
        reads.append("fed")
        return real_fed(run_dir, fed)

    monkeypatch.setattr(html, "case_chunks", case_chunks)
    monkeypatch.setattr(html, "_rebuilt", rebuilt)
    monkeypatch.setattr(html, "_fed_pieces", fed_pieces)
    yield reads


@pytest.fixture
def three_case_run(workdir: Path, cli: Any, fake_server: Any) -> Callable[[], Path]:
    """`evalkit run` of suites/s.yaml (3 cases) against the fake server into runs/a, with no
    baseline and no history (a test patches what it needs first); the run directory."""
    from tests.helpers.processes import config, suite

    def run() -> Path:
        suite(workdir / "suites" / "s.yaml", 3)
        config(workdir / "evalkit.yaml", fake_server.url)
        ran = cli("run", "suites/s.yaml", "-o", "runs/a", "--no-baseline", "--no-history")
        assert ran.exit_code == 0, ran.output
        return workdir / "runs" / "a"

    return run
