"""Plan a run (validate everything, render every prompt), drive providers, score, stream results.

The data flow is one way: Suite × Variant × repeat → Request → Provider → Completion →
Scorers → CaseResult → results.jsonl → Summary. Nothing here prints; progress goes to an
observer the CLI supplies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from evalkit import registry
from evalkit.aggregate import SPECIAL_METRICS
from evalkit.cache import ResponseCache, request_key
from evalkit.config import LoadedConfig, Pricing, Variant
from evalkit.errors import EvalkitError, RunDeadlineError, UserInputError, did_you_mean
from evalkit.providers.base import OnCompletion, Provider
from evalkit.rundir import ResultWriter
from evalkit.scorers.base import Scorer, ScoringContext, build_scorer, unmeasured
from evalkit.suite import Case, Suite
from evalkit.templating import TemplateError, compile_template, render, uses_variables
from evalkit.types import (
    CaseResult,
    Completion,
    Message,
    Request,
    RetrievedChunk,
    Score,
    ScoreInput,
    StoredScore,
)

if TYPE_CHECKING:
    from evalkit.rag.retrievers import Retriever


RETRIEVAL_FAILURE = "retrieval failure: the retriever returned nothing for this case's query"


class RunObserver(Protocol):
    def status(self, message: str) -> None: ...
    def result(self, result: CaseResult) -> None: ...


class NullObserver:
    def status(self, message: str) -> None:
        pass

    def result(self, result: CaseResult) -> None:
        pass


@dataclass
class Plan:
    loaded: LoadedConfig
    suites: list[Suite]
    variants: list[Variant]
    providers: dict[str, Provider]
    scorers: dict[str, list[Scorer]]
    requests: list[Request]
    repeats: dict[str, int] = field(default_factory=dict)
    rag: dict[str, dict[str, Any]] = field(default_factory=dict)  # variant → retriever and index facts

    def requests_by_provider(self, skip: set[str] | None = None) -> dict[str, list[Request]]:
        """What each provider must generate: not what is done, nor what retrieval failed for."""
        provider_of = {v.name: v.provider for v in self.variants}
        out: dict[str, list[Request]] = defaultdict(list)
        for r in self.requests:
            if (skip is None or r.key not in skip) and r.retrieval != ():
                out[provider_of[r.variant]].append(r)
        return out

    def retrieval_failures(self, skip: set[str] | None = None) -> list[Request]:
        """RAG requests whose retrieval found nothing: recorded as errors, never sent to a model."""
        return [r for r in self.requests if r.retrieval == () and (skip is None or r.key not in skip)]


def build_plan(
    loaded: LoadedConfig,
    suites: Sequence[Suite],
    variant_names: Sequence[str] = (),
    repeats: int | None = None,
    concurrency: int | None = None,
) -> Plan:
    """Validate the whole run and render every request. Raises UserInputError; calls no model."""
    config = loaded.config
    names = [s.name for s in suites]
    for name in names:
        if names.count(name) > 1:
            paths = [str(s.source_path) for s in suites if s.name == name]
            raise UserInputError(f"two suites are named '{name}': {', '.join(paths)}")
    if variant_names:
        for name in variant_names:
            if name not in config.variants:
                raise UserInputError(
                    f"unknown variant '{name}'{did_you_mean(name, config.variants)}",
                    path=loaded.path,
                )
        variants = [config.variants[n] for n in dict.fromkeys(variant_names)]
    else:
        variants = list(config.variants.values())

    scorers = {s.name: _build_scorers(s) for s in suites}
    judges: list[str] = []
    for suite in suites:
        for scorer in scorers[suite.name]:
            judge = scorer.provider_name
            if judge is None:
                continue
            if judge not in config.providers:
                raise UserInputError(
                    f"a scorer calls provider '{judge}', which evalkit.yaml does not define"
                    f"{did_you_mean(judge, config.providers)}",
                    path=suite.source_path,
                )
            judges.append(judge)
    providers = _build_providers(loaded, variants, concurrency, extra=judges)
    prompts = {v.name: loaded.resolve(v.prompt).read_text(encoding="utf-8") for v in variants if v.prompt}

    retrievers = {v.name: _build_retriever(loaded, v) for v in variants if v.rag is not None}
    requests: list[Request] = []
    repeat_counts: dict[str, int] = {}
    for suite in suites:
        n_repeats = repeats if repeats is not None else suite.repeats
        repeat_counts[suite.name] = n_repeats
        for variant in variants:
            params = suite.params.merged(variant.params)
            retrieved = (
                _retrieve(suite, variant, retrievers[variant.name], prompts.get(variant.name))
                if variant.name in retrievers
                else {}
            )
            for case in suite.cases:
                query, chunks = retrieved.get(case.id, (None, None))
                extra = None if chunks is None else rag_variables(chunks)
                messages = suite.render_messages(case, variant, prompts.get(variant.name), extra)
                input_messages = (
                    None
                    if chunks is None
                    else suite.render_messages(case, variant, prompts.get(variant.name), RAG_PLACEHOLDER)
                )
                for rep in range(n_repeats):
                    requests.append(
                        Request(
                            key=f"{suite.name}/{case.id}/{variant.name}/{rep}",
                            suite=suite.name,
                            case_id=case.id,
                            variant=variant.name,
                            repeat=rep,
                            messages=messages,
                            params=params,
                            model=variant.model,
                            retrieval=None if chunks is None else tuple(chunks),
                            retrieval_query=query,
                            input_messages=input_messages,
                        )
                    )
    for provider in providers.values():
        provider.check()
    rag = {name: r.describe() for name, r in retrievers.items()}
    return Plan(loaded, list(suites), variants, providers, scorers, requests, repeat_counts, rag)


def _build_retriever(loaded: LoadedConfig, variant: Variant) -> Retriever:
    from evalkit.rag.retrievers import build_retriever

    assert variant.rag is not None
    try:
        return build_retriever(variant.rag, loaded.resolve)
    except UserInputError as exc:
        raise UserInputError(f"variants.{variant.name}.rag: {exc}", path=loaded.path) from None


def _retrieve(
    suite: Suite, variant: Variant, retriever: Retriever, variant_prompt: str | None
) -> dict[str, tuple[str, list[RetrievedChunk]]]:
    """Each case's chunks for a RAG variant, retrieved once for all its repeats."""
    assert variant.rag is not None
    sources = suite.templates_for(suite.cases[0], variant, variant_prompt) if suite.cases else []
    if sources and not any(uses_variables(src, ("context", "documents")) for src in sources):
        raise UserInputError(
            f"variant '{variant.name}' retrieves context, but the prompt of suite '{suite.name}' uses "
            "neither {{ context }} nor {{ documents }}: give the variant a `prompt:` template that does",
            path=suite.source_path,
        )
    try:
        query_template = compile_template(variant.rag.query)
    except TemplateError as exc:
        raise UserInputError(f"variants.{variant.name}.rag.query: {exc}") from None
    queries = []
    for case in suite.cases:
        try:
            queries.append(render(query_template, case.vars))
        except TemplateError as exc:
            raise UserInputError(
                f"case '{case.id}' ({case.origin}), variant '{variant.name}': rag.query: {exc}"
            ) from None
    found = retriever.retrieve(queries, variant.rag.top_k)
    return {case.id: (query, chunks) for case, query, chunks in zip(suite.cases, queries, found, strict=True)}


