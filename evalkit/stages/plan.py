"""The plan stage: validate a whole run (config × suites × variants × repeats) before any model
call, into a frozen `Plan` that holds only what renders each request: the suites, the variants
and one `Unit` per suite × variant. Requests are rendered lazily, as the execute stage asks for
them, so a plan's memory does not grow with the number of requests. Raises UserInputError;
calls no model."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit import plugins
from evalkit.agent.setup import check_tools, tool_params, wrap_agent_providers
from evalkit.errors import UserInputError, did_you_mean
from evalkit.human.labels import check_calibration
from evalkit.providers.base import Provider
from evalkit.providers.service import ProviderSpec, build_providers
from evalkit.rag.context import RAG_PLACEHOLDER, rag_variables
from evalkit.scorers.base import ConfiguredScorer, build_scorer
from evalkit.spec.cases import first_unreferenced
from evalkit.spec.config import LoadedConfig, Variant
from evalkit.spec.suite import Case, MultipleChoice, Suite
from evalkit.spec.yamlfile import user_loc
from evalkit.stages.prompt_check import PlainPrompt, light_cases, whole
from evalkit.stages.shard import Shard
from evalkit.types import (
    SPECIAL_METRICS,
    AgentSettings,
    GenerationParams,
    Loglikelihood,
    MetricInfo,
    Request,
    RetrievedChunk,
)

CHUNK = 4096  # requests rendered and handed to the providers at a time (bounded memory)


@dataclass(frozen=True)
class Unit:
    """One suite × variant of a plan: what renders its requests (case × repeat)."""

    suite: Suite
    variant: Variant
    repeats: int
    params: GenerationParams
    agent: AgentSettings | None
    prompt: str | None  # the variant's own prompt template's text


@dataclass(frozen=True)
class Plan:
    """A validated run, frozen: later stages return a new plan (`retrieve`, `keep_shard`)."""

    loaded: LoadedConfig
    suites: tuple[Suite, ...]
    variants: tuple[Variant, ...]
    providers: Mapping[str, ProviderSpec]  # validated settings and limits; instances: execute stage
    scorers: Mapping[str, list[ConfiguredScorer]]
    units: tuple[Unit, ...] = ()  # suite × variant, in request order; none: a scoring plan
    repeats: Mapping[str, int] = field(default_factory=dict)
    rag: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # variant → retriever and index facts
    prompts: Mapping[str, str] = field(default_factory=dict)  # variant → its prompt template's text
    agent_providers: frozenset[str] = frozenset()  # providers whose requests run an agent loop
    warnings: tuple[str, ...] = ()  # things a person should know before the run
    shard: Shard | None = None  # `--shard I/N`: only the requests of that shard
    # (suite, variant, case id) → the RAG query and its chunks (the retrieve stage's findings)
    retrieved: Mapping[tuple[str, str, str], tuple[str, list[RetrievedChunk]]] = field(default_factory=dict)

    def metrics(self, suite: str) -> list[MetricInfo]:
        """What aggregation needs to know of each score of a suite (stored in run.json)."""
        pass_scores = next(s.pass_scores for s in self.suites if s.name == suite)
        return [m for scorer in self.scorers[suite] for m in scorer.metric_infos(pass_scores)]

    def keys(self) -> Iterator[str]:
        """Every request's key, in plan order, without rendering a prompt."""
        for unit in self.units:
            for case in self._cases(unit):
                for rep in range(unit.repeats):
                    yield request_key(unit, case, rep)

    @cached_property
    def count(self) -> int:
        """How many requests the plan makes (unsharded: counted, not read: a suite's cases past
        a few thousand are read back from their scratch file at each pass)."""
        if self.shard is None:
            return sum(unit.repeats * len(unit.suite.cases) for unit in self.units)
        return sum(unit.repeats for unit in self.units for _ in self._cases(unit))

    def requests(self, skip: set[str] | None = None, hold: Hold | None = None) -> Iterator[Request]:
        """Every request not in `skip`, rendered as it is asked for, in plan order. `hold(request,
        case)` is told each request's case (what scoring it needs), so nothing keeps every case."""
        for unit in self.units:
            for case in self._cases(unit):
                for request in self._render(unit, case, skip):
                    if hold is not None:
                        hold(request, case)
                    yield request

    def first_requests(self) -> Iterator[Request]:
        """The first request of each suite × variant (what is the same for all of them)."""
        for unit in self.units:
            first = next((r for case in self._cases(unit) for r in self._render(unit, case, None)), None)
            if first is not None:
                yield first

    def batches(
        self, skip: set[str] | None = None, size: int = CHUNK, hold: Hold | None = None
    ) -> Iterator[dict[str, list[Request]]]:
        """What each provider must generate, `size` requests at a time: not what is done, nor
        what retrieval failed for (`hold`: as in `requests`, for the requests batched)."""
        provider_of = self.provider_of
        out: dict[str, list[Request]] = defaultdict(list)
        n = 0
        for r in self.generated(skip, hold):
            out[provider_of[r.variant]].append(r)
            n += 1
            if n >= size:
                yield dict(out)
                out, n = defaultdict(list), 0
        if n:
            yield dict(out)

    def generated(self, skip: set[str] | None = None, hold: Hold | None = None) -> Iterator[Request]:
        """The requests a model must answer, rendered as they are asked for: not what is done,
        nor what retrieval failed for (`hold`: as in `requests`, for these requests only)."""
        return (r for r in self.requests(skip, _generated(hold)) if r.retrieval != ())

    @cached_property
    def provider_of(self) -> dict[str, str]:
        """Each variant's provider, by variant name."""
        return {v.name: v.provider for v in self.variants}

    def requests_by_provider(self, skip: set[str] | None = None) -> dict[str, list[Request]]:
        """What each provider must generate, all at once (small plans and tests)."""
        out: dict[str, list[Request]] = defaultdict(list)
        for batch in self.batches(skip):
            for name, requests in batch.items():
                out[name].extend(requests)
        return dict(out)

    def keep_shard(self, shard: Shard | None) -> Plan:
        """The plan of one shard (`--shard I/N`); every repeat of a case stays together."""
        return self if shard is None else replace(self, shard=shard)

    def retrieval_failures(self, skip: set[str] | None = None, hold: Hold | None = None) -> Iterator[Request]:
        """RAG requests whose retrieval found nothing: recorded as errors, never sent to a model."""
        for unit in self.units:
            if unit.variant.rag is None:
                continue
            for case in self._cases(unit):
                hit = self.retrieved.get((unit.suite.name, unit.variant.name, case.id))
                if hit is not None and not hit[1]:
                    for request in self._render(unit, case, skip):
                        if hold is not None:
                            hold(request, case)
                        yield request

    def _cases(self, unit: Unit) -> Iterator[Case]:
        suite, variant, shard = unit.suite.name, unit.variant.name, self.shard
        for case in unit.suite.cases:
            if shard is None or shard.holds(suite, case.id, variant):
                yield case

    def _render(self, unit: Unit, case: Case, skip: set[str] | None) -> Iterator[Request]:
        """A case's requests (one per repeat not in `skip`), its prompt rendered once for all."""
        keys = [request_key(unit, case, rep) for rep in range(unit.repeats)]
        if skip and all(k in skip for k in keys):
            return
        suite, variant = unit.suite, unit.variant
        rag = variant.rag is not None
        messages = suite.render_messages(case, variant, unit.prompt, RAG_PLACEHOLDER if rag else None)
        extra: dict[str, Any] = {"input_messages": messages if rag else None}
        hit = self.retrieved.get((suite.name, variant.name, case.id)) if rag else None
        if hit is not None:
            query, chunks = hit
            messages = suite.render_messages(case, variant, unit.prompt, rag_variables(chunks))
            extra |= {"retrieval": tuple(chunks), "retrieval_query": query}
        params = unit.params if case.tools is None else unit.params.model_copy(update={"tools": case.tools})
        loglikelihood = _loglikelihood(suite, case)
        for rep, key in enumerate(keys):
            if skip and key in skip:
                continue
            yield Request(
                key=key,
                suite=suite.name,
                case_id=case.id,
                variant=variant.name,
                repeat=rep,
                messages=messages,
                params=params,
                model=variant.model,
                agent=unit.agent,
                loglikelihood=loglikelihood,
                **extra,
            )


