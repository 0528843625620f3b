"""Multiple choice by log-likelihood, scored as lm-evaluation-harness scores it: the choice with
the highest log-probability is the model's answer (`acc`), or the highest per character of the
choice (`acc_norm`, lm-evaluation-harness's normalisation) or per UTF-8 byte (`acc_bytes`).
The per-choice log-probabilities are on the result line (`choice_logprobs`)."""

from __future__ import annotations

from typing import Literal

from evalkit.plugins import scorer
from evalkit.scorers.base import Scorer, unmeasured
from evalkit.types import Score, ScoreInput

Norm = Literal["none", "chars", "bytes"]
NAMES: dict[str, str] = {"none": "acc", "chars": "acc_norm", "bytes": "acc_bytes"}


def predicted(logprobs: tuple[float, ...], choices: tuple[str, ...], norm: Norm) -> int:
    """The index of the best choice; the first one on a tie (numpy's argmax, lm-eval's rule)."""
    if norm == "chars":
        values = [lp / len(c) for lp, c in zip(logprobs, choices, strict=True)]
    elif norm == "bytes":
        values = [lp / len(c.encode("utf-8")) for lp, c in zip(logprobs, choices, strict=True)]
    else:
        values = list(logprobs)
    return values.index(max(values))


class _MultipleChoice(Scorer):
    def __init__(self, norm: Norm):
        self.norm: Norm = norm
        self.names = (NAMES[norm],)

    def score_one(self, item: ScoreInput) -> list[Score]:
        if item.choices is None or item.gold is None:
            return []  # a case without choices gets no score from it
        if item.choice_logprobs is None or len(item.choice_logprobs) != len(item.choices):
            return unmeasured(self.names, "no log-probabilities for the choices")
        best = predicted(item.choice_logprobs, item.choices, self.norm)
        ok = best == item.gold
        reason = None if ok else f"chose {best} ({item.choices[best][:40]!r}), gold {item.gold}"
        return [Score(name=self.names[0], value=1.0 if ok else 0.0, passed=ok, reason=reason)]


@scorer(
    "multiple_choice",
    kind="pass_fail",
    needs_output=False,
    description="log-likelihood multiple choice: acc, acc_norm (per character) or acc_bytes, as lm-eval",
)
def multiple_choice(norm: Norm = "none") -> Scorer:
    if norm not in NAMES:
        raise ValueError(f"norm must be one of {', '.join(NAMES)}")
    return _MultipleChoice(norm)
