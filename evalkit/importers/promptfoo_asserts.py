"""promptfoo assertions as evalkit scorers, with promptfoo's semantics (read from promptfoo's own
handlers): `contains` is case-sensitive and `icontains` is not, `equals` compares the whole
output, `starts-with` anchors at the start, `similar` passes at cosine ≥ 0.75 by default,
`rouge-n` at 0.75, `bleu` and `meteor` at 0.5, `llm-rubric` and `factuality` are judge verdicts.

A mapped assertion is an evalkit `ScorerSpec` (a dict) plus what it needs from the case: a var
holding its value, or the case's reference. Suite-level figures (latency, cost) become the
suite's `thresholds`. Anything else is returned as the reason it is not mapped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# promptfoo's pass marks where an assertion gives none (its handlers' defaults)
DEFAULT_THRESHOLDS = {"similar": 0.75, "rouge-n": 0.75, "bleu": 0.5, "meteor": 0.5}
FACTUALITY = (
    "The response is factually consistent with the reference answer: it may be a subset or a "
    "superset of it, or differ in wording, but it must not contradict it."
)


@dataclass
class Mapped:
    scorer: dict[str, Any] | None = None  # a ScorerSpec
    var: tuple[str, Any] | None = None  # (name, value) the case must carry
    reference: str | None = None  # the case's reference
    threshold: tuple[str, dict[str, float]] | None = None  # (metric, bounds) of the suite
    note: str | None = None  # where evalkit's figure differs from promptfoo's, said once
    judge: bool = False  # needs the grading provider
    extras: list[str] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        return str(value)
    return None


def map_assertion(kind: str, value: Any, threshold: float | None, slot: str) -> Mapped | str:
    """One promptfoo assertion (`type`, rendered `value`, `threshold`) → a Mapped, or why not.
    `slot` is a name unique within the test (for a var holding a per-case value)."""
    negate = kind.startswith("not-")
    base = kind[4:] if negate else kind
    text = _text(value)
    if base in ("contains", "icontains"):
        if text is None or text == "":
            return f"'{kind}' needs a string or number value"
        if negate:
            flags = "i" if base == "icontains" else ""
            return Mapped({"type": "regex", "pattern": re.escape(text), "flags": flags, "negate": True})
        return Mapped({"type": "contains", "var": slot, "ignore_case": base == "icontains"}, var=(slot, text))
    if negate:
        return f"'{kind}': evalkit has no negated form of '{base}'"
    return _map_positive(base, value, text, threshold)


def _map_positive(kind: str, value: Any, text: str | None, threshold: float | None) -> Mapped | str:
    if kind == "equals":
        if text is None:
            return "'equals' with a JSON value: evalkit's exact compares text"
        return Mapped(
            {"type": "exact", "ignore_case": False, "collapse_whitespace": False},
            reference=text,
            note="equals → exact: evalkit also ignores whitespace around the output",
        )
    if kind == "regex":
        return Mapped({"type": "regex", "pattern": text}) if text else "'regex' needs a pattern"
    if kind == "starts-with":
        if not text:
            return "'starts-with' needs a string value"
        return Mapped({"type": "regex", "pattern": "^" + re.escape(text)})
    if kind in ("is-json", "contains-json"):
        extract = kind == "contains-json"
        if value is None:
            return Mapped({"type": "json_valid", "extract": extract})
        if isinstance(value, dict):
            return Mapped({"type": "json_schema", "schema": value, "extract": extract})
        return f"'{kind}' with a schema that is not a mapping (a file:// schema is not read)"
    return _map_scored(kind, text, threshold)


def _map_scored(kind: str, text: str | None, threshold: float | None) -> Mapped | str:
    mark = threshold if threshold is not None else DEFAULT_THRESHOLDS.get(kind)
    if kind in ("similar", "rouge-n", "bleu", "meteor"):
        if text is None:
            return f"'{kind}' needs a string value (lists of references are not mapped)"
        assert mark is not None
        spec: dict[str, Any] = {
            "similar": {"type": "cosine", "threshold": mark},
            "rouge-n": {"type": "rouge", "types": ["rouge1"], "threshold": mark},
            "bleu": {"type": "bleu", "lowercase": True, "threshold": round(mark * 100, 6)},
            "meteor": {"type": "meteor", "threshold": mark},
        }[kind]
        note = {
            "similar": "similar → cosine on evalkit's local MiniLM embeddings (promptfoo: OpenAI embeddings)",
            "rouge-n": "rouge-n → ROUGE-1 F-measure (rouge-score's; js-rouge's ROUGE-N differs in tokens)",
            "bleu": "bleu → sacrebleu sentence BLEU on 0-100 (threshold ×100; tokenisation differs)",
            "meteor": "meteor → NLTK's METEOR (promptfoo's port of it)",
        }[kind]
        return Mapped(spec, reference=text, note=note)
    if kind == "llm-rubric":
        if not text:
            return "'llm-rubric' needs the rubric as a string"
        return Mapped({"type": "judge", "mode": "pass_fail", "criteria": text}, judge=True)
    if kind == "factuality":
        if not text:
            return "'factuality' needs the reference statement as a string"
        return Mapped(
            {"type": "judge", "mode": "pass_fail", "criteria": FACTUALITY}, reference=text, judge=True
        )
    return _map_figure(kind, threshold)


def _map_figure(kind: str, threshold: float | None) -> Mapped | str:
    if kind == "latency":
        if threshold is None:
            return "'latency' needs a threshold (milliseconds)"
        return Mapped(
            threshold=("latency_p99_ms", {"max": threshold}),
            note="latency → the suite's latency_p99_ms at most the threshold (promptfoo: every case)",
        )
    if kind == "cost":
        if threshold is None:
            return "'cost' needs a threshold (dollars)"
        return Mapped(
            threshold=("cost_per_case_usd", {"max": threshold}),
            note="cost → the suite's mean cost per case at most the threshold (promptfoo: every case)",
        )
    return f"'{kind}': no evalkit scorer does this"