RAG_PLACEHOLDER: dict[str, Any] = {"context": "{context}", "documents": []}


def rag_variables(chunks: Sequence[RetrievedChunk]) -> dict[str, Any]:
    """What a RAG prompt template gets: `documents` (a list) and `context` (them, as text)."""
    documents = [
        {"rank": i, "id": c.id, "doc_id": c.doc_id, "text": c.text, "score": c.score}
        for i, c in enumerate(chunks, start=1)
    ]
    context = "\n\n".join(f"[{d['rank']}] ({d['doc_id']}) {d['text']}" for d in documents)
    return {"documents": documents, "context": context}


def _build_providers(
    loaded: LoadedConfig, variants: Sequence[Variant], concurrency: int | None, extra: Sequence[str] = ()
) -> dict[str, Provider]:
    config = loaded.config
    built: dict[str, Provider] = {}
    names = [v.provider for v in variants] + [v.fallback for v in variants if v.fallback is not None]
    names += list(extra)
    for name in names:
        if name in built:
            continue
        pconf = config.providers[name]
        cls = registry.providers.get(pconf.type)
        where = f"providers.{name}"
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise UserInputError(f"{where}: '{pconf.type}' is not a Provider class")
        try:
            settings = cls.settings_model.model_validate(pconf.settings())
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            key = ".".join(str(p) for p in err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                allowed = [*cls.settings_model.model_fields, "pricing", "concurrency", "type"]
                msg = f"unknown key '{key}'{did_you_mean(key, allowed)}"
            raise UserInputError(f"{where}: {key}: {msg}", path=loaded.path) from None
        limit = concurrency or pconf.concurrency or config.run.concurrency
        built[name] = cls(name, settings, concurrency=limit)
    for variant in variants:
        provider = built[variant.provider]
        if variant.model is not None and "model" not in type(provider).settings_model.model_fields:
            raise UserInputError(
                f"variants.{variant.name}.model: provider '{variant.provider}' "
                f"({config.providers[variant.provider].type}) takes no model name; "
                "configure the model on a provider of its own",
                path=loaded.path,
            )
        takes_model = "model" in type(provider).settings_model.model_fields
        if variant.model is None and takes_model and getattr(provider.settings, "model", None) is None:
            raise UserInputError(
                f"variants.{variant.name}: no model set on the variant or on provider '{variant.provider}'",
                path=loaded.path,
            )
    return built


def _build_scorers(suite: Suite) -> list[Scorer]:
    built: list[Scorer] = []
    seen: dict[str, str] = {}
    for i, spec in enumerate(suite.scorers):
        where = f"{suite.source_path}: scorers[{i}]"
        template = spec.options().get("template")
        if isinstance(template, str) and not Path(template).is_absolute():
            spec = spec.model_copy(update={"template": str(suite.source_path.parent / template)})
        try:
            scorer = build_scorer(spec, where)
        except UserInputError as exc:
            if exc.path is None and not str(exc).startswith(str(suite.source_path)):
                raise UserInputError(str(exc), path=suite.source_path) from None
            raise
        for name in scorer.names:
            if name in seen:
                raise UserInputError(
                    f"two scorers produce a score named '{name}': give one a 'name:'",
                    path=suite.source_path,
                )
            seen[name] = spec.type
        if scorer.needs_reference:
            missing = next((c for c in suite.cases if not c.references), None)
            if missing is not None:
                raise UserInputError(
                    f"case '{missing.id}' ({missing.origin}) has no reference, "
                    f"which scorer '{spec.type}' needs"
                )
        built.append(scorer)
    known = [*seen, *SPECIAL_METRICS, *(f"corpus_{n}" for n in seen)]
    higher = {name: s.higher_is_better for s in built for name in s.names}
    for special in SPECIAL_METRICS:
        higher[special] = special == "pass_rate"
    for metric, threshold in suite.thresholds.items():
        if metric not in known:
            raise UserInputError(
                f"thresholds.{metric}: no such score in this suite{did_you_mean(metric, known)}",
                path=suite.source_path,
            )
        up = higher.get(metric, True)
        if (threshold.max_drop is not None and not up) or (threshold.max_increase is not None and up):
            right = "max_drop" if up else "max_increase"
            raise UserInputError(
                f"thresholds.{metric}: {metric} is {'higher' if up else 'lower'} is better: use {right}",
                path=suite.source_path,
            )
    return built


async def score_batch(
    inputs: Sequence[ScoreInput | None],
    scorers: Sequence[Scorer],
    ctx: ScoringContext,
    *,
    deferred: bool | None = False,
) -> list[dict[str, Score]]:
    """Run scorers over a batch (None = generation failed); a scorer that raises marks its
    scores unmeasured. `deferred`: False skips scorers that need the whole run, True runs only
    those, None runs all."""
    out: list[dict[str, Score]] = [{} for _ in inputs]
    for scorer in scorers:
        if deferred is not None and scorer.deferred != deferred:
            continue
        ok_index: list[int] = []
        ready: list[ScoreInput] = []
        for i, item in enumerate(inputs):
            if item is not None and (item.generated or not scorer.needs_output):
                ok_index.append(i)
                ready.append(item)
            else:
                for s in unmeasured(scorer.names, "no output: generation failed"):
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
                    rows.append(unmeasured(scorer.names, f"scorer error: {type(exc).__name__}: {exc}"))
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
) -> ScoreInput:
    """What scorers see of one result; `output` None = generation (or retrieval) failed."""
    prompt = "\n".join(f"{m.role}: {m.content}" for m in messages)
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
        contexts=tuple(c.text for c in retrieval or ()),
        relevant_ids=case.relevant_ids,
    )


