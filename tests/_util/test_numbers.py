"""Numbers people read: by kind, never in scientific notation."""

from __future__ import annotations

import re

import pytest

from evalkit._util.numbers import figure, figure_delta, interval, kind_of, number, p_value, signed


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (66_330.4, "ms", "66,330"),
        (4.68, "ms", "4.7"),
        (0.8125, "rate", "81.2%"),
        (0.8125, "score", "0.812"),
        (53.94, "score", "53.9"),
        (12_345.6, "score", "12,345.6"),
        (12.345, "cost", "$12.35"),
        (0.5, "cost", "$0.50"),
        (1.12e-5, "cost", "$0.0000112"),
        (12_000, "count", "12,000"),
        (None, "score", "–"),
    ],
)
def test_number_by_kind(value: float | None, kind: str, text: str) -> None:
    assert number(value, kind) == text  # type: ignore[arg-type]


def test_differences_carry_a_sign_and_zero_has_none() -> None:
    assert signed(62_100.0, "ms") == "+62,100"
    assert signed(-0.25) == "-0.250"
    assert signed(-0.00001) == "±0.000"  # not "-0.000"
    assert signed(-0.1, "rate") == "-10.0 pp"
    assert interval(-0.438, -0.063) == "[-0.438, -0.063]"


def test_named_metrics_pick_their_kind_and_scale() -> None:
    assert kind_of("latency_p95_ms") == "ms" and kind_of("pass_rate") == "rate"
    assert kind_of("cost_per_case_usd") == "cost" and kind_of("rougeL") == "score"
    assert figure("cost_per_case_usd", 1.12e-5) == "$0.0112"  # per 1,000 cases
    assert figure_delta("latency_p95_ms", 3.8e4) == "+38,000"
    assert p_value(0.0004) == "< 0.001" and p_value(0.0812) == "0.081"


@pytest.mark.parametrize("exponent", range(-12, 13))
def test_never_scientific(exponent: int) -> None:
    for kind in ("ms", "rate", "score", "cost", "count"):
        for value in (1.2345 * 10**exponent, -(7.5 * 10**exponent)):
            assert not re.search(r"[eE][+-]?\d", number(value, kind) + signed(value, kind))  # type: ignore[arg-type]
