"""LLM-as-a-judge: rubric scores, pass/fail verdicts and order-swapped pairwise comparisons.

The judge is any configured provider (a strong model for real use; the embedded model only
for tests). Judge prompts are jinja2 templates shipped in `judge_templates/`, overridable per
suite with `template:`. Verdicts are read from JSON (with `json_mode`, the provider is asked
for a JSON object), with a strict regex fallback; an unparseable verdict is *unmeasured*
with the raw text kept, never a 0. Judge calls go through the provider's concurrency and
retries and a cache namespace of their own, so re-scoring never re-asks the same question.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from evalkit.plugins import scorer
from evalkit.scorers.base import Scorer, ScoringContext, unmeasured
from evalkit.spec.templating import compile_template, render
from evalkit.tools.render import render_trace
from evalkit.types import Completion, GenerationParams, Message, Request, Score, ScoreInput, ScorerInfo

TEMPLATES = Path(__file__).parent / "judge_templates"
Mode = Literal[
    "rubric",
    "pass_fail",
    "pairwise",
    "faithfulness",
    "context_relevance",
    "answer_relevance",
    "task_completion",
]
# modes that give a pass/fail verdict (task_completion: pass_fail with the trace in the prompt)
VERDICT_MODES = ("pass_fail", "task_completion")
# RAG modes judge what a RAG variant retrieved; variants that retrieve nothing get no such score
RAG_MODES = ("faithfulness", "context_relevance", "answer_relevance")
_FALLBACK = {
    "rubric": re.compile(r"\b(?:score|rating)\s*[:=]\s*\"?(-?\d+(?:\.\d+)?)", re.I),
    "pass_fail": re.compile(r"\bverdict\s*[:=]\s*\"?(pass|fail)\b", re.I),
    "pairwise": re.compile(r"\bwinner\s*[:=]\s*\"?(A|B|tie)\b", re.I),
}
_KEYS = {"rubric": "score", "pass_fail": "verdict", "pairwise": "winner", "faithfulness": "claims"}
_PARSE_AS = {"context_relevance": "rubric", "answer_relevance": "rubric", "task_completion": "pass_fail"}


def parse_verdict(mode: str, text: str) -> tuple[Any, str | None]:
    """(verdict, reasoning) from the judge's reply; verdict None when it cannot be read. The
    judge's *final* word counts: the last JSON object holding the verdict key, or the last
    `verdict: ...` line, whichever ends later, so a candidate output the judge quotes first
    (`{"verdict": "pass"}`) cannot stand in for the judge's own verdict after it."""
    mode = _PARSE_AS.get(mode, mode)
    key = _KEYS[mode]
    try:
        whole = json.loads(text)
        if isinstance(whole, dict) and key in whole:
            return whole[key], _reasoning(whole)
    except ValueError:
        pass
    found = _last_json_with(text, key)
    fallback = _FALLBACK.get(mode)  # none for faithfulness: its claims must come as JSON
    match = None
    if fallback is not None:
        match = next(reversed(list(fallback.finditer(text))), None)
    if match is not None and (found is None or match.end() > found[0]):
        return match.group(1), None
    if found is not None:
        return found[1][key], _reasoning(found[1])
    return None, None


def _reasoning(data: dict[str, Any]) -> str | None:
    reasoning = data.get("reasoning") or data.get("explanation")
    return str(reasoning) if reasoning is not None else None


def _last_json_with(text: str, key: str) -> tuple[int, dict[str, Any]] | None:
    """(end offset, object) of the last JSON object in `text` that holds `key`."""
    decoder = json.JSONDecoder()
    last: tuple[int, dict[str, Any]] | None = None
    start = text.find("{")
    while start >= 0:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict) and key in value:
            last = (end, value)
        start = text.find("{", end if isinstance(value, dict) and key in value else start + 1)
    return last


