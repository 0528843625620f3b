"""evalkit.yaml: providers, variants, pricing and run settings (pydantic, extra="forbid")."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalkit._util.models import Spec, new_list
from evalkit._util.paths import not_a_file
from evalkit.errors import UserInputError, did_you_mean
from evalkit.spec.history import HistorySettings
from evalkit.spec.matrix import expand_matrix
from evalkit.spec.prices import Price, database_price
from evalkit.spec.rag import RagSettings, expand_sweeps
from evalkit.spec.yamlfile import format_validation_error, load_yaml
from evalkit.types import AgentSettings, GenerationParams, ToolChoice, ToolSchema, Usage

DEFAULT_CONFIG_NAME = "evalkit.yaml"
DEFAULT_PROVIDER = "local"
DEFAULT_VARIANT = "default"


class Pricing(Spec):
    """US dollars per million tokens. Cached-read and cache-write tokens are billed at their own
    prices when given, else at the input price; reasoning tokens are output tokens."""

    input_per_mtok: float = Field(ge=0)  # USD per million prompt tokens
    output_per_mtok: float = Field(ge=0)  # USD per million output tokens
    # USD per million prompt tokens read from the vendor's cache (default: input price)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    # USD per million prompt tokens written to the vendor's cache (default: input price)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)

    def cost(self, usage: Usage) -> float:
        """`input_tokens` includes the cached and cache-write ones (see types.Usage)."""
        read = usage.cached_input_tokens or 0
        write = usage.cache_write_tokens or 0
        read_price = self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        write_price = self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok
        uncached = max((usage.input_tokens or 0) - read - write, 0)
        return (
            uncached * self.input_per_mtok
            + read * read_price
            + write * write_price
            + (usage.output_tokens or 0) * self.output_per_mtok
        ) / 1_000_000


class ProviderConfig(BaseModel):
    """`type` picks the backend; the remaining keys are that backend's own settings."""

    model_config = ConfigDict(defer_build=True, extra="allow", frozen=True, allow_inf_nan=False)

    # the provider: openai, anthropic, transformers, vllm, python, scripted, replay or a plugin's
    type: str
    # USD per million tokens for this provider's model (wins over the price database)
    pricing: Pricing | None = None
    # requests in flight at once on this provider's connection (default: run.concurrency)
    concurrency: int | None = Field(default=None, gt=0)
    # local engines (transformers, vllm): run N copies as Ray actors (pip install 'evalkit[ray]')
    replicas: int | None = Field(default=None, gt=0)

    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Variant(Spec):
    """One thing to evaluate: a provider, optionally another model, prompt and params."""

    name: str = ""  # set from the variant's key
    provider: str = DEFAULT_PROVIDER  # a key of `providers:`
    model: str | None = None  # overrides the provider's model
    prompt: str | None = None  # path to a jinja2 template file for the user message
    system: str | None = None  # replaces the suite's system prompt
    # generation params (temperature, max_tokens, ...); win over the suite's
    params: GenerationParams = Field(default_factory=GenerationParams)
    fallback: str | None = None  # provider to ask when this one fails after its retries
    description: str | None = None  # a line about the variant, shown in reports
    rag: RagSettings | None = None  # retrieve context for each case (see evalkit.rag)
    tools: list[ToolSchema] | None = None  # replaces the suite's tools (OpenAI function tools)
    tool_choice: ToolChoice | None = None  # auto, none, required or a named function; replaces the suite's
    agent: AgentSettings | None = None  # replaces the suite's agent loop settings


class RunSettings(Spec):
    # requests in flight per connection, for providers without a concurrency of their own
    concurrency: int = Field(default=16, gt=0)
    # error budget: above this share of error results the run exits 3
    max_error_rate: float = Field(default=0.1, ge=0, le=1)
    max_errors: int | None = Field(default=None, ge=0)  # the error budget as a count instead
    # scores that could not be measured on a generated output (scorer error, unparseable
    # judge verdict), per metric: above this share the run exits 3 rather than trusting the means
    max_unmeasured_rate: float = Field(default=0.1, ge=0, le=1)
    deadline_s: float | None = Field(default=None, gt=0)  # stop the whole run after this long
    # the circuit breaker: when the first N answers of one provider all failed for the same cause
    # that no retry can fix (host not found, connection refused, model not found), the run stops
    # there instead of trying every case; 0 turns it off
    stop_after_failures: int = Field(default=5, ge=0)
    output_dir: str = "reports"  # where runs go: <output_dir>/<run-id>/


