"""The two pydantic bases every model of evalkit derives from (one place, not one per module).

Both defer building their validators to first use (`defer_build`): a run imports some forty
models it never validates (a merge's shards, webhooks, multiple choice, ...), and building them
all at import was a tenth of a 10-case run's time."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """What evalkit writes and reads back (summaries, diffs, run.json): an unknown key is refused."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class Spec(BaseModel):
    """What a user writes (evalkit.yaml, suites): an unknown key is refused, values are frozen,
    and `.inf` / `.nan` are refused where a number is expected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


def new_list() -> list[Any]:
    """An empty list: `Field(default_factory=new_list)` where `default_factory=list` would do.
    Building a model's validator, pydantic reads each factory's signature, and `list`'s is
    parsed from its text by `inspect` (0.1 ms, against 5 us for a function's): with some forty
    such fields built, a tenth of a run's pydantic time (a test keeps `list` out)."""
    return []