def delimit(values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Untrusted text (the conversation, outputs, references, retrieved context, the trace) for a
    judge prompt: each non-empty value between `<data-HASH>` lines, HASH taken from the values
    themselves, so no value can close its block early or forge the judge's criteria after it.
    The same question gives the same prompt (the judge cache still answers it)."""
    present = {k: v for k, v in values.items() if v}
    digest = hashlib.sha256(json.dumps(present, sort_keys=True, default=str).encode()).hexdigest()[:16]
    fence = f"data-{digest}"
    return fence, {k: (f"<{fence}>\n{v}\n</{fence}>" if v else v) for k, v in values.items()}


class Judge(Scorer):
    def __init__(
        self,
        mode: Mode,
        provider: str,
        name: str,
        rubric: str | None,
        criteria: str | None,
        scale: tuple[int, int],
        against: str,
        template: str | None,
        max_tokens: int,
        json_mode: bool,
        pass_mark: float | None,
        samples: int = 1,
        temperature: float = 0.0,
    ):
        self.mode = mode
        self.samples = samples
        self.provider_name = provider  # declared in refine(): the plan checks it exists
        self.against = against
        self.rubric, self.criteria, self.scale = rubric, criteria, scale
        self.pass_mark = pass_mark
        self.names = (name, f"{name}_position_consistency") if mode == "pairwise" else (name,)
        if samples > 1:  # the same question K times: the judge's agreement with itself
            self.names = (name, f"{name}_self_agreement")
        source = (
            Path(template).read_text(encoding="utf-8") if template else (TEMPLATES / f"{mode}.j2").read_text()
        )
        self.template = compile_template(source)
        extra = {"response_format": {"type": "json_object"}} if json_mode else None
        self.params = GenerationParams(temperature=temperature, max_tokens=max_tokens, extra_body=extra)

    def refine(self, info: ScorerInfo) -> ScorerInfo:
        return replace(
            info,
            provider=self.provider_name,
            verdict=self.mode in VERDICT_MODES or self.pass_mark is not None,
            deferred=self.mode == "pairwise",  # needs the other side's output for every case
        )

    def score_one(self, item: ScoreInput) -> list[Score]:
        raise RuntimeError("the judge scores asynchronously")

    def score(self, items: Sequence[ScoreInput]) -> list[list[Score]]:
        raise RuntimeError("the judge scores asynchronously")

    def _request(self, item: ScoreInput, tag: str, sample: int = 0, **variables: Any) -> Request:
        untrusted = {
            "prompt": item.prompt,
            "output": item.output,
            "reference": item.references[0] if item.references else None,
            "query": item.query,
            "context": "\n\n".join(f"[{i}] {text}" for i, text in enumerate(item.contexts, start=1)),
            "trace": render_trace(item.steps, item.tool_calls),
            **variables,
        }
        fence, delimited = delimit(untrusted)
        text = render(
            self.template,
            {
                "rubric": self.rubric,
                "criteria": self.criteria,
                "scale_min": self.scale[0],
                "scale_max": self.scale[1],
                "fence": fence,
                **delimited,
            },
        )
        return Request(
            key=f"judge:{self.names[0]}:{item.suite}/{item.case_id}/{item.variant}/{item.repeat}:{tag}",
            suite=item.suite,
            case_id=item.case_id,
            variant=item.variant,
            repeat=sample,  # sample k of K: its own cache entry
            messages=(Message(role="user", content=text),),
            params=self.params,
        )

    async def ascore(self, items: Sequence[ScoreInput], ctx: ScoringContext) -> list[list[Score]]:
        if self.mode == "pairwise":
            return await self._pairwise(items, ctx)
        judged = [
            i for i, item in enumerate(items) if self.mode not in RAG_MODES or item.retrieval_ids is not None
        ]
        k = self.samples
        requests = [
            self._request(items[i], self.mode if s == 0 else f"{self.mode}#{s}", sample=s)
            for i in judged
            for s in range(k)
        ]
        completions = await ctx.complete(self.provider_name or "", requests) if requests else []
        rows: list[list[Score]] = [[] for _ in items]
        for n, i in enumerate(judged):
            rows[i] = self._combine(completions[n * k : (n + 1) * k])
        return rows

    def _combine(self, completions: Sequence[Completion]) -> list[Score]:
        """One verdict from K samples: the majority (pass/fail) or the median (ratings), and
        the share of samples that gave the most common verdict (the judge's self-agreement)."""
        failed = [c for c in completions if c.error is not None or c.text is None]
        if len(completions) == 1:
            if failed:
                return unmeasured(self.names, f"judge call failed: {failed[0].error}")
            return [self._read(completions[0].text or "")]
        read = [self._read(c.text or "") for c in completions if c not in failed]
        measured = [s for s in read if s.value is not None]
        if not measured:
            why = f"judge call failed: {failed[0].error}" if failed else (read[0].reason or "")
            return unmeasured(self.names, why)
        values = sorted(s.value for s in measured if s.value is not None)
        modal = max(values.count(v) for v in set(values))
        if self.mode in VERDICT_MODES:
            value = 1.0 if 2 * sum(values) > len(values) else 0.0  # a tie is a fail
        else:
            value = values[(len(values) - 1) // 2]  # the lower median: an observed verdict
        first = next(s for s in measured if s.value == value)
        passed = first.passed
        said = ", ".join(self._word(s) for s in measured)
        reason = f"{len(measured)} of {len(completions)} samples ({said}); {first.reason or ''}".strip()
        return [
            Score(name=self.names[0], value=value, passed=passed, reason=reason[:2000]),
            Score(name=self.names[1], value=modal / len(values), reason=f"{modal} of {len(values)} agree"),
        ]

    def _read(self, text: str) -> Score:
        verdict, reasoning = parse_verdict(self.mode, text)
        name = self.names[0]
        if verdict is None:
            return Score(name=name, value=None, reason=f"unparseable verdict: {text[:500]}")
        if self.mode == "faithfulness":
            return _faithfulness(name, verdict, text)
        if self.mode in VERDICT_MODES:
            word = str(verdict).strip().lower()
            if word not in ("pass", "fail", "yes", "no", "true", "false"):
                return Score(name=name, value=None, reason=f"unparseable verdict: {text[:500]}")
            ok = word in ("pass", "yes", "true")
            return Score(name=name, value=1.0 if ok else 0.0, passed=ok, reason=reasoning)
        try:
            raw = float(verdict)
        except (TypeError, ValueError):
            return Score(name=name, value=None, reason=f"unparseable verdict: {text[:500]}")
        lo, hi = self.scale
        if not lo <= raw <= hi:
            return Score(name=name, value=None, reason=f"score {raw:g} outside {lo}–{hi}: {text[:300]}")
        value = (raw - lo) / (hi - lo)
        passed = None if self.pass_mark is None else value >= self.pass_mark
        return Score(name=name, value=value, passed=passed, reason=f"{raw:g}/{hi}: {reasoning or ''}".strip())

    def _word(self, score: Score) -> str:
        if self.mode in VERDICT_MODES:
            return "pass" if score.passed else "fail"
        lo, hi = self.scale
        return f"{lo + (score.value or 0.0) * (hi - lo):g}"

    async def _pairwise(self, items: Sequence[ScoreInput], ctx: ScoringContext) -> list[list[Score]]:
        """Candidate vs the other output, judged in both orders; only agreeing orders count."""
        rows: list[list[Score] | None] = [None] * len(items)
        requests: list[Request] = []
        index: list[int] = []
        for i, item in enumerate(items):
            if item.variant == self.against:
                rows[i] = []  # the comparison variant itself: nothing to judge, nothing unmeasured
                continue
            other = ctx.other_output(item, self.against)
            if other is None:
                rows[i] = unmeasured(self.names, f"no output from '{self.against}' for this case")
                continue
            requests.append(self._request(item, "ab", output_a=item.output, output_b=other))
            requests.append(self._request(item, "ba", output_a=other, output_b=item.output))
            index.append(i)
        completions = await ctx.complete(self.provider_name or "", requests) if requests else []
        for k, i in enumerate(index):
            first, second = completions[2 * k], completions[2 * k + 1]
            if first.error is not None or second.error is not None:
                rows[i] = unmeasured(self.names, f"judge call failed: {first.error or second.error}")
                continue
            v1, r1 = parse_verdict("pairwise", first.text or "")
            v2, _ = parse_verdict("pairwise", second.text or "")
            a = _side(v1)
            b = _side(v2)
            if a is None or b is None:
                raw = (first.text or "")[:300] + " | " + (second.text or "")[:300]
                rows[i] = unmeasured(self.names, f"unparseable verdict: {raw}")
                continue
            # order 1: candidate is A; order 2: candidate is B
            cand_first = {"A": "win", "B": "loss", "tie": "tie"}[a]
            cand_second = {"B": "win", "A": "loss", "tie": "tie"}[b]
            consistent = cand_first == cand_second
            outcome = cand_first if consistent else "tie"
            value = {"win": 1.0, "tie": 0.5, "loss": 0.0}[outcome]
            reason = f"{outcome} vs {self.against} (orders: {cand_first}/{cand_second}); {r1 or ''}".strip()
            rows[i] = [
                Score(name=self.names[0], value=value, passed=None, reason=reason),
                Score(name=self.names[1], value=1.0 if consistent else 0.0),
            ]
        return [r if r is not None else unmeasured(self.names, "not judged") for r in rows]


def _faithfulness(name: str, claims: Any, text: str) -> Score:
    """The share of the answer's claims that the retrieved context supports."""
    if not isinstance(claims, list) or not all(isinstance(c, dict) and "supported" in c for c in claims):
        return Score(name=name, value=None, reason=f"unparseable verdict: {text[:500]}")
    if not claims:
        return Score(name=name, value=1.0, reason="the answer makes no factual claim")
    supported = [bool(c["supported"]) for c in claims]
    unsupported = [str(c.get("claim", "?")) for c, ok in zip(claims, supported, strict=True) if not ok]
    reason = f"{sum(supported)}/{len(claims)} claims supported"
    if unsupported:
        reason += "; unsupported: " + "; ".join(unsupported)[:400]
    return Score(name=name, value=sum(supported) / len(claims), reason=reason)


def _side(verdict: Any) -> str | None:
    if verdict is None:
        return None
    word = str(verdict).strip().upper()
    return {"A": "A", "B": "B", "TIE": "tie"}.get(word)


@scorer(
    "judge",
    kind="judge",
    value_range=(0.0, 1.0),  # verdicts and rubric scores are mapped onto 0–1
    description="LLM-as-a-judge: rubric score, pass/fail verdict, or order-swapped pairwise",
    outside=("template",),
)
def judge(
    provider: str,
    mode: Mode = "rubric",
    name: str | None = None,  # default: "judge", or the mode's name for the RAG modes
    rubric: str | None = None,
    criteria: str | None = None,
    scale: tuple[int, int] = (1, 5),
    against: str = "baseline",
    template: str | None = None,
    max_tokens: int = 512,
    json_mode: bool = False,
    pass_mark: float | None = None,
    samples: int = 1,  # ask the same question K times: majority verdict + self-agreement
    temperature: float = 0.0,
) -> Scorer:
    if mode == "rubric" and not rubric:
        raise ValueError("mode 'rubric' needs a 'rubric'")
    if mode == "pass_fail" and not criteria:
        raise ValueError("mode 'pass_fail' needs 'criteria'")
    if scale[0] >= scale[1]:
        raise ValueError("scale must be [low, high] with low < high")
    if samples < 1:
        raise ValueError("samples must be at least 1")
    if samples > 1 and mode not in ("rubric", *VERDICT_MODES):
        raise ValueError("samples > 1 is for modes rubric and pass_fail (pairwise swaps orders instead)")
    if template is not None and not Path(template).is_file():
        raise ValueError(f"judge template '{template}' not found")
    if name is None:
        name = mode if mode in (*RAG_MODES, "task_completion") else "judge"
    return Judge(
        mode,
        provider,
        name,
        rubric,
        criteria,
        scale,
        against,
        template,
        max_tokens,
        json_mode,
        pass_mark,
        samples,
        temperature,
    )