Hold = Callable[[Request, Case], None]  # told each request's case as it is rendered


def _generated(hold: Hold | None) -> Hold | None:
    """`hold` for the requests sent to a model only (a failed retrieval's are not batched)."""
    if hold is None:
        return None

    def generated(request: Request, case: Case) -> None:
        if request.retrieval != ():
            hold(request, case)

    return generated


def request_key(unit: Unit, case: Case, repeat: int) -> str:
    return f"{unit.suite.name}/{case.id}/{unit.variant.name}/{repeat}"


def build_plan(
    loaded: LoadedConfig,
    suites: Sequence[Suite],
    variant_names: Sequence[str] = (),
    repeats: int | None = None,
    concurrency: int | None = None,
) -> Plan:
    """Validate the whole run: every prompt is rendered once here (a template error is bad input,
    found before any model call), then let go. Raises UserInputError; calls no model."""
    names = [s.name for s in suites]
    for name in names:
        if names.count(name) > 1:
            paths = [str(s.source_path) for s in suites if s.name == name]
            raise UserInputError(f"two suites are named '{name}': {', '.join(paths)}")
    variants = select_variants(loaded, variant_names)

    for suite in suites:
        if suite.calibration is not None:
            check_calibration(suite.calibration, suite.name)
    scorers = {s.name: _build_scorers(s) for s in suites}
    judges = _judge_providers(loaded, suites, scorers)
    providers, notes = _provider_specs(loaded, variants, concurrency, extra=judges)
    prompts = {v.name: loaded.resolve(v.prompt).read_text(encoding="utf-8") for v in variants if v.prompt}
    units: list[Unit] = []
    loop_providers: set[str] = set()
    empty: set[str] = set()
    for suite in suites:
        n_repeats = repeats if repeats is not None else suite.repeats
        for variant in variants:
            params, agent = tool_params(suite, variant, suite.params.merged(variant.params))
            unit = Unit(suite, variant, n_repeats, params, agent, prompts.get(variant.name))
            units.append(unit)
            if n_repeats > 0 and suite.cases:
                empty |= _check_unit(unit, providers, loop_providers)
    plan = Plan(
        loaded,
        tuple(suites),
        tuple(variants),
        providers,
        scorers,
        tuple(units),
        {s.name: repeats if repeats is not None else s.repeats for s in suites},
        prompts=prompts,
        agent_providers=frozenset(loop_providers),
    )
    warnings = [*notes, *_empty_prompt_warnings(empty), *_unpriced_warnings(plan), *_param_notes(plan)]
    return replace(plan, warnings=tuple(warnings))


