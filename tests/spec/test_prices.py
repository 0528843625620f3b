"""Prices out of the box: the genai-prices database for vendor models, the user's `pricing:`
always first, unknown models unmeasured (None, never 0), each price naming its source."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import genai_prices
import pytest

from evalkit.spec.config import Pricing, load_config
from evalkit.spec.prices import database_price, database_version
from evalkit.types import Usage


def reference(vendor: str, model: str, usage: Usage) -> float:
    """genai-prices' own figure for the same usage (the reference implementation)."""
    result = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_read_tokens=usage.cached_input_tokens or 0,
            cache_write_tokens=usage.cache_write_tokens or 0,
        ),
        model,
        provider_id=vendor,
    )
    return float(result.total_price)


@pytest.mark.parametrize(
    ("vendor", "model", "input_usd", "output_usd"),
    [
        ("anthropic", "claude-sonnet-4-5", 3, 15),
        ("anthropic", "claude-sonnet-5-5", 2, 10),
        ("anthropic", "claude-sonnet-4-5-20250929", 3, 15),  # a dated snapshot name
        ("google", "gemini-2.5-pro", 1.25, 10),
        ("google", "gemini-3-pro-preview", 2, 12),
        ("openai", "gpt-5.1", 1.25, 10),
        ("openai", "gpt-4-0314", 30, 60),  # retired: priced from the database's history
        ("anthropic", "claude-2.1", 8, 24),  # retired
        ("groq", "llama-3.3-70b-versatile", 0.59, 0.79),
    ],
)
def test_current_and_retired_models_are_priced_from_the_database(
    vendor: str, model: str, input_usd: float, output_usd: float
) -> None:
    price = database_price(vendor, model)
    assert price is not None and price.source == f"genai-prices {database_version()}"
    usage = Usage(input_tokens=1_000_000 // 10, output_tokens=1_000_000 // 10)  # 100k each, under any tier
    cost = price.cost(usage)
    assert cost == pytest.approx((input_usd + output_usd) / 10)
    assert cost == reference(vendor, model, usage)


def test_cache_read_and_write_tokens_are_priced_as_the_vendor_bills_them() -> None:
    # Anthropic: $3 input, $0.30 cache read, $3.75 cache write, $15 output per million tokens
    usage = Usage(
        input_tokens=10_000, cached_input_tokens=6_000, cache_write_tokens=3_000, output_tokens=1_000
    )
    price = database_price("anthropic", "claude-sonnet-4-5")
    assert price is not None
    expected = (1_000 * 3 + 6_000 * 0.30 + 3_000 * 3.75 + 1_000 * 15) / 1e6
    assert price.cost(usage) == pytest.approx(expected) == reference("anthropic", "claude-sonnet-4-5", usage)
    # the user's own table bills them the same way
    own = Pricing(input_per_mtok=3, output_per_mtok=15, cached_input_per_mtok=0.3, cache_write_per_mtok=3.75)
    assert own.cost(usage) == pytest.approx(expected)
    # reasoning tokens are output tokens: they change nothing beyond output_tokens
    assert price.cost(usage.model_copy(update={"reasoning_tokens": 500})) == price.cost(usage)


def test_unknown_models_and_unknown_vendors_have_no_price() -> None:
    assert database_price("anthropic", "claude-nonexistent-9") is None
    assert database_price(None, "gpt-5.1") is None  # a self-hosted server: never a vendor's price
    assert database_price("openai", None) is None


def test_the_users_pricing_wins_and_run_json_can_say_where_each_price_came_from(tmp_path: Path) -> None:
    (tmp_path / "evalkit.yaml").write_text(
        "providers:\n"
        "  claude: {type: openai, model: claude-sonnet-4-5}\n"
        "  mine: {type: openai, model: gpt-5.1, pricing: {input_per_mtok: 1, output_per_mtok: 2}}\n"
        "pricing:\n"
        "  gpt-4o: {input_per_mtok: 5, output_per_mtok: 7}\n"
    )
    loaded = load_config(tmp_path / "evalkit.yaml")
    by_model = loaded.pricing_for("claude", "gpt-4o", "openai")
    assert by_model is not None and by_model.source == "config"
    assert by_model.cost(Usage(input_tokens=1_000_000, output_tokens=0)) == 5.0
    own = loaded.pricing_for("mine", "gpt-5.1", "openai")
    assert own is not None and own.source == "config"
    assert own.describe() == {
        "source": "config",
        "model": "gpt-5.1",
        "input_per_mtok": 1.0,
        "output_per_mtok": 2.0,
    }
    db = loaded.pricing_for("claude", "claude-sonnet-4-5", "anthropic")
    assert db is not None and db.describe()["source"].startswith("genai-prices ")
    assert db.describe()["database_model"] == "claude-sonnet-4-5"
    assert "$3/input MTok" in str(db.describe()["description"])
    assert loaded.pricing_for("claude", "claude-sonnet-4-5", None) is None
    # no usage reported: unmeasured, not $0
    assert db.cost(Usage()) is None


def test_costs_keep_decimal_precision_as_floats() -> None:
    price = database_price("openai", "gpt-5.1")
    assert price is not None
    cost = price.cost(Usage(input_tokens=7, output_tokens=3))
    assert isinstance(cost, float)
    assert Decimal(repr(cost)) == Decimal("0.00003875")
