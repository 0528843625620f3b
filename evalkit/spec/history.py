"""`history:` in evalkit.yaml: where the history lives, its alert rules and the webhook."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from evalkit._util.models import Spec

URL_ENV = "EVALKIT_HISTORY_URL"  # wins over history.url: a shared database's credentials stay out of files
DEFAULT_FILE = ".evalkit/history.sqlite"  # beside evalkit.yaml (else in the working folder)


class QualityRule(Spec):
    """A quality metric below its trailing level by more than the run's own noise."""

    enabled: bool = True  # false: no quality alerts
    alpha: float = Field(default=0.003, gt=0, lt=0.5)  # one-sided, per test (the run; the last two runs)
    min_cases: int = Field(default=5, ge=2)  # fewer paired cases: compare run means instead


class RatioRule(Spec):
    """A figure (latency P95, cost per case) above `factor` × its trailing median and outside
    the trailing runs' own spread (log scale, one-sided at `alpha`)."""

    enabled: bool = True  # false: no alerts for this figure
    factor: float = Field(gt=1)  # alert above factor × the trailing median
    alpha: float = Field(default=0.005, gt=0, lt=0.5)  # one-sided significance level of the test


class RateRule(Spec):
    """A share of cases (errors, retrieval failures, unmeasured judge scores, truncated answers)
    above its trailing rate: a binomial test at `alpha`, and at least `min_increase` above the
    trailing rate."""

    enabled: bool = True  # false: no alerts for this rate
    alpha: float = Field(default=0.001, gt=0, lt=0.5)  # significance level of the binomial test
    # alert only when the rate is at least this much above the trailing rate
    min_increase: float = Field(default=0.02, ge=0, le=1)


class Toggle(Spec):
    enabled: bool = True  # false: this alert is off


# The defaults of a section a config leaves out are built with `model_construct`: they are
# constants (tests/spec/test_history_settings.py validates them), and validating them would build
# each section's own validator, which a run needs for nothing else (the config's validator
# holds them all): a few ms of every run's fixed cost.


class AlertRules(Spec):
    window: int = Field(default=10, ge=2)  # trailing runs a new run is compared with
    min_history: int = Field(default=3, ge=1)  # fewer earlier runs: no trend alert yet
    # a metric below its trailing level by more than the run's noise
    quality: QualityRule = Field(default_factory=QualityRule.model_construct)
    # latency P95 above 1.5 × its trailing median (factor)
    latency_p95: RatioRule = Field(default_factory=lambda: RatioRule.model_construct(factor=1.5))
    # cost per case above 1.25 × its trailing median (factor)
    cost_per_case: RatioRule = Field(default_factory=lambda: RatioRule.model_construct(factor=1.25))
    # more error results than the trailing runs had
    error_rate: RateRule = Field(default_factory=RateRule.model_construct)
    # RAG variants: more retrievals that found nothing
    retrieval_failure_rate: RateRule = Field(default_factory=RateRule.model_construct)
    # more scores that could not be measured (scorer errors, judge verdicts)
    unmeasured_rate: RateRule = Field(default_factory=RateRule.model_construct)
    # answers cut short (finish reason length)
    truncation_rate: RateRule = Field(default_factory=RateRule.model_construct)
    # the model version a provider reports changed
    model_change: Toggle = Field(default_factory=Toggle.model_construct)


class Webhook(Spec):
    """Where alerts are sent. The URL (and an optional bearer token) come from environment
    variables named here, never from the file itself, and are never written anywhere."""

    url_env: str = "EVALKIT_ALERT_WEBHOOK"  # the environment variable holding the webhook URL
    token_env: str | None = None  # the environment variable holding a bearer token, if the webhook needs one
    # json (evalkit's own payload) or slack (an incoming-webhook message)
    format: str = Field(default="json", pattern="^(json|slack)$")
    timeout_s: float = Field(default=10, gt=0)  # seconds to wait for the webhook


class HistorySettings(Spec):
    enabled: bool = True  # false: runs are not recorded and no trend alerts are raised
    # "always": every `evalkit run` is recorded; "ci": only where the CI variable is set (GitHub
    # Actions, GitLab CI and most CI services set CI=true), so local experiments stay out
    record: Literal["always", "ci"] = "always"
    url: str | None = None  # SQLAlchemy URL; default sqlite:///<config folder>/.evalkit/history.sqlite
    tag: str | None = None  # recorded with each run (e.g. nightly); EVALKIT_HISTORY_TAG wins
    alerts: AlertRules = Field(default_factory=AlertRules.model_construct)  # the trend alert rules
    webhook: Webhook | None = None  # where alerts are sent (default: printed only)