def _check_unit(unit: Unit, providers: Mapping[str, ProviderSpec], loop_providers: set[str]) -> set[str]:
    """Render every case of a suite × variant (errors name the case), check its tools and
    log-likelihood needs against its providers; returns the cases whose user message is empty.
    A case that plain templates render from its vars alone is checked without a Case or its
    messages (`prompt_check`); any other goes through `Suite.render_messages`."""
    suite, variant = unit.suite, unit.variant
    extra = RAG_PLACEHOLDER if variant.rag is not None else None
    plain = PlainPrompt.of(suite, variant, unit.prompt)
    own_tools = tool_names(unit.params)
    params_by_tools: dict[tuple[str, ...], GenerationParams] = {}  # in the order cases first use them
    asked: Loglikelihood | None = None  # the first case with choices asks this
    empty: set[str] = set()
    for case_id, variables, own_nothing, item in light_cases(suite.cases):
        blank = None
        if plain is not None and own_nothing:
            blank = plain.blank({**variables, **extra} if extra else variables)
            params_by_tools.setdefault(own_tools, unit.params)
        if blank is None:
            case = whole(item)
            messages = suite.render_messages(case, variant, unit.prompt, extra)
            params = (
                unit.params if case.tools is None else unit.params.model_copy(update={"tools": case.tools})
            )
            params_by_tools[tool_names(params)] = params
            if asked is None:
                asked = _loglikelihood(suite, case)
            blank = not any(m.content.strip() for m in messages if m.role == "user")
        if blank:
            empty.add(f"{suite.name}/{case_id} ({variant.name})")
    for name in [variant.provider, *([variant.fallback] if variant.fallback else [])]:
        for params in params_by_tools.values():
            check_tools(suite, variant, params, unit.agent, providers[name])
        check_loglikelihood(suite, variant, asked, providers[name])
        if unit.agent is not None:
            loop_providers.add(name)
    return empty