class RunContext:
    """The scoring context of a run: judge calls and other outputs (see ScoringContext)."""

    def __init__(
        self,
        plan: Plan,
        cache: ResponseCache | None,
        baseline_dir: Path | None = None,
        started: set[str] | None = None,
    ):
        self.plan = plan
        self.cache = cache
        self.baseline_dir = baseline_dir
        self.outputs: dict[tuple[str, str, str, int], str] = {}
        self._baselines: dict[tuple[str, str], dict[tuple[str, int], str]] = {}
        self._started = started if started is not None else set()  # providers already started

    async def complete(self, provider: str, requests: Sequence[Request]) -> list[Completion]:
        backend = self.plan.providers[provider]
        got: dict[str, Completion] = {}

        def keep(request: Request, completion: Completion) -> None:
            got[request.key] = completion

        misses = lookup_cache(backend, requests, self.cache, keep, "judge")
        if misses.requests:
            if provider not in self._started:
                self._started.add(provider)
                await backend.start()
            await misses.generate(provider, keep)
        return [got[r.key] for r in requests]

    def other_output(self, item: ScoreInput, against: str) -> str | None:
        if against == "baseline":
            key = (item.suite, item.variant)
            if key not in self._baselines:
                from evalkit import baseline

                group = (
                    baseline.load(self.baseline_dir, item.suite, item.variant) if self.baseline_dir else None
                )
                self._baselines[key] = {
                    (r.case_id, r.repeat): r.output
                    for r in (group.records if group else [])
                    if r.output is not None
                }
            return self._baselines[key].get((item.case_id, item.repeat))
        return self.outputs.get((item.suite, against, item.case_id, item.repeat))


