"""The plan's chunks run back to back (evalkit/stages/chunks.py): the next chunk's requests go
out while the current one drains, never more in flight than the connection's limit, at most two
chunks rendered at once, engines one batch at a time, and the breaker and the deadline as before."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from evalkit import Completion, Provider, Request, plugins
from evalkit.errors import CircuitOpenError, RunDeadlineError
from evalkit.providers.scripted import ScriptedSettings
from evalkit.rundir.files import read_results
from evalkit.stages import chunks, execute
from tests.fake_openai import FakeOpenAI, Fault
from tests.stages.conftest import plan_of, run_stage


def test_the_next_chunk_runs_while_the_current_one_waits_for_its_last_answer(tmp_path: Path) -> None:
    """Chunk [a, b] waits on b (0.5 s): c and d, the next chunk, are answered meanwhile; run
    one chunk after another, they would be written after b."""
    providers = "  p: {type: scripted, default: ok, answers: {b: {text: late, latency_s: 0.5}}}\n"
    results = run_stage(plan_of(tmp_path, providers, ["a", "b", "c", "d"]), tmp_path, chunk=2)
    assert [r.case_id for r in results][-1] == "b"
    assert sorted(r.case_id for r in results) == ["a", "b", "c", "d"]


def test_over_http_the_stream_goes_on_across_chunks_and_in_flight_stays_at_the_limit(
    tmp_path: Path, fake_server: FakeOpenAI
) -> None:
    """The openai provider against the fake server, 4 in flight, chunks of 8: the last request
    of the first chunk hangs 0.6 s, and the next chunks' requests are answered meanwhile, the
    server never holding more than 4 requests at once."""
    answered: list[str] = []

    def recorder(body: dict[str, Any]) -> str:
        answered.append(body["messages"][-1]["content"])
        return "ok"

    fake_server.responder = recorder
    fake_server.latency_s = 0.05
    fake_server.add_fault(Fault(hang_s=0.6, match='q-c07"'))
    cases = [f"c{i:02d}" for i in range(24)]
    providers = f"  p: {{type: openai, base_url: '{fake_server.url}', model: m, concurrency: 4}}\n"
    results = run_stage(plan_of(tmp_path, providers, cases), tmp_path, chunk=8)
    assert sorted(r.case_id for r in results) == cases and all(r.error is None for r in results)
    assert fake_server.max_in_flight == 4  # the limit, exactly: never more, and reached
    later = [q for q in answered[: answered.index("q-c07")] if q >= "q-c08"]
    assert len(later) >= 4  # the second chunk went on while the first waited for c07


def test_in_flight_never_exceeds_the_limit_when_chunks_overlap(
    tmp_path: Path, fake_server: FakeOpenAI
) -> None:
    fake_server.latency_s = 0.02
    cases = [f"c{i:02d}" for i in range(40)]
    providers = f"  p: {{type: openai, base_url: '{fake_server.url}', model: m, concurrency: 3}}\n"
    results = run_stage(plan_of(tmp_path, providers, cases), tmp_path, chunk=5)
    assert len(results) == 40 and fake_server.max_in_flight == 3


def test_overlapping_chunks_of_two_providers_with_a_fallback_answer_each_request_once(tmp_path: Path) -> None:
    """The merged stream of several providers (`ProviderService.answers`), chunks of 3 over
    two variants: every failed request of `p` is answered by its fallback, every request once."""
    providers = (
        "  p: {type: scripted, default: primary, latency_s: 0.01, concurrency: 2, "
        "answers: {c1: {error: HTTP 503}, c4: {error: HTTP 503}, c8: {error: HTTP 503}}}\n"
        "  backup: {type: scripted, respond: 'tests.stages.test_chunks:echo_ok', concurrency: 1}\n"
        "  q: {type: scripted, default: other, latency_s: 0.01, concurrency: 2}\n"
    )
    variants = "v: {provider: p, fallback: backup}\n  w: {provider: q}"
    cases = [f"c{i}" for i in range(10)]
    plan = plan_of(tmp_path, providers, cases, variants=variants)
    results = run_stage(plan, tmp_path, chunk=3)
    assert sorted((r.variant, r.case_id) for r in results) == sorted((v, c) for v in "vw" for c in cases)
    fell_back = {r.case_id: r for r in results if r.fallback_from is not None}
    assert sorted(fell_back) == ["c1", "c4", "c8"]
    assert all(r.provider == "backup" and r.output == "ok-" + r.case_id for r in fell_back.values())
    assert all(
        r.output == ("other" if r.variant == "w" else "primary") for r in results if r.fallback_from is None
    )


def echo_ok(request: Request) -> str:
    return "ok-" + request.case_id


def test_at_most_two_chunks_are_rendered_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendered and not yet answered: at most two chunks (the answers queued for the writer,
    bounded by the queue, are the consumer's, not a chunk's)."""
    held: list[int] = []
    queued = [0]  # answered, not yet written
    hold, release, handoff = execute.InFlight.hold, execute.InFlight.release, execute.handoff

    def counting(self: execute.InFlight, request: Request, case: Any) -> None:
        hold(self, request, case)
        held.append(len(self) - queued[0])

    async def handed(queue: Any, item: Any, consumer: Any) -> None:
        queued[0] += item is not None
        await handoff(queue, item, consumer)

    def released(self: execute.InFlight, suite: str, case_id: str) -> None:
        queued[0] -= 1
        release(self, suite, case_id)

    monkeypatch.setattr(execute.InFlight, "hold", counting)
    monkeypatch.setattr(execute.InFlight, "release", released)
    monkeypatch.setattr(execute, "handoff", handed)
    providers = "  p: {type: scripted, default: ok, latency_s: 0.01, concurrency: 2}\n"
    results = run_stage(plan_of(tmp_path, providers, [f"c{i}" for i in range(40)]), tmp_path, chunk=4)
    assert len(results) == 40 and len(held) == 40 and queued == [0]
    assert 4 < max(held) <= 2 * 4  # two chunks overlap, never three


