"""What a model's tokens cost: the user's `pricing:` first, else pydantic's `genai-prices` database.

A price knows where it came from (`source`), so run.json can say which figure was typed by the
user and which came from which version of the database. A model neither knows is unpriced: its
cost is unmeasured (None), never 0. The database is asked only for providers that say whose
bill they run up (`Provider.price_vendor()`): a self-hosted model on a vLLM server behind the
`openai` type is not billed at some vendor's price because its name matches one.

The database prices cached-read, cache-write and reasoning tokens the way each vendor bills
them (reasoning tokens are output tokens to every vendor it knows; a long prompt's tier applies
where the vendor has one). It is imported only when a price is first looked up, and is never
updated over the network: the prices are those of the installed `genai-prices`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from evalkit.types import Usage

DATABASE = "genai-prices"


@dataclass(frozen=True)
class Price:
    """A model's price and its source: `config` (the user's `pricing:`) or the database."""

    source: str  # "config" or "genai-prices 0.2.3"
    model: str | None
    vendor: str | None = None  # the database's provider id ("anthropic", "google", ...)
    per_mtok: Any = None  # the user's Pricing (USD per million tokens), for source "config"
    database_model: str | None = None  # the database's own id of the model matched

    def cost(self, usage: Usage) -> float | None:
        """The cost of one answer's usage in US dollars; None when the usage says nothing."""
        if usage.input_tokens is None and usage.output_tokens is None:
            return None
        if self.per_mtok is not None:
            return float(self.per_mtok.cost(usage))
        return _database_cost(self.vendor, self.model or "", usage)

    def describe(self) -> dict[str, Any]:
        """For run.json: where the price came from and what it is."""
        out: dict[str, Any] = {"source": self.source, "model": self.model}
        if self.per_mtok is not None:
            out.update(self.per_mtok.model_dump(exclude_none=True))
        else:
            out.update({"vendor": self.vendor, "database_model": self.database_model})
            out["description"] = _database_description(self.vendor, self.model or "")
        return out


def database_version() -> str | None:
    try:
        return version(DATABASE)
    except PackageNotFoundError:
        return None


def database_price(vendor: str | None, model: str | None) -> Price | None:
    """The database's price of `model` at `vendor`, or None when it does not know the model
    (or genai-prices is not installed)."""
    if vendor is None or not model:
        return None
    found = _lookup(vendor, model)
    if found is None:
        return None
    return Price(f"{DATABASE} {database_version()}", model, vendor, database_model=found)


@functools.lru_cache(maxsize=256)
def _lookup(vendor: str, model: str) -> str | None:
    try:
        from genai_prices import data_snapshot
    except ImportError:
        return None
    try:
        _, found = data_snapshot.get_snapshot().find_provider_model(model, None, vendor, None)
    except LookupError:
        return None
    return str(found.id)


@functools.lru_cache(maxsize=4096)
def _database_cost_cached(vendor: str | None, model: str, counts: tuple[int, int, int, int]) -> float | None:
    import genai_prices

    inp, out, read, write = counts
    usage = genai_prices.Usage(
        input_tokens=inp, output_tokens=out, cache_read_tokens=read, cache_write_tokens=write
    )
    try:
        result = genai_prices.calc_price(usage, model, provider_id=vendor)
    except LookupError:
        return None
    return float(result.total_price)


def _database_cost(vendor: str | None, model: str, usage: Usage) -> float | None:
    counts = (
        usage.input_tokens or 0,
        usage.output_tokens or 0,
        usage.cached_input_tokens or 0,
        usage.cache_write_tokens or 0,
    )
    return _database_cost_cached(vendor, model, counts)


def _database_description(vendor: str | None, model: str) -> str | None:
    import genai_prices

    try:
        result = genai_prices.calc_price(genai_prices.Usage(input_tokens=0), model, provider_id=vendor)
    except LookupError:
        return None
    return str(result.model_price)
