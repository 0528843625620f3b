"""The execute stage: drive every provider concurrently through the cache, with fallbacks and a
deadline, score in batches and stream each result to results.jsonl as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from evalkit._util.causes import FATAL, cause_of
from evalkit._util.jsontext import Encoder
from evalkit.compare import baseline
from evalkit.compare.judgecost import with_judges
from evalkit.errors import CircuitOpenError, RunDeadlineError
from evalkit.providers.base import Provider
from evalkit.providers.cache import ResponseCache
from evalkit.providers.service import Answer, Connected, ProviderService
from evalkit.rundir.files import ResultWriter
from evalkit.spec.prices import Price
from evalkit.spec.suite import tools_json
from evalkit.stages.chunks import FIRST, Chunk, back_to_back, rendered
from evalkit.stages.plan import CHUNK, Plan
from evalkit.stages.scoring import RunContext, score_batch, score_input
from evalkit.types import (
    CaseResult,
    Completion,
    Message,
    Request,
    Score,
    normalise_finish,
)

if TYPE_CHECKING:
    from evalkit.spec.config import Variant
    from evalkit.spec.suite import Case


QUEUE_SIZE = 1024  # answers waiting to be scored and written; generation waits beyond it
# turns of the event loop the consumer lets pass between an answer's arrival and scoring and
# writing what is queued: the freed slots' next requests go out first (each takes two turns:
# its task, then the HTTP client's task that writes the body)
YIELDS = 3
RETRIEVAL_FAILURE = "retrieval failure: the retriever returned nothing for this case's query"


class RunObserver(Protocol):
    def status(self, message: str) -> None: ...
    def result(self, result: CaseResult) -> None: ...


class NullObserver:
    def status(self, message: str) -> None:
        pass

    def result(self, result: CaseResult) -> None:
        pass


class Runner:
    """Executes a plan: every provider concurrently, through the response cache, with
    fallbacks for failed requests; results are scored in batches and appended as they come."""

    def __init__(
        self,
        plan: Plan,
        providers: Mapping[str, Provider[Any]],
        writer: ResultWriter,
        observer: RunObserver | None = None,
        *,
        cache: ResponseCache | None = None,
        skip: set[str] | None = None,
        deadline_s: float | None = None,
        baseline_dir: Path | None = None,
        chunk: int = CHUNK,
    ):
        self.plan = plan
        self.chunk = chunk  # requests rendered and handed to the providers at a time
        self.writer = writer
        self.observer = observer or NullObserver()
        self.cache = cache
        self.skip = skip or set()
        self.deadline_s = deadline_s
        self.suites = {s.name: s for s in plan.suites}
        self.cases = InFlight()  # the cases of the requests not yet written: never every case
        self.variants = {v.name: v for v in plan.variants}
        self.timings: dict[str, float] = {}
        self._prices: dict[tuple[str, str | None], Price | None] = {}  # per provider × model
        self.providers = providers  # instances: see providers.service.build_providers
        self.service = ProviderService(providers, cache, status=self.observer.status, timings=self.timings)
        outputs = baseline.outputs_of(baseline_dir)
        self.context = RunContext(plan, cache, outputs, service=self.service)

    def pricing(self, provider: str, model: str | None) -> Price | None:
        """The price of a provider's model, looked up once per run (not once per result)."""
        key = (provider, model)
        if key not in self._prices:
            vendor = self.providers[provider].price_vendor()
            self._prices[key] = self.plan.loaded.pricing_for(provider, model, vendor)
        return self._prices[key]

    async def run(self) -> None:
        started = time.perf_counter()
        queue: asyncio.Queue[Answer | None] = asyncio.Queue(maxsize=QUEUE_SIZE)  # bounded: backpressure
        consumer = asyncio.create_task(self._consume(queue))
        try:
            self.observer.status("evaluating")
            provider_of = {v.name: v.provider for v in self.plan.variants}
            for request in self.plan.retrieval_failures(self.skip, self.cases.hold):
                failure = Completion(error=RETRIEVAL_FAILURE)
                await handoff(queue, Answer(request, failure, provider_of[request.variant]), consumer)
            try:
                async with asyncio.timeout(self.deadline_s):
                    await self._generate(queue, consumer)
            except TimeoutError:
                raise RunDeadlineError(
                    f"the run deadline of {self.deadline_s:g}s passed: unfinished cases were abandoned "
                    "(resume with --resume RUN_DIR)"
                ) from None
            finally:
                if not consumer.done():
                    await handoff(queue, None, consumer)
                await consumer
        finally:
            await self.service.aclose()
            self.timings["execute_s"] = time.perf_counter() - started

    async def _generate(self, queue: asyncio.Queue[Answer | None], consumer: asyncio.Task[None]) -> None:
        """The plan's requests, rendered and generated a chunk at a time (memory stays bounded
        whatever the run's size), the next chunk started as the current one drains (see
        stages/chunks.py), each answer handed to scoring as it finishes."""
        breaker = Breaker(self.plan.loaded.config.run.stop_after_failures)
        variants = self.variants

        def fallback_for(request: Request) -> str | None:
            return variants[request.variant].fallback

        async def run(chunk: Chunk) -> None:
            answers = self.service.answers(chunk.batches, fallback_for)
            async with contextlib.aclosing(answers):
                async for answer in answers:
                    await handoff(queue, answer, consumer)
                    breaker.check(answer[2], answer[1])
                    chunk.answered()

        lead = overlap(self.providers, self.plan.variants)
        requests = self.plan.generated(self.skip, hold=self.cases.hold)
        # a small first chunk, when chunks overlap: the first request goes out at once
        first = min(FIRST, self.chunk) if lead else None
        await back_to_back(rendered(requests, self.plan.provider_of, self.chunk, first), run, lead)

    @contextlib.contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        """Where a run's time goes, recorded in run.json's timings_s (stages add up)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    async def _consume(self, queue: asyncio.Queue[Answer | None]) -> None:
        """Score and write what is queued, a batch at a time. Answers arrive in clumps (several
        in one turn of the event loop); each one's slot sends its next request a turn or two
        later. Taken at once, the batch's scoring and writing would run before those sends and
        delay every other slot of the clump; taken YIELDS turns later, it runs while they are
        in flight (and the batch holds the whole clump: fewer, larger writes)."""
        done = False
        while not done:
            item = await queue.get()
            for _ in range(YIELDS):
                await asyncio.sleep(0)
            batch: list[Answer] = []
            if item is None:
                done = True
            else:
                batch.append(item)
            while not done and len(batch) < 256:
                try:
                    nxt = queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if nxt is None:
                    done = True
                else:
                    batch.append(nxt)
            if batch:
                await self._score_and_write(batch)

    async def _score_and_write(self, batch: list[Answer]) -> None:
        by_suite: dict[str, list[Answer]] = defaultdict(list)
        for item in batch:
            by_suite[item[0].suite].append(item)
        for suite_name, items in by_suite.items():
            inputs = [
                score_input(
                    suite_name,
                    self.cases.case(suite_name, request.case_id),
                    request.variant,
                    request.repeat,
                    request.messages,
                    completion.text if completion.error is None else None,
                    request.retrieval,
                    request.retrieval_query,
                    trace=completion,
                )
                for request, completion, _, _ in items
            ]
            with self._timed("score_s"):
                scored = await score_batch(inputs, self.plan.scorers[suite_name], self.context)
            ledger = self.context.ledger
            results = []
            for (request, completion, provider, fallback_from), scores in zip(items, scored, strict=True):
                result = self._result(request, completion, scores, provider, fallback_from)
                judges = ledger.take(result.key) if ledger.usage else None
                if judges:  # a judge scored it: its calls, tokens and cost go on the result
                    result = with_judges(result, judges, replace=True)
                elif result.cost_usd is not None:  # rounded as with_judges rounds it, without a copy
                    result.cost_usd = round(result.cost_usd, 12)
                results.append(result)
            self.writer.extend(results)  # the scored batch in one write
            for result in results:
                self.cases.release(result.suite, result.case_id)
                self.observer.result(result)

    def _result(
        self,
        request: Request,
        completion: Completion,
        scores: dict[str, Score],
        provider: str,
        fallback_from: str | None,
    ) -> CaseResult:
        case = self.cases.case(request.suite, request.case_id)
        model = self.providers[provider].model_name(request)
        price = self.pricing(provider, model)
        cost = None
        if price is not None and completion.error is None:
            cost = price.cost(completion.usage)
        finish, vendor_finish = normalise_finish(
            completion.finish_reason, failed=completion.error is not None
        )
        return CaseResult(
            suite=request.suite,
            case_id=request.case_id,
            variant=request.variant,
            repeat=request.repeat,
            provider=provider,
            model=model,
            tags=case.tags,
            case_hash=self.cases.hash(request.suite, case),
            input_hash=input_hash(request, case.references),
            messages=request.messages,
            references=case.references,
            finish_reason=finish,
            vendor_finish_reason=vendor_finish,
            cost_usd=cost,
            fallback_from=fallback_from,
            retrieval_query=request.retrieval_query,
            retrieval_ids=None if request.retrieval is None else [c.id for c in request.retrieval],
            retrieval=request.retrieval,
            scores={name: s.stored() for name, s in scores.items()},
            **completion.result_fields(),
        )


class InFlight:
    """The cases of the requests rendered and not yet written, each with how many of its
    requests are pending and its hash (computed once: variants and repeats share it). Bounded
    by what the plan renders at a time, so a run of any size keeps a few thousand cases."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], list[Any]] = {}  # [case, pending requests, hash | None]

    def hold(self, request: Request, case: Case) -> None:
        entry = self._held.get((request.suite, case.id))
        if entry is None:
            self._held[(request.suite, case.id)] = [case, 1, None]
        else:
            entry[1] += 1

    def case(self, suite: str, case_id: str) -> Case:
        return self._held[(suite, case_id)][0]  # type: ignore[no-any-return]

    def hash(self, suite: str, case: Case) -> str:
        entry = self._held[(suite, case.id)]
        if entry[2] is None:
            entry[2] = case_hash(case)
        return entry[2]  # type: ignore[no-any-return]

    def release(self, suite: str, case_id: str) -> None:
        """One of the case's requests is written; the last lets the case go."""
        entry = self._held[(suite, case_id)]
        entry[1] -= 1
        if entry[1] <= 0:
            del self._held[(suite, case_id)]

    def __len__(self) -> int:
        return len(self._held)


