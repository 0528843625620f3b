"""A run directory is data. What its run.json records that is code, or that points outside it
(a scorer's module path or template file, a judge's provider and its host, plugins, the response
cache, the baselines folder), is used by `evalkit score` only when the user says so: with their
own config and suite files, or with `--trust-run-config`. This module lists those things, so
the refusal (or the trusting run) can say exactly what would be used. See docs/trust-model.md."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evalkit import plugins
from evalkit._util.secrets import redact_url
from evalkit.errors import UserInputError
from evalkit.spec.config import Config
from evalkit.spec.suite import Suite
from evalkit.types import ScorerInfo

TRUST_FLAG = "--trust-run-config"


def _declared(scorer_type: str) -> ScorerInfo | None:
    try:
        factory = plugins.scorers.get(scorer_type)
    except UserInputError:
        return None  # an unknown scorer fails later, with the plan's own message
    return plugins.declared_info(factory)


def describe_provider(name: str, settings: Any) -> str:
    """`'grader' (openai at http://host/v1)`: a recorded provider, its URL without secrets."""
    if not isinstance(settings, Mapping):
        return f"'{name}'"
    kind = str(settings.get("type", "?"))
    where = settings.get("base_url")
    at = f" at {redact_url(str(where))}" if where else ""
    code = settings.get("callable") or settings.get("respond")
    runs = f" running {code}" if isinstance(code, str) else ""
    return f"'{name}' ({kind}{at}{runs})"


def scorer_uses(suites: Iterable[Suite]) -> list[str]:
    """What the scorers of recorded suites would import, read or call outside the run directory."""
    uses: list[str] = []
    for suite in suites:
        for i, spec in enumerate(suite.scorers):
            where = f"suite '{suite.name}' scorer {i + 1} ({spec.type})"
            source = plugins.scorers.source(spec.type)
            if source is not None and source != "builtin":
                uses.append(f"{where}: a plugin scorer (from {source}) with the run's options")
                continue
            declared = _declared(spec.type)
            options = spec.options()
            for key in declared.outside if declared is not None else ():
                if options.get(key) is not None:
                    uses.append(f"{where}: {key} '{options[key]}'")
    return uses


def judge_providers(suites: Iterable[Suite]) -> list[tuple[str, str]]:
    """(provider name, suite name) for every provider the suites' scorers call."""
    out: list[tuple[str, str]] = []
    for suite in suites:
        for spec in suite.scorers:
            name = spec.options().get("provider")
            if isinstance(name, str) and (name, suite.name) not in out:
                out.append((name, suite.name))
    return out


def provider_uses(recorded: Mapping[str, Any], suites: Iterable[Suite], own: Config | None) -> list[str]:
    """The run's recorded providers its judges would call: all of them when `own` is None (the
    run is trusted), else those the user's own config does not define."""
    providers = recorded.get("providers") if isinstance(recorded.get("providers"), Mapping) else {}
    uses: list[str] = []
    for name, suite in judge_providers(suites):
        if own is not None and name in own.providers:
            continue
        settings = (providers or {}).get(name)
        if settings is None and own is not None:
            continue  # neither defines it: the plan says so with its own message
        uses.append(f"suite '{suite}' judge provider {describe_provider(name, settings)}")
    return uses


def config_uses(recorded: Mapping[str, Any]) -> list[str]:
    """Plugins and a response cache path recorded in the run's config."""
    uses = [f"plugin '{p}'" for p in recorded.get("plugins") or () if isinstance(p, str)]
    cache = recorded.get("cache")
    if isinstance(cache, Mapping) and cache.get("path"):
        uses.append(f"response cache '{cache['path']}'")
    return uses


def refuse(run_dir: Any, uses: Sequence[str]) -> UserInputError:
    lines = "\n".join(f"  - {u}" for u in uses)
    return UserInputError(
        "this run directory is data, but its run.json names code or things outside it, which "
        f"evalkit will not use unless you say so:\n{lines}\n"
        "score it with your own config and suite files (evalkit score RUN_DIR SUITE.yaml "
        f"--config evalkit.yaml), or pass {TRUST_FLAG} if you trust whoever wrote it",
        path=run_dir,
    )
