"""Numbers people read: by kind, never in scientific notation."""

from __future__ import annotations

import re

import pytest

from evalkit._util.numbers import (
    figure,
    figure_delta,
    interval,
    kind_of,
    number,
    p_value,
    signed,
    token_counts,
)


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


def test_times_read_as_a_person_writes_them() -> None:
    """Issue 24: `2026-12-07 07:09 UTC`, not `2026-12-07T07:09:43.428523+00:00`; `2 min 25 s`."""
    from evalkit._util.numbers import duration, elapsed, timestamp

    assert timestamp("2026-12-07T07:09:43.428523+00:00") == "2026-12-07 07:09 UTC"
    assert timestamp("2026-12-07T08:09:43+01:00") == "2026-12-07 07:09 UTC"  # shown in UTC
    assert timestamp(None) == "–" and timestamp("not a time") == "not a time"
    assert [duration(s) for s in (0.42, 9.96, 42.4, 145, 3599.6, 3 * 3600 + 300)] == [
        "0.4 s",
        "10.0 s",
        "42 s",
        "2 min 25 s",
        "1 h 00 min",
        "3 h 05 min",
    ]
    assert duration(None) == duration(-1) == duration(float("nan")) == "–"
    assert elapsed("2026-12-07T07:09:43+00:00", "2026-12-07T07:12:08+00:00") == "2 min 25 s"
    assert elapsed("2026-12-07T07:09:43+00:00", None) == "–"


def test_token_counts_missing_only_when_none_were_reported() -> None:
    assert token_counts(0, 0, counted=False) == "– / –"
    assert token_counts(0, 0, counted=True) == "0 / 0"  # counted, and truly zero
    assert token_counts(1234, 5, counted=True) == "1,234 / 5"
    assert token_counts(12, 0, counted=False) == "12 / 0"  # an old summary without the per-case mean
