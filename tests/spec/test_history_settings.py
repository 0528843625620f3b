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


def test_the_defaults_of_a_left_out_section_are_valid_and_as_validation_builds_them() -> None:
    """A config without `history:` or `cache:` gets the sections' defaults unvalidated
    (`model_construct`, so a run builds no validator of its own for them): they are constants,
    and the same values, set fields and all, as validating the defaults gives."""
    from evalkit.spec.config import CacheSettings, Config

    config = Config.model_validate({})
    for section, cls in ((config.history, HistorySettings), (config.cache, CacheSettings)):
        again = cls.model_validate(section.model_dump())
        assert again == section and again.model_dump() == section.model_dump()
    rules = config.history.alerts
    assert rules.model_fields_set == set() and rules.latency_p95.model_fields_set == {"factor"}
    assert (rules.latency_p95.factor, rules.cost_per_case.factor) == (1.5, 1.25)
    assert type(rules).model_validate({}) == rules  # validated from nothing: the same rules
