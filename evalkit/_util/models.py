"""The two pydantic bases every model of evalkit derives from (one place, not one per module).

Both defer building their validators to first use (`defer_build`): a run imports some forty
models it never validates (a merge's shards, webhooks, multiple choice, ...), and building them
all at import was a tenth of a 10-case run's time."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """What evalkit writes and reads back (summaries, diffs, run.json): an unknown key is refused."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class Spec(BaseModel):
    """What a user writes (evalkit.yaml, suites): an unknown key is refused, values are frozen,
    and `.inf` / `.nan` are refused where a number is expected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)