def _param_notes(plan: Plan) -> list[str]:
    """What each variant's provider leaves out of its params (a model that takes no top_p, say)."""
    first: dict[str, Request] = {}
    for r in plan.first_requests():
        first.setdefault(r.variant, r)
    out: list[str] = []
    for variant in plan.variants:
        spec = plan.providers[variant.provider]
        if variant.name in first:
            notes = spec.cls(spec.name, spec.settings).param_notes(first[variant.name])
            out += [f"variant '{variant.name}' ({variant.provider}): {note}" for note in notes]
    return list(dict.fromkeys(out))


def _unpriced_warnings(plan: Plan) -> list[str]:
    """One line per vendor model with no price: its cost is unmeasured ("–"), never 0."""
    out = []
    for key, price in describe_prices(
        plan, {n: s.cls(n, s.settings) for n, s in plan.providers.items()}
    ).items():
        if price["source"] is None and price.get("vendor"):
            out.append(
                f"no price known for model '{price['model']}' ({key.split('/', 1)[0]}): its cost is "
                "unmeasured; give it a pricing: block in evalkit.yaml"
            )
    return out


def select_variants(loaded: LoadedConfig, names: Sequence[str], *, strict: bool = True) -> list[Variant]:
    """The variants `--variant` names, in the config's order when a glob picks them (`large-*`,
    `*.v2`: shell-style, matched against whole names); none named: every variant. `strict`: an
    unknown name or a glob that matches nothing is a usage error."""
    variants = loaded.config.variants
    if not names:
        return list(variants.values())
    chosen: list[str] = []
    for name in names:
        if any(ch in name for ch in "*?["):
            matched = [v for v in variants if fnmatch.fnmatchcase(v, name)]
            if not matched and strict:
                known = ", ".join(variants)
                raise UserInputError(
                    f"--variant '{name}' matches no variant (known: {known})", path=loaded.path
                )
            chosen += matched
        elif name in variants:
            chosen.append(name)
        elif strict:
            raise UserInputError(f"unknown variant '{name}'{did_you_mean(name, variants)}", path=loaded.path)
    return [variants[n] for n in dict.fromkeys(chosen)]


def build_scoring_plan(loaded: LoadedConfig, suites: Sequence[Suite], variant_names: Sequence[str]) -> Plan:
    """A plan to score stored outputs with: scorers, and only the providers judges call. It makes
    no request, retrieves nothing and needs no API key that no scorer uses."""
    variants = select_variants(loaded, variant_names, strict=False) if variant_names else []
    for suite in suites:
        if suite.calibration is not None:
            check_calibration(suite.calibration, suite.name)
    scorers = {s.name: _build_scorers(s) for s in suites}
    judges = _judge_providers(loaded, suites, scorers)
    providers, _ = _provider_specs(loaded, [], None, extra=judges)
    return Plan(
        loaded,
        tuple(suites),
        tuple(variants),
        providers,
        scorers,
        repeats={s.name: s.repeats for s in suites},
    )


def metrics_for(suites: Sequence[Suite]) -> dict[str, list[MetricInfo]]:
    """Each suite's MetricInfo (what aggregation needs), with its `pass:` rule applied."""
    return {
        s.name: [m for scorer in _build_scorers(s) for m in scorer.metric_infos(s.pass_scores)]
        for s in suites
    }