def overlap(providers: Mapping[str, Provider[Any]], variants: Sequence[Variant]) -> int:
    """How many answers before a chunk's end the next one starts: what the connections of the
    variants' providers and fallbacks let be in flight. 0 (one chunk after another) when one of
    them takes no limiter: an engine that batches, or a provider that drives its own channel."""
    names = {v.provider for v in variants} | {v.fallback for v in variants if v.fallback is not None}
    limits: dict[int, int] = {}
    for name in names:
        provider = providers[name]
        if not isinstance(provider, Connected):
            return 0
        limits[id(provider.limiter)] = provider.limiter.maximum
    return sum(limits.values())


class Breaker:
    """The circuit breaker: the first `limit` answers of each provider, and whether they all
    failed for one cause that no retry fixes (evalkit._util.causes.FATAL). Then the run stops:
    its results so far are kept and concluded, and the error names the cause."""

    def __init__(self, limit: int):
        self.limit = limit
        self.first: dict[str, list[str | None]] = defaultdict(list)

    def check(self, provider: str, completion: Completion) -> None:
        seen = self.first[provider]
        if not self.limit or len(seen) >= self.limit:
            return
        seen.append(cause_of(completion.error) if completion.error is not None else None)
        if len(seen) == self.limit and len(set(seen)) == 1 and seen[0] in FATAL:
            raise CircuitOpenError(
                f"stopped early: the first {self.limit} requests to provider '{provider}' all failed: "
                f"{seen[0]} (the other requests were not sent; run.stop_after_failures sets how many)"
            )