@dataclass
class CacheMisses:
    requests: list[Request]
    keys: dict[str, str]
    cache: ResponseCache | None
    provider: Provider
    namespace: str

    def store(self, provider_name: str, deliver: OnCompletion) -> OnCompletion:
        def on_completion(request: Request, completion: Completion) -> None:
            key = self.keys.get(request.key)
            if key is not None and self.cache is not None:
                self.cache.put(
                    key,
                    completion,
                    provider=provider_name,
                    model=self.provider.model_name(request),
                    namespace=self.namespace,
                )
            deliver(request, completion)

        return on_completion

    async def generate(self, provider_name: str, deliver: OnCompletion) -> None:
        """Generate the misses. Every request is delivered exactly once, even when a provider
        (a plugin, say) returns completions without passing them all to its callback."""
        store = self.store(provider_name, deliver)
        delivered: set[str] = set()

        def once(request: Request, completion: Completion) -> None:
            if request.key not in delivered:
                delivered.add(request.key)
                store(request, completion)

        returned = await self.provider.generate(self.requests, once)
        by_key = dict(zip((r.key for r in self.requests), returned, strict=False))
        for request in self.requests:
            if request.key not in delivered:
                missing = Completion(
                    error=f"provider '{provider_name}' returned no completion for this request"
                )
                once(request, by_key.get(request.key, missing))


def lookup_cache(
    provider: Provider,
    requests: Sequence[Request],
    cache: ResponseCache | None,
    deliver: OnCompletion,
    namespace: str = "generate",
) -> CacheMisses:
    """Deliver cached answers at once; return the misses (with a callback that stores answers)."""
    keys: dict[str, str] = {}
    misses: list[Request] = []
    for request in requests:
        identity = provider.cache_identity(request) if cache is not None else None
        if identity is None or cache is None:
            misses.append(request)
            continue
        key = request_key(identity, request, namespace)
        hit = cache.get(key)
        if hit is not None:
            deliver(request, hit)
        else:
            keys[request.key] = key
            misses.append(request)
    return CacheMisses(misses, keys, cache, provider, namespace)


QueueItem = tuple[Request, Completion, str, str | None]  # request, completion, provider used, fallback from