def _judge_providers(
    loaded: LoadedConfig, suites: Sequence[Suite], scorers: dict[str, list[ConfiguredScorer]]
) -> list[str]:
    judges: list[str] = []
    for suite in suites:
        for scorer in scorers[suite.name]:
            judge = scorer.info.provider
            if judge is None:
                continue
            if judge not in loaded.config.providers:
                raise UserInputError(
                    f"a scorer calls provider '{judge}', which evalkit.yaml does not define"
                    f"{did_you_mean(judge, loaded.config.providers)}",
                    path=suite.source_path,
                )
            judges.append(judge)
    return judges


def _empty_prompt_warnings(empty: set[str]) -> list[str]:
    if not empty:
        return []
    ordered = sorted(empty)
    shown = ", ".join(ordered[:5]) + (f" and {len(ordered) - 5} more" if len(ordered) > 5 else "")
    return [f"{len(ordered)} prompt(s) render to an empty user message: {shown}"]


def concurrency_limit(
    loaded: LoadedConfig, name: str, cls: type[Provider[Any]], concurrency: int | None, notes: list[str]
) -> int | None:
    """A provider's in-flight limit: its own `concurrency:`, else --concurrency, else
    `run.concurrency`. A provider's own limit (a judge's rate limit, say) is never overridden.
    Engines that batch take none, and the user is told when one was asked for them."""
    pconf = loaded.config.providers[name]
    if not cls.batches:
        return pconf.concurrency or concurrency or loaded.config.run.concurrency
    asked = [f"concurrency: {pconf.concurrency}"] if pconf.concurrency is not None else []
    asked += [f"--concurrency {concurrency}"] if concurrency is not None else []
    if asked:
        notes.append(
            f"provider '{name}' ({pconf.type}) batches on its own: {' and '.join(asked)} does not apply to it"
        )
    return None


def _provider_specs(
    loaded: LoadedConfig, variants: Sequence[Variant], concurrency: int | None, extra: Sequence[str] = ()
) -> tuple[dict[str, ProviderSpec], list[str]]:
    """Validate the settings of every provider the run uses into typed specs (no instances)."""
    config = loaded.config
    specs: dict[str, ProviderSpec] = {}
    notes: list[str] = []
    names = [v.provider for v in variants] + [v.fallback for v in variants if v.fallback is not None]
    for name in dict.fromkeys([*names, *extra]):
        pconf = config.providers[name]
        where = f"providers.{name}"
        try:
            cls = plugins.providers.get(pconf.type)
        except UserInputError:  # an unknown type: the known ones, at the config's line
            line = loaded.lines.get(("providers", name, "type")) or loaded.lines.get(("providers", name))
            known = plugins.providers.names()
            close = did_you_mean(pconf.type, known) if pconf.type else ""
            hint = close if close.startswith(" (did you mean") else ""
            raise UserInputError(
                f"{where}.type: unknown provider type '{pconf.type}'{hint}; known: {', '.join(known)}",
                path=loaded.path,
                line=line,
            ) from None
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise UserInputError(f"{where}: '{pconf.type}' is not a Provider class")
        try:
            settings = cls.settings_model.model_validate(pconf.settings())
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            key = ".".join(str(p) for p in user_loc(err["loc"]))
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                allowed = [*cls.settings_model.model_fields, "pricing", "concurrency", "replicas", "type"]
                msg = f"unknown key '{key}'{did_you_mean(key, allowed)}"
            line = loaded.lines.get(("providers", name, *err["loc"][:1])) or loaded.lines.get(
                ("providers", name)
            )
            where = f"{where}: {key}" if key else where  # a check of the whole entry names no key
            raise UserInputError(f"{where}: {msg}", path=loaded.path, line=line) from None
        limit = concurrency_limit(loaded, name, cls, concurrency, notes)
        specs[name] = ProviderSpec(name, pconf.type, cls, settings, limit, pconf.replicas)
    for variant in variants:
        spec = specs[variant.provider]
        takes_model = "model" in spec.cls.settings_model.model_fields
        if variant.model is not None and not takes_model:
            raise UserInputError(
                f"variants.{variant.name}.model: provider '{variant.provider}' "
                f"({spec.kind}) takes no model name; configure the model on a provider of its own",
                path=loaded.path,
            )
        if variant.model is None and takes_model and getattr(spec.settings, "model", None) is None:
            raise UserInputError(
                f"variants.{variant.name}: no model set on the variant or on provider '{variant.provider}'",
                path=loaded.path,
            )
    return specs, notes


