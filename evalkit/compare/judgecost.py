"""Judge tokens and cost, counted per result and judge, and added to the result's cost.

Every judge call a run makes goes through `RunContext.complete`; the ledger there records each
completion against the result it judges (read from the judge request's key) and hands the
totals over when the result is written. A result's `cost_usd` is then its generation cost plus
what its judges cost; `judges` keeps the split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from evalkit.spec.prices import Price
from evalkit.types import CaseResult, Completion, JudgeUsage, Request

PREFIX = "judge:"


def judged_result(request: Request) -> tuple[str, str] | None:
    """(judge score name, result key) of a judge request; None for other requests.
    Judge keys read `judge:<name>:<suite>/<case>/<variant>/<repeat>:<tag>`."""
    if not request.key.startswith(PREFIX):
        return None
    rest = request.key[len(PREFIX) :]
    middle = f":{request.suite}/{request.case_id}/{request.variant}/"
    at = rest.rfind(middle)
    if at < 0:
        return None
    repeat = rest[at + len(middle) :].split(":", 1)[0]
    return rest[:at], f"{request.suite}/{request.case_id}/{request.variant}/{repeat}"


class JudgeLedger:
    def __init__(
        self,
        pricing: Callable[[str, Request], Price | None],
        model: Callable[[str, Request], str | None],
    ):
        self.pricing = pricing
        self.model = model
        self.usage: dict[str, dict[str, JudgeUsage]] = defaultdict(dict)

    def record(self, provider: str, request: Request, completion: Completion) -> None:
        found = judged_result(request)
        if found is None:
            return
        name, key = found
        usage = self.usage[key].get(name)
        if usage is None:
            usage = self.usage[key][name] = JudgeUsage(provider=provider, model=self.model(provider, request))
        usage.calls += 1
        if completion.model_version and completion.model_version not in usage.model_versions:
            usage.model_versions.append(completion.model_version)
        u = completion.usage
        usage.input_tokens += u.input_tokens or 0
        usage.output_tokens += u.output_tokens or 0
        price = self.pricing(provider, request)
        if price is not None and completion.error is None:
            cost = price.cost(u)
            if cost is not None:
                usage.cost_usd = (usage.cost_usd or 0.0) + cost

    def take(self, key: str) -> dict[str, JudgeUsage]:
        return self.usage.pop(key, {})


def with_judges(result: CaseResult, judges: dict[str, JudgeUsage], *, replace: bool) -> CaseResult:
    """The result with these judges' usage, and its cost = generation + every judge's cost."""
    if not judges and not replace:
        return result
    old = sum(j.cost_usd or 0.0 for j in result.judges.values())
    generation = None if result.cost_usd is None else result.cost_usd - old
    merged = dict(judges) if replace else {**result.judges, **judges}
    judge_costs = [j.cost_usd for j in merged.values() if j.cost_usd is not None]
    if generation is None and not judge_costs:
        cost = None
    else:
        cost = round((generation or 0.0) + sum(judge_costs), 12)
    return result.model_copy(update={"judges": merged, "cost_usd": cost})


def judge_totals(results: Iterable[CaseResult]) -> dict[str, JudgeUsage]:
    """Each judge's calls, tokens and cost over a set of results."""
    out: dict[str, JudgeUsage] = {}
    for r in results:
        add_judge_usage(out, r)
    return dict(sorted(out.items()))


def add_judge_usage(totals: dict[str, JudgeUsage], r: CaseResult) -> None:
    """Add one result's judge calls, tokens and cost to running totals (in place)."""
    for name, u in r.judges.items():
        t = totals.setdefault(name, JudgeUsage(provider=u.provider, model=u.model))
        t.calls += u.calls
        t.input_tokens += u.input_tokens
        t.output_tokens += u.output_tokens
        if u.cost_usd is not None:
            t.cost_usd = (t.cost_usd or 0.0) + u.cost_usd
        if not set(u.model_versions) <= set(t.model_versions):
            t.model_versions = sorted({*t.model_versions, *u.model_versions})


def judge_text(name: str, usage: JudgeUsage) -> str:
    """One judge's spend on a suite × variant, for every surface: 'correct (groq/llama-3.3-70b):
    20 calls · 1,240 / 80 tokens · $0.000782' (each surface escapes it: names are data)."""
    from evalkit._util.numbers import number

    model = f"{usage.provider}/{usage.model}" if usage.model else usage.provider
    return (
        f"{name} ({model}): {number(usage.calls, 'count')} calls · {number(usage.input_tokens, 'count')} / "
        f"{number(usage.output_tokens, 'count')} tokens · {number(usage.cost_usd, 'cost')}"
    )