class Runner:
    """Executes a plan: every provider concurrently, through the response cache, with
    fallbacks for failed requests; results are scored in batches and appended as they come."""

    def __init__(
        self,
        plan: Plan,
        writer: ResultWriter,
        observer: RunObserver | None = None,
        *,
        cache: ResponseCache | None = None,
        skip: set[str] | None = None,
        deadline_s: float | None = None,
        baseline_dir: Path | None = None,
    ):
        self.plan = plan
        self.writer = writer
        self.observer = observer or NullObserver()
        self.cache = cache
        self.skip = skip or set()
        self.deadline_s = deadline_s
        self.suites = {s.name: s for s in plan.suites}
        self.cases = {(s.name, c.id): c for s in plan.suites for c in s.cases}
        self.variants = {v.name: v for v in plan.variants}
        self.timings: dict[str, float] = {}
        self._started: set[str] = set()
        self.context = RunContext(plan, cache, baseline_dir, started=self._started)

    def pricing(self, request: Request, provider: str) -> Pricing | None:
        return self.plan.loaded.pricing_for(provider, self.plan.providers[provider].model_name(request))

    async def run(self) -> None:
        started = time.perf_counter()
        queue: asyncio.Queue[QueueItem | None] = asyncio.Queue()
        fallbacks: list[asyncio.Task[None]] = []
        consumer = asyncio.create_task(self._consume(queue))
        try:
            self.observer.status("evaluating")

            def primary_done(provider_name: str) -> OnCompletion:
                def on_completion(request: Request, completion: Completion) -> None:
                    fallback = self.variants[request.variant].fallback
                    if completion.error is not None and fallback is not None:
                        retry = request.model_copy(update={"model": None})
                        fallbacks.append(
                            asyncio.create_task(
                                self._generate(fallback, [retry], queue, fallback_from=provider_name)
                            )
                        )
                    else:
                        queue.put_nowait((request, completion, provider_name, None))

                return on_completion

            provider_of = {v.name: v.provider for v in self.plan.variants}
            for request in self.plan.retrieval_failures(self.skip):
                failure = Completion(error=RETRIEVAL_FAILURE)
                queue.put_nowait((request, failure, provider_of[request.variant], None))
            jobs = [
                self._generate(name, reqs, queue, on_completion=primary_done(name))
                for name, reqs in self.plan.requests_by_provider(self.skip).items()
                if reqs
            ]
            try:
                async with asyncio.timeout(self.deadline_s):
                    await asyncio.gather(*jobs)
                    while fallbacks:
                        await fallbacks.pop()
            except TimeoutError:
                for task in fallbacks:
                    task.cancel()
                raise RunDeadlineError(
                    f"the run deadline of {self.deadline_s:g}s passed: unfinished cases were abandoned "
                    "(resume with --resume RUN_DIR)"
                ) from None
            finally:
                queue.put_nowait(None)
                await consumer
        finally:
            for provider in self.plan.providers.values():
                with contextlib.suppress(Exception):  # closing must not mask the real outcome
                    await provider.aclose()
            self.timings["execute_s"] = time.perf_counter() - started

    async def _generate(
        self,
        provider_name: str,
        requests: Sequence[Request],
        queue: asyncio.Queue[QueueItem | None],
        *,
        on_completion: OnCompletion | None = None,
        fallback_from: str | None = None,
    ) -> None:
        """Serve what the cache holds, generate the rest, and store good answers."""
        provider = self.plan.providers[provider_name]

        def deliver(request: Request, completion: Completion) -> None:
            if on_completion is not None:
                on_completion(request, completion)
            else:
                queue.put_nowait((request, completion, provider_name, fallback_from))

        if provider_name not in self._started:
            self.observer.status(f"preparing {provider_name}")  # e.g. a first, one-time model conversion
        misses = lookup_cache(provider, requests, self.cache, deliver)
        self.observer.status("evaluating")
        if misses.requests:
            if provider_name not in self._started:  # load weights only when something needs them
                self._started.add(provider_name)
                self.observer.status(f"starting {provider_name}")
                await provider.start()
                self.observer.status("evaluating")
            await misses.generate(provider_name, deliver)

    async def _consume(self, queue: asyncio.Queue[QueueItem | None]) -> None:
        done = False
        while not done:
            item = await queue.get()
            batch: list[QueueItem] = []
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

    async def _score_and_write(self, batch: list[QueueItem]) -> None:
        by_suite: dict[str, list[QueueItem]] = defaultdict(list)
        for item in batch:
            by_suite[item[0].suite].append(item)
        for suite_name, items in by_suite.items():
            inputs = [
                score_input(
                    suite_name,
                    self.cases[(suite_name, request.case_id)],
                    request.variant,
                    request.repeat,
                    request.messages,
                    completion.text if completion.error is None else None,
                    request.retrieval,
                    request.retrieval_query,
                )
                for request, completion, _, _ in items
            ]
            scored = await score_batch(inputs, self.plan.scorers[suite_name], self.context)
            for (request, completion, provider, fallback_from), scores in zip(items, scored, strict=True):
                result = self._result(request, completion, scores, provider, fallback_from)
                self.writer.append(result)
                self.observer.result(result)

    def _result(
        self,
        request: Request,
        completion: Completion,
        scores: dict[str, Score],
        provider: str,
        fallback_from: str | None,
    ) -> CaseResult:
        case = self.cases[(request.suite, request.case_id)]
        price = self.pricing(request, provider)
        cost = None
        if price is not None and completion.error is None:
            u = completion.usage
            cost = price.cost(u.input_tokens, u.output_tokens, u.cached_input_tokens)
        return CaseResult(
            suite=request.suite,
            case_id=request.case_id,
            variant=request.variant,
            repeat=request.repeat,
            provider=provider,
            model=self.plan.providers[provider].model_name(request),
            tags=list(case.tags),
            input_hash=input_hash(request, case.references),
            messages=list(request.messages),
            references=list(case.references),
            output=completion.text if completion.error is None else None,
            error=completion.error,
            finish_reason=completion.finish_reason,
            latency_ms=completion.latency_ms,
            ttft_ms=completion.ttft_ms,
            usage=completion.usage,
            cost_usd=cost,
            model_version=completion.model_version,
            cached=completion.cached,
            attempts=completion.attempts,
            fallback_from=fallback_from,
            retrieval_query=request.retrieval_query,
            retrieval_ids=None if request.retrieval is None else [c.id for c in request.retrieval],
            retrieval=None if request.retrieval is None else list(request.retrieval),
            scores={
                name: StoredScore(value=s.value, passed=s.passed, reason=s.reason)
                for name, s in scores.items()
            },
        )