def _build_scorers(suite: Suite) -> list[ConfiguredScorer]:
    built: list[ConfiguredScorer] = []
    seen: dict[str, str] = {}
    for i, spec in enumerate(suite.scorers):
        line = suite.lines.get(("scorers", i)) or suite.lines.get(("scorers",))
        where = f"{suite.source_path}:{line}: scorers[{i}]" if line else f"{suite.source_path}: scorers[{i}]"
        template = spec.options().get("template")
        if isinstance(template, str) and not Path(template).is_absolute():
            spec = spec.model_copy(update={"template": str(suite.source_path.parent / template)})
        module_path = spec.options().get("path")  # a local module (evaluate): suite-relative if there
        if isinstance(module_path, str) and (suite.source_path.parent / module_path).exists():
            spec = spec.model_copy(update={"path": str(suite.source_path.parent / module_path)})
        try:
            scorer = build_scorer(spec, where)
        except UserInputError as exc:
            if exc.path is None and not str(exc).startswith(str(suite.source_path)):
                raise UserInputError(str(exc), path=suite.source_path, line=line) from None
            raise
        for name in scorer.names:
            if name in seen:
                raise UserInputError(
                    f"two scorers produce a score named '{name}': give one a 'name:'",
                    path=suite.source_path,
                )
            seen[name] = spec.type
        if scorer.info.needs_reference:
            missing = first_unreferenced(suite.cases)
            if missing is not None:
                raise UserInputError(
                    f"case '{missing.id}' ({missing.origin}) has no reference, "
                    f"which scorer '{spec.type}' needs"
                )
        built.append(scorer)
    _check_pass_rule(suite, built)
    known = [*seen, *SPECIAL_METRICS, *(f"corpus_{n}" for n in seen)]
    if suite.calibration is not None:  # judged against people: agreement and κ (evalkit.human.labels)
        known += ["human", *(f"{n}{x}" for n in seen for x in ("_human_agreement", "_kappa"))]
    higher = {name: s.info.higher_is_better for s in built for name in s.names}
    for special in SPECIAL_METRICS:
        higher[special] = special == "pass_rate"
    for metric, threshold in suite.thresholds.items():
        if metric not in known:
            raise UserInputError(
                f"thresholds.{metric}: no such score in this suite{did_you_mean(metric, known)}",
                path=suite.source_path,
                line=suite.lines.get(("thresholds", metric)),
            )
        up = higher.get(metric, True)
        if (threshold.max_drop is not None and not up) or (threshold.max_increase is not None and up):
            right = "max_drop" if up else "max_increase"
            raise UserInputError(
                f"thresholds.{metric}: {metric} is {'higher' if up else 'lower'} is better: use {right}",
                path=suite.source_path,
            )
    return built


def _check_pass_rule(suite: Suite, built: Sequence[ConfiguredScorer]) -> None:
    """`pass:` names scores that give a pass/fail mark and are not informational."""
    if suite.pass_scores is None:
        return
    infos = {m.name: m for s in built for m in s.metric_infos()}
    for name in suite.pass_scores:
        info = infos.get(name)
        if info is None:
            raise UserInputError(
                f"pass: no score named '{name}' in this suite{did_you_mean(name, infos)}",
                path=suite.source_path,
            )
        if info.informational:
            raise UserInputError(
                f"pass: '{name}' is informational, so it cannot decide a pass", path=suite.source_path
            )
        if not info.verdict:
            raise UserInputError(
                f"pass: '{name}' gives no pass/fail mark: give its scorer a 'threshold:'",
                path=suite.source_path,
            )


