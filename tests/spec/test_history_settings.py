"""The `history:` block is what a user writes, so it is strict like the rest of evalkit.yaml:
`.inf` and `.nan` are refused where a number is expected (it accepted them)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from evalkit.spec.history import HistorySettings


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_an_infinite_or_nan_number_is_refused(value: float) -> None:
    with pytest.raises(ValidationError, match="finite number"):
        HistorySettings.model_validate({"alerts": {"latency_p95": {"factor": value}}})
    with pytest.raises(ValidationError, match="finite number"):
        HistorySettings.model_validate({"webhook": {"timeout_s": value}})


def test_finite_numbers_still_pass() -> None:
    settings = HistorySettings.model_validate({"alerts": {"latency_p95": {"factor": 2.0}}})
    assert settings.alerts.latency_p95.factor == 2.0