def input_hash(request: Request, references: Sequence[str]) -> str:
    """What the case asked and expected: a changed input is reported, never called a regression.
    For RAG variants the retrieved context is left out: it is the variant's doing, not the case's."""
    messages = request.input_messages if request.input_messages is not None else request.messages
    payload: dict[str, Any] = {"messages": [m.model_dump() for m in messages], "references": list(references)}
    if request.retrieval_query is not None:
        payload["query"] = request.retrieval_query
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


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
                )
                for i in chunk
            ]
            scored = await score_batch(inputs, plan.scorers[suite_name], ctx, deferred=deferred)
            for i, scores in zip(chunk, scored, strict=True):
                stored = {
                    n: StoredScore(value=s.value, passed=s.passed, reason=s.reason) for n, s in scores.items()
                }
                merged = stored if deferred is None else {**results[i].scores, **stored}
                out[i] = results[i].model_copy(update={"scores": merged})
    return out


def describe_plan(plan: Plan) -> dict[str, Any]:
    """The config snapshot for run.json: built from allow-listed fields, never raw settings."""
    return {
        "config_path": str(plan.loaded.path) if plan.loaded.path else None,
        "providers": {name: p.describe() for name, p in plan.providers.items()},
        "variants": {v.name: v.model_dump(mode="json") for v in plan.variants},
        "suites": [
            {
                "name": s.name,
                "path": str(s.source_path),
                "content_hash": s.content_hash,
                "cases": len(s.cases),
                "repeats": plan.repeats.get(s.name, 1),
                "scorers": [spec.model_dump(mode="json") for spec in s.scorers],
                "thresholds": {k: t.model_dump(mode="json") for k, t in s.thresholds.items()},
            }
            for s in plan.suites
        ],
        "run": plan.loaded.config.run.model_dump(mode="json"),
        "requests": len(plan.requests),
        "rag": plan.rag,
    }