class SlowBatcher(Provider[ScriptedSettings]):
    """An engine that batches: how many of its batches ran at once."""

    settings_model = ScriptedSettings
    batches = True
    running: ClassVar[list[int]] = [0, 0]  # now, most

    async def generate(self, batch: Sequence[Request]) -> AsyncIterator[tuple[Request, Completion]]:
        self.running[0] += 1
        self.running[1] = max(self.running)
        try:
            for request in batch:
                await asyncio.sleep(0.01)
                yield request, Completion(text="ok-" + request.case_id)
        finally:
            self.running[0] -= 1


def test_an_engine_that_batches_runs_one_batch_at_a_time(tmp_path: Path) -> None:
    plugins.providers.register("slow_batcher", SlowBatcher)
    plan = plan_of(tmp_path, "  p: {type: slow_batcher}\n", [f"c{i}" for i in range(9)])
    results = run_stage(plan, tmp_path, chunk=2)
    assert sorted(r.output or "" for r in results) == sorted(f"ok-c{i}" for i in range(9))
    assert SlowBatcher.running == [0, 1]


def test_the_circuit_breaker_stops_overlapping_chunks_with_its_own_error(tmp_path: Path) -> None:
    providers = "  p: {type: scripted, default: {error: 'Connection refused'}, concurrency: 2}\n"
    plan = plan_of(tmp_path, providers, [f"c{i}" for i in range(12)], "run: {stop_after_failures: 3}\n")
    with pytest.raises(CircuitOpenError, match="first 3 requests"):
        run_stage(plan, tmp_path, chunk=2)
    written = list(read_results(tmp_path / "results.jsonl"))
    assert 3 <= len(written) < 12  # what finished is kept, the rest was not sent


def test_the_deadline_keeps_the_later_chunks_that_finished(tmp_path: Path) -> None:
    """A request of the first chunk never finishes: the deadline abandons it, and the next
    chunk, which ran meanwhile, is kept."""
    providers = "  p: {type: scripted, default: ok, answers: {b: {text: late, latency_s: 30}}}\n"
    plan = plan_of(tmp_path, providers, ["a", "b", "c", "d"])
    started = time.perf_counter()
    with pytest.raises(RunDeadlineError):
        run_stage(plan, tmp_path, chunk=2, deadline_s=0.5)
    assert time.perf_counter() - started < 5
    assert sorted(r.case_id for r in read_results(tmp_path / "results.jsonl")) == ["a", "c", "d"]


def requests(n: int) -> list[Request]:
    return [
        Request(key=f"s/{i}/v/0", suite="s", case_id=str(i), variant="v", repeat=0, messages=(), params={})  # type: ignore[arg-type]
        for i in range(n)
    ]


def test_rendering_chunks_turns_the_event_loop_between_slices() -> None:
    async def go() -> tuple[list[int], int]:
        turns = [0]

        async def ticking() -> None:
            while True:
                turns[0] += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(ticking())
        await asyncio.sleep(0)
        sizes = []
        async for batches in chunks.rendered(iter(requests(3000)), {"v": "p"}, 1000, first=100):
            sizes.append(len(batches["p"]))
        ticker.cancel()
        return sizes, turns[0]

    sizes, turns = asyncio.run(go())
    assert sizes == [100, 1000, 1000, 900]
    assert turns >= 3000 // chunks.SLICE - 4  # not one chunk in one go: the loop turned between slices