def describe_plan(plan: Plan, providers: Mapping[str, Provider[Any]] | None = None) -> dict[str, Any]:
    """What the plan made of the config, for run.json: providers described from allow-listed
    fields (never raw settings), variants, the number of requests and the retrievers. Providers
    describe themselves: the run's live instances when given (engine statistics included), else
    fresh, unstarted ones."""
    if providers is None:
        providers = {name: spec.cls(name, spec.settings) for name, spec in plan.providers.items()}
    return {
        "config_path": str(plan.loaded.path) if plan.loaded.path else None,
        "providers": {name: p.describe() for name, p in providers.items()},
        "variants": {v.name: v.model_dump(mode="json") for v in plan.variants},
        "requests": plan.count,
        "rag": plan.rag,
        "prices": describe_prices(plan, providers),
        "prompts": dict(plan.prompts),  # each variant's own prompt template (text): prompt diffs
    }


def describe_prices(plan: Plan, providers: Mapping[str, Provider[Any]]) -> dict[str, dict[str, Any]]:
    """Every price the run uses, by "provider/model", with its source (the config's `pricing:`,
    or the price database and its version); `source: null` for a model with no known price."""
    pairs = {(v.provider, v.model) for v in plan.variants}
    pairs |= {(v.fallback, None) for v in plan.variants if v.fallback is not None}
    pairs |= {(name, None) for name in plan.providers if name not in {v.provider for v in plan.variants}}
    out: dict[str, dict[str, Any]] = {}
    for name, model in sorted(pairs, key=str):
        provider = providers.get(name)
        if provider is None:
            continue
        model = model or getattr(provider.settings, "model", None)
        price = plan.loaded.pricing_for(name, model, provider.price_vendor())
        out[f"{name}/{model or '-'}"] = (
            price.describe()
            if price is not None
            else {"source": None, "model": model, "vendor": provider.price_vendor()}
        )
    return out


def instantiate(plan: Plan) -> dict[str, Provider[Any]]:
    """The execute stage's provider instances (checked: credentials, imports, model folders), with
    the agent loop around every provider that serves agent requests (their tools imported now)."""
    providers = build_providers(plan.providers)
    if plan.agent_providers:
        suite_dirs = {s.name: s.source_path.parent.resolve() for s in plan.suites}
        wrap_agent_providers(
            providers,
            list(plan.first_requests()),
            set(plan.agent_providers),
            suite_dirs,
            plan.loaded.pricing_for,
        )
    return providers


def tool_names(params: GenerationParams) -> tuple[str, ...]:
    return tuple(t.function.name for t in params.tools or ())


def _loglikelihood(suite: Suite, case: Case) -> Loglikelihood | None:
    """A case with `choices` asks for each choice's log-likelihood, not a generation."""
    if case.choices is None:
        return None
    how = suite.multiple_choice or MultipleChoice()
    return Loglikelihood(continuations=tuple(how.continuation(c) for c in case.choices), context=how.context)


def check_loglikelihood(
    suite: Suite, variant: Variant, asked: Loglikelihood | None, provider: ProviderSpec
) -> None:
    """Cases with `choices` need a provider that gives log-probabilities: exit 2 before any call."""
    if asked is None:
        return
    able = provider.cls.loglikelihood_contexts
    where = f"suite '{suite.name}', variant '{variant.name}'"
    if not able:
        raise UserInputError(
            f"{where}: cases with 'choices' are scored by log-likelihood, and provider "
            f"'{provider.name}' ({provider.kind}) cannot give log-probabilities; use a 'transformers' "
            "or 'vllm' provider, or an 'openai' one whose server returns prompt log-probabilities "
            "(/v1/completions with echo, as vLLM's does)",
            path=suite.source_path,
        )
    if asked.context not in able:
        raise UserInputError(
            f"{where}: multiple_choice.context '{asked.context}' needs the model's chat template, "
            f"which provider '{provider.name}' ({provider.kind}) does not have; use context: plain",
            path=suite.source_path,
        )