async def handoff(
    queue: asyncio.Queue[Answer | None], item: Answer | None, consumer: asyncio.Task[None]
) -> None:
    """Queue an answer for scoring and writing; when the queue is full, wait for room (the
    backpressure that bounds memory), unless the consumer stopped (its error is raised)."""
    if not queue.full():
        queue.put_nowait(item)
        return
    putter = asyncio.ensure_future(queue.put(item))
    try:
        await asyncio.wait({putter, consumer}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # cancelled (the deadline, the other chunk's error): the answer is
        putter.cancel()  # abandoned here, never put behind the end of the queue later
        raise
    if not putter.done():
        putter.cancel()
        consumer.result()  # raises what stopped the consumer
        raise RuntimeError("results are no longer being written")


# json.dumps(payload, sort_keys=True[, default=str]), the C encoder built once (not per result)
_CASE_JSON = Encoder(sort_keys=True, default=str)
_INPUT_JSON = Encoder(sort_keys=True)


def case_hash(case: Case) -> str:
    """The gate's pairing key: the case's own data (vars, references, its own messages, gold
    chunk ids). A case whose data changed is reported and left out of the comparison; a changed
    prompt template, system prompt, model, params or retrieval is the change being evaluated."""
    payload: dict[str, Any] = {
        "vars": case.vars,
        "references": case.references,  # a tuple is a JSON array, as a list is
        "messages": None if case.messages is None else [m.model_dump(mode="json") for m in case.messages],
        "relevant_ids": case.relevant_ids,
    }
    if case.tools is not None:  # hashed only when set: older cases keep their hash
        payload["tools"] = tools_json(case.tools)
    if case.choices is not None:
        payload["choices"] = [list(case.choices), case.gold]
    return hashlib.sha256(_CASE_JSON.encode(payload).encode()).hexdigest()[:16]


def input_hash(request: Request, references: Sequence[str]) -> str:
    """The prompt digest: what the case was asked (rendered) and expected. Provenance only: the
    gate shows a changed prompt beside its verdict. RAG variants: the retrieved context is left out."""
    messages = request.input_messages if request.input_messages is not None else request.messages
    payload: dict[str, Any] = {
        "messages": [message_json(m) for m in messages],
        "references": references if isinstance(references, tuple | list) else list(references),
    }
    if request.retrieval_query is not None:
        payload["query"] = request.retrieval_query
    return hashlib.sha256(_INPUT_JSON.encode(payload).encode()).hexdigest()[:16]


def message_json(message: Message) -> dict[str, Any]:
    """`message.model_dump(exclude_none=True)`; a plain chat turn built directly (per result)."""
    if message.tool_calls is None and message.tool_call_id is None:
        return {"role": message.role, "content": message.content}
    return message.model_dump(exclude_none=True)
