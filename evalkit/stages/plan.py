"""The plan stage: validate a whole run (config × suites × variants × repeats) and render every
request, before any model call. Raises UserInputError; calls no model."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit import plugins
from evalkit.agent.setup import check_tools, tool_params, wrap_agent_providers
from evalkit.errors import UserInputError, did_you_mean
from evalkit.human.labels import check_calibration
from evalkit.providers.base import Provider
from evalkit.providers.service import ProviderSpec, build_providers
from evalkit.rag.context import RAG_PLACEHOLDER
from evalkit.scorers.base import ConfiguredScorer, build_scorer
from evalkit.spec.config import LoadedConfig, Variant
from evalkit.spec.suite import Case, MultipleChoice, Suite
from evalkit.spec.yamlfile import user_loc
from evalkit.stages.shard import Shard
from evalkit.types import (
    SPECIAL_METRICS,
    GenerationParams,
    Loglikelihood,
    MetricInfo,
    Request,
)


@dataclass
class Plan:
    loaded: LoadedConfig
    suites: list[Suite]
    variants: list[Variant]
    providers: dict[str, ProviderSpec]  # validated settings and limits; instances: execute stage
    scorers: dict[str, list[ConfiguredScorer]]
    requests: list[Request]
    repeats: dict[str, int] = field(default_factory=dict)
    rag: dict[str, dict[str, Any]] = field(default_factory=dict)  # variant → retriever and index facts
    prompts: dict[str, str] = field(default_factory=dict)  # variant → its prompt template's text
    agent_providers: set[str] = field(default_factory=set)  # providers whose requests run an agent loop
    warnings: list[str] = field(default_factory=list)  # things a person should know before the run

    def metrics(self, suite: str) -> list[MetricInfo]:
        """What aggregation needs to know of each score of a suite (stored in run.json)."""
        pass_scores = next(s.pass_scores for s in self.suites if s.name == suite)
        return [m for scorer in self.scorers[suite] for m in scorer.metric_infos(pass_scores)]

    def requests_by_provider(self, skip: set[str] | None = None) -> dict[str, list[Request]]:
        """What each provider must generate: not what is done, nor what retrieval failed for."""
        provider_of = {v.name: v.provider for v in self.variants}
        out: dict[str, list[Request]] = defaultdict(list)
        for r in self.requests:
            if (skip is None or r.key not in skip) and r.retrieval != ():
                out[provider_of[r.variant]].append(r)
        return out

    def keep_shard(self, shard: Shard | None) -> None:
        """Keep only the requests of one shard (`--shard I/N`); every repeat of a case stays together."""
        if shard is not None:
            self.requests = [r for r in self.requests if shard.holds(r.suite, r.case_id, r.variant)]

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
    requests: list[Request] = []
    repeat_counts: dict[str, int] = {}
    loop_providers: set[str] = set()
    for suite in suites:
        n_repeats = repeats if repeats is not None else suite.repeats
        repeat_counts[suite.name] = n_repeats
        for variant in variants:
            batch = _requests_for(suite, variant, prompts.get(variant.name), n_repeats)
            for name in [variant.provider, *([variant.fallback] if variant.fallback else [])]:
                for params in {tool_names(r.params): r.params for r in batch}.values():
                    check_tools(suite, variant, params, batch[0].agent, providers[name])
                check_loglikelihood(suite, variant, batch, providers[name])
                if batch and batch[0].agent is not None:
                    loop_providers.add(name)
            requests.extend(batch)
    plan = Plan(loaded, list(suites), variants, providers, scorers, requests, repeat_counts, prompts=prompts)
    plan.agent_providers = loop_providers
    plan.warnings.extend(notes)
    plan.warnings.extend(_empty_prompt_warnings(requests))
    plan.warnings.extend(_unpriced_warnings(plan))
    plan.warnings.extend(_param_notes(plan))
    return plan


def _param_notes(plan: Plan) -> list[str]:
    """What each variant's provider leaves out of its params (a model that takes no top_p, say)."""
    first: dict[str, Request] = {}
    for r in plan.requests:
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
    return Plan(loaded, list(suites), variants, providers, scorers, [], {s.name: s.repeats for s in suites})


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


def _requests_for(suite: Suite, variant: Variant, prompt: str | None, n_repeats: int) -> list[Request]:
    """Every case × repeat of a suite under a variant. A RAG variant's prompts are rendered with a
    placeholder for the context here; the retrieve stage fills it in."""
    params, agent = tool_params(suite, variant, suite.params.merged(variant.params))
    extra = RAG_PLACEHOLDER if variant.rag is not None else None
    out = []
    for case in suite.cases:
        messages = suite.render_messages(case, variant, prompt, extra)
        case_params = params if case.tools is None else params.model_copy(update={"tools": case.tools})
        loglikelihood = _loglikelihood(suite, case)
        for rep in range(n_repeats):
            out.append(
                Request(
                    key=f"{suite.name}/{case.id}/{variant.name}/{rep}",
                    suite=suite.name,
                    case_id=case.id,
                    variant=variant.name,
                    repeat=rep,
                    messages=messages,
                    params=case_params,
                    model=variant.model,
                    input_messages=messages if extra is not None else None,
                    agent=agent,
                    loglikelihood=loglikelihood,
                )
            )
    return out


def _empty_prompt_warnings(requests: Sequence[Request]) -> list[str]:
    empty = sorted(
        {
            f"{r.suite}/{r.case_id} ({r.variant})"
            for r in requests
            if not any(m.content.strip() for m in r.messages if m.role == "user")
        }
    )
    if not empty:
        return []
    shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
    return [f"{len(empty)} prompt(s) render to an empty user message: {shown}"]


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
            raise UserInputError(f"{where}: {key}: {msg}", path=loaded.path, line=line) from None
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
            missing = next((c for c in suite.cases if not c.references), None)
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
        "requests": len(plan.requests),
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
            providers, plan.requests, plan.agent_providers, suite_dirs, plan.loaded.pricing_for
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
    suite: Suite, variant: Variant, batch: Sequence[Request], provider: ProviderSpec
) -> None:
    """Cases with `choices` need a provider that gives log-probabilities: exit 2 before any call."""
    asked = next((r.loglikelihood for r in batch if r.loglikelihood is not None), None)
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
