"""The score stage: scorers over a batch of outputs (unmeasured, never zero, when a scorer fails),
the scoring context judges use, and re-scoring stored results."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from evalkit.compare.judgecost import JudgeLedger, with_judges
from evalkit.errors import EvalkitError
from evalkit.providers.cache import ResponseCache
from evalkit.providers.service import ProviderService, build_providers
from evalkit.scorers.base import ConfiguredScorer, ScoringContext
from evalkit.spec.suite import Case
from evalkit.stages.plan import Plan
from evalkit.types import (
    CaseResult,
    Completion,
    Message,
    Request,
    RetrievedChunk,
    Score,
    ScoreInput,
)

if TYPE_CHECKING:
    pass


async def score_batch(
    inputs: Sequence[ScoreInput | None],
    scorers: Sequence[ConfiguredScorer],
    ctx: ScoringContext,
    *,
    deferred: bool | None = False,
) -> list[dict[str, Score]]:
    """Run scorers over a batch (None = generation failed); a scorer that raises marks its
    scores unmeasured. `deferred`: False skips scorers that need the whole run, True runs only
    those, None runs all."""
    out: list[dict[str, Score]] = [{} for _ in inputs]
    for scorer in scorers:
        if deferred is not None and scorer.info.deferred != deferred:
            continue
        ok_index: list[int] = []
        ready: list[ScoreInput] = []
        for i, item in enumerate(inputs):
            if item is not None and (item.generated or not scorer.info.needs_output):
                ok_index.append(i)
                ready.append(item)
            else:
                for s in scorer.unmeasured("no output: generation failed"):
                    out[i][s.name] = s
        if not ready:
            continue
        try:
            rows = await scorer.ascore(ready, ctx)
        except EvalkitError:
            raise
        except Exception:
            rows = []
            for item in ready:  # isolate the failing item(s)
                try:
                    rows.append((await scorer.ascore([item], ctx))[0])
                except EvalkitError:
                    raise
                except Exception as exc:
                    rows.append(scorer.unmeasured(f"scorer error: {type(exc).__name__}: {exc}"))
        for i, row in zip(ok_index, rows, strict=True):
            for s in row:
                out[i][s.name] = s
    return out


def score_input(
    suite: str,
    case: Case,
    variant: str,
    repeat: int,
    messages: Sequence[Message],
    output: str | None,
    retrieval: Sequence[RetrievedChunk] | None = None,
    query: str | None = None,
    trace: Completion | CaseResult | None = None,
) -> ScoreInput:
    """What scorers see of one result; `output` None = generation (or retrieval) failed.
    `trace`: where the result's tool calls and steps are (a completion or a stored result)."""
    prompt = "\n".join([f"{m.role}: {m.content}" for m in messages])
    return ScoreInput(
        output=output or "",
        generated=output is not None,
        references=case.references,
        vars=case.vars,
        case_id=case.id,
        suite=suite,
        variant=variant,
        repeat=repeat,
        prompt=prompt,
        retrieval_ids=None if retrieval is None else tuple(c.id for c in retrieval),
        query=query,
        contexts=() if not retrieval else tuple([c.text for c in retrieval]),
        relevant_ids=case.relevant_ids,
        tool_calls=tuple(trace.tool_calls) if trace is not None and trace.tool_calls else (),
        steps=tuple(trace.steps) if trace is not None and trace.steps else (),
        expect=case.expect,
        choices=case.choices,
        gold=case.gold,
        choice_logprobs=None
        if trace is None or trace.choice_logprobs is None
        else tuple(trace.choice_logprobs),
    )


# (suite, variant) -> {(case id, repeat): the baseline's output}; the pipeline reads the baselines
BaselineOutputs = Callable[[str, str], dict[tuple[str, int], str]]


class RunContext:
    """The scoring context of a run: judge calls and other outputs (see ScoringContext)."""

    def __init__(
        self,
        plan: Plan,
        cache: ResponseCache | None,
        baseline_outputs: BaselineOutputs | None = None,
        service: ProviderService | None = None,
    ):
        self.plan = plan
        self.cache = cache
        self.baseline_outputs = baseline_outputs
        self.outputs: dict[tuple[str, str, str, int], str] = {}
        self._baselines: dict[tuple[str, str], dict[tuple[str, int], str]] = {}
        if service is None:  # judges get instances of their own
            service = ProviderService(build_providers(plan.providers), cache)
        self.service = service  # shared with the execute stage: providers start once
        providers = service.providers
        self.ledger = JudgeLedger(
            lambda name, r: plan.loaded.pricing_for(
                name, providers[name].model_name(r), providers[name].price_vendor()
            ),
            lambda name, r: providers[name].model_name(r),
        )

    async def complete(self, provider: str, requests: Sequence[Request]) -> list[Completion]:
        """Judge calls: through the framework's cache (`judge` namespace), limiter and delivery."""
        completions = await self.service.complete(provider, requests, "judge")
        for request, completion in zip(requests, completions, strict=True):
            self.ledger.record(provider, request, completion)
        return completions

    def other_output(self, item: ScoreInput, against: str) -> str | None:
        if against == "baseline":
            key = (item.suite, item.variant)
            if key not in self._baselines:
                self._baselines[key] = self.baseline_outputs(*key) if self.baseline_outputs else {}
            return self._baselines[key].get((item.case_id, item.repeat))
        return self.outputs.get((item.suite, against, item.case_id, item.repeat))


async def rescore(
    plan: Plan,
    results: list[CaseResult],
    ctx: RunContext,
    *,
    deferred: bool | None,
) -> list[CaseResult]:
    """Score stored completions again (all scorers, or only those that needed the whole run).
    Never calls a model for answers; judges go through the `judge` cache namespace."""
    for r in results:
        if r.output is not None:
            ctx.outputs[(r.suite, r.variant, r.case_id, r.repeat)] = r.output
    suites = {s.name: s for s in plan.suites}
    cases = {(s.name, c.id): c for s in plan.suites for c in s.cases}
    by_suite: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(results):
        if r.suite in suites and (r.suite, r.case_id) in cases:
            by_suite[r.suite].append(i)
    out = list(results)
    for suite_name, indices in by_suite.items():
        for start in range(0, len(indices), 512):
            chunk = indices[start : start + 512]
            inputs = [
                score_input(
                    suite_name,
                    cases[(suite_name, results[i].case_id)],
                    results[i].variant,
                    results[i].repeat,
                    results[i].messages,
                    results[i].output if results[i].error is None else None,
                    results[i].retrieval,
                    results[i].retrieval_query,
                    trace=results[i],
                )
                for i in chunk
            ]
            scored = await score_batch(inputs, plan.scorers[suite_name], ctx, deferred=deferred)
            for i, scores in zip(chunk, scored, strict=True):
                stored = {n: s.stored() for n, s in scores.items()}
                merged = stored if deferred is None else {**results[i].scores, **stored}
                out[i] = results[i].model_copy(update={"scores": merged})
                out[i] = with_judges(out[i], ctx.ledger.take(out[i].key), replace=deferred is None)
    return out