class GlobalThresholds(Spec):
    """Thresholds for every suite (a suite's own `thresholds:` wins)."""

    # more cases than this going pass → fail against the baseline fail the run (see the docs'
    # regression-testing page for how to choose it)
    max_new_failures: int | None = Field(default=None, ge=0)


class CacheSettings(Spec):
    enabled: bool = True  # false: always call the models (--no-cache for one run)
    ttl_s: float | None = Field(default=None, gt=0)  # entries older than this are ignored
    path: str | None = None  # default: ~/.cache/evalkit/responses.sqlite


class Config(Spec):
    # the models to call, by a name of your choosing (default: `local`, the embedded model)
    providers: dict[str, ProviderConfig] = Field(
        default_factory=lambda: {DEFAULT_PROVIDER: ProviderConfig(type="transformers")}
    )
    # what to compare, by name: a provider plus optional model, prompt, params, retrieval
    variants: dict[str, Variant] = Field(default_factory=dict)
    suites: list[str] = Field(default_factory=new_list)  # suite files or folders, relative to this file
    pricing: dict[str, Pricing] = Field(default_factory=dict)  # by model name
    plugins: list[str] = Field(default_factory=new_list)  # modules to import: their providers, scorers
    run: RunSettings = Field(default_factory=RunSettings)  # concurrency, error budget, deadline
    cache: CacheSettings = Field(default_factory=CacheSettings.model_construct)  # the response cache
    # run history and alerts
    history: HistorySettings = Field(default_factory=HistorySettings.model_construct)
    thresholds: GlobalThresholds = Field(default_factory=GlobalThresholds)  # for every suite
    matrix: dict[str, Any] | None = None  # variants from lists: models × prompts × params

    @model_validator(mode="before")
    @classmethod
    def _matrix_variants(cls, data: Any) -> Any:
        """`matrix:` cells join `variants:` (a name in both is an error)."""
        if not isinstance(data, dict) or data.get("matrix") is None:
            return data
        cells = expand_matrix(data["matrix"])
        variants = data.get("variants") or {}
        if not isinstance(variants, dict):
            return data
        clash = sorted(set(cells) & set(variants))
        if clash:
            raise ValueError(f"matrix: variant '{clash[0]}' is also defined under variants:")
        # expanded once: the stored config (run.json) holds the cells, and no matrix to expand again
        return {**data, "variants": {**variants, **cells}, "matrix": None}

    @field_validator("variants", mode="before")
    @classmethod
    def _name_variants(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = expand_sweeps(value)
            return {
                name: ({**spec, "name": name} if isinstance(spec, dict) else spec)
                for name, spec in value.items()
            }
        return value

    @model_validator(mode="after")
    def _defaults_and_refs(self) -> Config:
        if not self.variants:
            first = next(iter(self.providers), DEFAULT_PROVIDER)
            object.__setattr__(
                self, "variants", {DEFAULT_VARIANT: Variant(name=DEFAULT_VARIANT, provider=first)}
            )
        return self


class LoadedConfig(BaseModel):
    """A validated config and where it came from (relative paths resolve against `base_dir`)."""

    # built when first used, after Config: its schema then reuses Config's instead of building it
    # again at import (0.8 % of a 10-case run)
    model_config = ConfigDict(defer_build=True, frozen=True)

    config: Config
    path: Path | None
    base_dir: Path
    lines: dict[tuple[str | int, ...], int] = Field(default_factory=dict, exclude=True, repr=False)

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def pricing_for(self, provider_name: str, model: str | None, vendor: str | None = None) -> Price | None:
        """The price of a provider's model: the config's `pricing:` (by model, then the
        provider's own) always wins; else the price database's, for a provider that names its
        vendor; else None (the cost is unmeasured, never 0)."""
        if model is not None and model in self.config.pricing:
            return Price("config", model, per_mtok=self.config.pricing[model])
        own = self.config.providers[provider_name].pricing
        if own is not None:
            return Price("config", model, per_mtok=own)
        return database_price(vendor, model)


def load_config(path: Path | None) -> LoadedConfig:
    """Load `path`, or ./evalkit.yaml when present, or the built-in default (embedded model)."""
    if path is None:
        candidate = Path(DEFAULT_CONFIG_NAME)
        if not candidate.exists():
            return LoadedConfig(config=Config(), path=None, base_dir=Path.cwd())
        path = candidate
    doc = load_yaml(path)
    data = doc.data
    if data is None:  # empty, or only comments: no silent fall-back to the bundled smoke suite
        raise UserInputError(
            "the config is empty (no keys): write its providers, variants and suites, or remove "
            "the file to run the bundled smoke suite",
            path=path,
            line=1,
        )
    if not isinstance(data, dict):
        raise UserInputError("the config must be a mapping of keys", path=path, line=1)
    # parts a run also validates or dumps on their own (run.json's plan and settings, the gate's
    # thresholds): built first, the config's validator reuses theirs instead of building its own
    # copy of each (pydantic builds a model's validator on first use): ~2 ms of every run
    for part in (Variant, RunSettings, GlobalThresholds):
        part.model_rebuild()
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, path=path, line_of=doc.line_of, model=Config) from None
    loaded = LoadedConfig(config=config, path=path, base_dir=path.resolve().parent, lines=doc.lines)
    for name, variant in config.variants.items():
        if variant.provider not in config.providers:
            hint = did_you_mean(variant.provider, config.providers)
            raise UserInputError(
                f"variants.{name}.provider: unknown provider '{variant.provider}'{hint}",
                path=path,
                line=doc.line_of(("variants", name, "provider")),
            )
        if variant.fallback is not None and variant.fallback not in config.providers:
            hint = did_you_mean(variant.fallback, config.providers)
            raise UserInputError(
                f"variants.{name}.fallback: unknown provider '{variant.fallback}'{hint}",
                path=path,
                line=doc.line_of(("variants", name, "fallback")),
            )
        rag = variant.rag
        if rag is not None and rag.corpus is not None and not loaded.resolve(rag.corpus).is_dir():
            raise UserInputError(
                f"variants.{name}.rag.corpus: '{rag.corpus}' is not a folder",
                path=path,
                line=doc.line_of(("variants", name, "rag", "corpus"))
                or doc.line_of(("variants", name.split(".", 1)[0], "rag", "corpus")),  # a swept variant
            )
        template = loaded.resolve(variant.prompt) if variant.prompt is not None else None
        if template is not None and not template.is_file():
            raise UserInputError(
                f"variants.{name}.prompt: template file '{variant.prompt}' {not_a_file(template)}",
                path=path,
                line=doc.line_of(("variants", name, "prompt")),
            )
    import_plugins(loaded)
    return loaded


def import_plugins(loaded: LoadedConfig) -> None:
    """Import the modules under `plugins:` so their @provider/@scorer decorators run."""
    for spec in loaded.config.plugins:
        target = loaded.resolve(spec)
        try:
            if spec.endswith(".py"):
                if not target.is_file():
                    raise UserInputError(f"plugin file '{spec}' {not_a_file(target)}", path=loaded.path)
                sys.path.insert(0, str(target.parent))
                importlib.import_module(target.stem)
            else:
                if str(loaded.base_dir) not in sys.path:
                    sys.path.insert(0, str(loaded.base_dir))
                importlib.import_module(spec)
        except ImportError as exc:
            raise UserInputError(f"cannot import plugin '{spec}': {exc}", path=loaded.path) from None


def env_secret(var: str, *, what: str) -> str:
    """Read a secret from the environment; a missing one is a usage error naming the variable."""
    value = os.environ.get(var)
    if not value:
        raise UserInputError(f"{what}: environment variable {var} is not set")
    return value
