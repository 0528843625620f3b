"""The core values every layer speaks: messages, params, requests, completions, scores and the
result line. This module sits at the bottom of the import graph: of evalkit's, it imports only
the pydantic helpers of `_util.models` (which import nothing of evalkit's).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticSerializationError, to_jsonable_python

from evalkit._util.models import new_list


class ToolCall(BaseModel):
    """A tool call a model asked for. `arguments` is the parsed JSON; when the model's argument
    string is not valid JSON, `arguments` is None and `raw_arguments` keeps the string."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    id: str
    name: str
    arguments: Any = None
    raw_arguments: str | None = None
    error: str | None = None  # "arguments are not valid JSON", "tool 'x' is not declared"


StepType = Literal["llm", "tool", "retrieval", "router", "other"]


class Step(BaseModel):
    """One step of a trace: a model call, a tool run, a retrieval, a routing decision."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    id: str
    type: StepType
    name: str
    input: Any = None
    output: Any = None
    latency_ms: float | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)
    cost_usd: float | None = Field(default=None, ge=0)
    error: str | None = None

    @field_validator("input", "output")
    @classmethod
    def _json_value(cls, value: Any) -> Any:
        """A step is stored as JSON: its values become JSON values (a set a list), and one JSON
        cannot store (an object) is refused here, as that step's or case's error, not the run's."""
        if value is None or isinstance(value, str | int | float | bool):
            return value
        try:
            return to_jsonable_python(value)
        except PydanticSerializationError:
            raise ValueError(f"a {type(value).__name__} is not a JSON value") from None


# run-level metrics every suite × variant has, beside its scores (thresholds and the gate use them)
SPECIAL_METRICS = (
    "pass_rate",
    "error_rate",
    "truncation_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "cost_per_case_usd",
)


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    # an assistant turn that asked for tools, and a tool turn answering one of those calls;
    # both None for plain chat, so hashes of plain conversations are unchanged (dump exclude_none)
    tool_calls: tuple[ToolCall, ...] | None = None
    tool_call_id: str | None = None


class FunctionSpec(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    # dots too (BFCL's `math.factorial`): providers whose API refuses them send `math_factorial`
    # and map the model's calls back to the declared name (evalkit.tools.wire)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = None  # what the function does, as the model reads it
    # its arguments, as a JSON Schema object (default: none)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None  # OpenAI's strict mode: the arguments must match `parameters` exactly

    @field_validator("parameters")
    @classmethod
    def _is_json_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        import jsonschema  # only suites that declare tools pay for it

        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"parameters is not a valid JSON schema: {exc.message}") from None
        return value


class ToolSchema(BaseModel):
    """An OpenAI function tool: {"type": "function", "function": {name, description, parameters}}."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    type: Literal["function"] = "function"  # always `function` (OpenAI's function tools)
    function: FunctionSpec  # the function's name, description and parameters


ToolChoice = Literal["auto", "none", "required"] | dict[str, Any]


class AgentSettings(BaseModel):
    """Run the agent loop in evalkit: declared tools bound to Python callables."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    tools: dict[str, str] = Field(default_factory=dict)  # name → "package.module:function"
    max_steps: int = Field(default=8, gt=0)  # model calls at most, per case
    tool_timeout_s: float = Field(default=30.0, gt=0)  # seconds one tool call may take before it is an error
    # native: the provider's tool calling (OpenAI wire format); prompt: the tools are described
    # in the system prompt and calls read from <tool_call> blocks (models without native tools)
    protocol: Literal["native", "prompt"] = "native"

    def over(self, base: AgentSettings | None) -> AgentSettings:
        """These settings over `base` (a variant's over its suite's): what is set here wins."""
        if base is None:
            return self
        return base.model_copy(update={k: getattr(self, k) for k in self.model_fields_set})


class GenerationParams(BaseModel):
    """Sampling parameters a user sets on a suite or variant."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # sampling temperature; 0 is greedy (default: the provider's)
    temperature: float | None = Field(default=None, ge=0)
    # nucleus sampling: the share of probability mass sampled from
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, gt=0)  # output tokens at most, per answer
    stop: list[str] | None = None  # stop generating at any of these strings
    seed: int | None = None  # sampling seed, where the provider supports one
    extra_body: dict[str, Any] | None = None  # passed through verbatim to HTTP providers
    tools: tuple[ToolSchema, ...] | None = None  # function tools the model may call
    # auto, none, required, or {type: function, function: {name: ...}} to force one
    tool_choice: ToolChoice | None = None

    def merged(self, override: GenerationParams | None) -> GenerationParams:
        if override is None:
            return self
        data = self.model_dump(exclude_none=True)
        data.update(override.model_dump(exclude_none=True))
        return GenerationParams(**data)


class Loglikelihood(BaseModel):
    """A log-likelihood request: the continuations to score (each choice after its delimiter)
    and the context: the rendered messages' text as is (`plain`, lm-evaluation-harness's default)
    or through the model's chat template (`chat`)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    continuations: tuple[str, ...]
    context: Literal["plain", "chat"] = "plain"

    def plain_context(self, messages: Sequence[Message]) -> str:
        """The context without a chat template: the messages' contents, one after another."""
        return "\n\n".join(m.content for m in messages if m.content)


class Request(BaseModel):
    """One generation to perform: a case, for a variant, at a repeat index."""

    model_config = ConfigDict(frozen=True)

    key: str  # unique within a run: suite/case_id/variant/repeat
    suite: str
    case_id: str
    variant: str
    repeat: int
    messages: tuple[Message, ...]
    params: GenerationParams
    model: str | None = None
    # what a RAG variant retrieved for this case (already rendered into `messages`); an empty
    # tuple is a retrieval failure, None means the variant does not retrieve
    retrieval: tuple[RetrievedChunk, ...] | None = None
    retrieval_query: str | None = None  # what was searched for
    # RAG: the messages with the retrieved context left out, for the input hash - a different
    # retrieval is what a RAG variant changes, not a different question (the gate must pair them)
    input_messages: tuple[Message, ...] | None = None
    agent: AgentSettings | None = None  # evalkit runs the tool loop (evalkit.agent.loop)
    # multiple choice: score each continuation's log-probability after the prompt, generate nothing
    loglikelihood: Loglikelihood | None = None


class Usage(BaseModel):
    """Tokens of one answer, the same for every vendor. `input_tokens` counts every prompt token,
    the cached ones and the ones written to a cache included (as OpenAI reports it; Anthropic's
    and Bedrock's own `input_tokens` leave those out, their providers add them back);
    `output_tokens` counts every billed output token, reasoning included (Gemini reports thoughts
    apart, its provider adds them). The other counts say what part of those was what."""

    model_config = ConfigDict(extra="forbid")

    input_tokens: int | None = None  # prompt tokens, cached ones included
    output_tokens: int | None = None  # output tokens, reasoning included
    cached_input_tokens: int | None = None  # read from the vendor's prompt cache
    cache_write_tokens: int | None = None  # written to the vendor's prompt cache (billed apart)
    reasoning_tokens: int | None = None  # thinking / reasoning tokens, part of output_tokens

    def plus(self, other: Usage) -> Usage:
        """Both counts added, a count unknown on both sides staying unknown (an agent's steps)."""
        summed = {
            name: None if a is None and b is None else (a or 0) + (b or 0)
            for name in type(self).model_fields
            for a, b in [(getattr(self, name), getattr(other, name))]
        }
        return Usage(**summed)


# One vocabulary of why generation stopped, whatever the vendor; the vendor's own word is kept
# beside it on the result (`vendor_finish_reason`).
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]
FINISH_REASONS: dict[str, FinishReason] = {
    # OpenAI chat completions (and every OpenAI-compatible server, vLLM, transformers)
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "eos": "stop",
    "stop_sequence": "stop",
    # Anthropic Messages and Bedrock Converse
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "pause_turn": "stop",
    # OpenAI Responses (status / incomplete_details.reason)
    "completed": "stop",
    "max_output_tokens": "length",
    # Gemini (FinishReason enum, upper case)
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "error": "error",
    # evalkit's agent loop: it stopped at max_steps, an answer cut short
    "max_steps": "length",
}


def normalise_finish(raw: str | None, *, failed: bool = False) -> tuple[FinishReason | None, str | None]:
    """(the one vocabulary's word, the vendor's own word when it differs). A failed generation
    is `error`; a word no table knows keeps only the vendor's."""
    if failed:
        return "error", raw
    if raw is None:
        return None, None
    normal = FINISH_REASONS.get(raw) or FINISH_REASONS.get(raw.lower())
    return normal, (None if normal == raw else raw)


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    reasoning: str | None = None  # the model's thinking, kept apart from `text` (never scored)
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float | None = None  # per request, only where measured (HTTP, engine timestamps)
    ttft_ms: float | None = None
    # batch-only engines (transformers): the wall time of the whole batch this answer came from,
    # recorded as such; `latency_ms` then stays None (unmeasured), never the batch time per row
    batch_ms: float | None = None
    batch_size: int | None = None
    model_version: str | None = None
    cached: bool = False
    attempts: int = 1
    error: str | None = None  # set when generation failed after retries: text is then None
    tool_calls: list[ToolCall] | None = None  # what the model asked for (None: no tool call)
    steps: list[Step] | None = None  # the trace of an agent loop or of a `python` system
    # log-likelihood requests: each continuation's summed log-probability, and whether greedy
    # decoding would have produced it
    choice_logprobs: list[float] | None = None
    choice_greedy: list[bool] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def result_fields(self) -> dict[str, Any]:
        """What a `CaseResult` keeps of this completion, as its fields (the caller adds the case,
        the request, the provider, the finish reason in the one vocabulary, cost and scores)."""
        ok = self.error is None
        return {
            "output": self.text if ok else None,
            "reasoning": self.reasoning if ok else None,
            "error": self.error,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "batch_ms": self.batch_ms,
            "batch_size": self.batch_size,
            "usage": self.usage,
            "model_version": self.model_version,
            "cached": self.cached,
            "attempts": self.attempts,
            "tool_calls": self.tool_calls,
            "steps": self.steps,
            "choice_logprobs": self.choice_logprobs,
            "choice_greedy": self.choice_greedy,
        }


class RetrievedChunk(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    id: str  # stable chunk id: "<doc id>#<character offset>"
    doc_id: str
    text: str
    score: float  # the retriever's own score (BM25, cosine, or fused)


class Score(BaseModel):
    """One measurement. `value=None` means unmeasured: never averaged as zero."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: float | None
    passed: bool | None = None
    reason: str | None = None

    def stored(self) -> StoredScore:
        """As a result line keeps it (its name is the key)."""
        return StoredScore(value=self.value, passed=self.passed, reason=self.reason)


@dataclass(frozen=True)
class ScoreInput:
    output: str
    references: tuple[str, ...]
    vars: dict[str, Any]
    case_id: str
    suite: str = ""
    variant: str = ""
    repeat: int = 0
    prompt: str = ""  # the rendered conversation the output answers (for judges)
    # RAG variants: what was retrieved (ids best first, and texts), and the case's gold ids
    retrieval_ids: tuple[str, ...] | None = None
    query: str | None = None  # what the retriever searched for
    contexts: tuple[str, ...] = ()
    relevant_ids: tuple[str, ...] = ()
    generated: bool = True  # False: generation failed (or retrieval did); `output` is then empty
    tool_calls: tuple[ToolCall, ...] = ()  # every tool call of the result, in order
    steps: tuple[Step, ...] = ()  # the trace (agent loop or a `python` system), in order
    expect: Any = None  # the case's tool expectations (evalkit.tools.expect.ToolExpectations)
    # multiple choice: the case's choices and gold index, and each choice's log-probability
    choices: tuple[str, ...] | None = None
    gold: int | None = None
    choice_logprobs: tuple[float, ...] | None = None


class StoredScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float | None
    passed: bool | None = None
    reason: str | None = None


class JudgeUsage(BaseModel):
    """What one judge spent on one result (every sample and order it was asked)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    provider: str
    model: str | None = None
    model_versions: list[str] = Field(default_factory=new_list)
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # None: the judge's provider has no pricing


class CaseResult(BaseModel):
    """One line of results.jsonl: a case × variant × repeat, its output and its scores."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 3  # evalkit.rundir.migrations.CURRENT["result"]; older lines are migrated on read

    suite: str
    case_id: str
    variant: str
    repeat: int
    provider: str
    model: str | None = None
    tags: list[str] = Field(default_factory=new_list)
    # the pairing key of the gate: a digest of the case's own data (vars, references, its own
    # messages); a changed prompt, model or params is what a comparison evaluates, not a new case
    case_hash: str | None = None
    input_hash: str | None = None  # the prompt digest: rendered messages (less retrieval) + references
    messages: list[Message]
    references: list[str] = Field(default_factory=new_list)
    output: str | None
    reasoning: str | None = None  # the model's thinking/reasoning text, apart from the output
    error: str | None = None
    finish_reason: FinishReason | None = None  # the one vocabulary (types.FINISH_REASONS)
    vendor_finish_reason: str | None = None  # the vendor's own word, when it differs
    latency_ms: float | None = None
    ttft_ms: float | None = None
    batch_ms: float | None = None  # batch-only engines: the wall time of the batch (latency unmeasured)
    batch_size: int | None = None
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None
    model_version: str | None = None
    cached: bool = False
    attempts: int = 1
    fallback_from: str | None = None  # the provider that failed before `provider` answered
    retrieval_query: str | None = None  # RAG variants: what the retriever searched for
    retrieval_ids: list[str] | None = None  # ... the chunks it put in the prompt, best first
    retrieval: list[RetrievedChunk] | None = None  # ... with their documents, scores and texts
    scores: dict[str, StoredScore] = Field(default_factory=dict)
    judges: dict[str, JudgeUsage] = Field(default_factory=dict)  # judge tokens; in cost_usd too
    tool_calls: list[ToolCall] | None = None  # the tool calls the model made (all steps, in order)
    steps: list[Step] | None = None  # the trace: agent loop steps or a `python` system's steps
    # multiple choice: each choice's log-probability after the prompt, and whether greedy
    # decoding would have produced it (the choice with the highest is `output`)
    choice_logprobs: list[float] | None = None
    choice_greedy: list[bool] | None = None

    @property
    def key(self) -> str:
        return f"{self.suite}/{self.case_id}/{self.variant}/{self.repeat}"

    def replayed(self) -> Completion:
        """This result's answer as a completion again (a `replay` provider answers with it)."""
        if self.error is not None or self.output is None:
            return Completion(error=self.error or "the stored result has no output")
        return Completion(
            text=self.output,
            finish_reason=self.finish_reason,
            usage=self.usage,
            latency_ms=self.latency_ms,
            ttft_ms=self.ttft_ms,
            model_version=self.model_version,
            choice_logprobs=self.choice_logprobs,
            choice_greedy=self.choice_greedy,
            steps=self.steps,  # a recorded trace replays with its steps and tool calls
            tool_calls=self.tool_calls,
        )

    def passed(self, among: Collection[str] | None = None) -> bool | None:
        """True when every pass/fail score passed; None when there is none to judge by.
        `among`: only these scores decide (a suite's `pass:` list, without informational ones)."""
        if self.error is not None:
            return None
        verdict = None  # one loop, no list: it runs for every result of a run, twice
        for name, s in self.scores.items():
            if s.passed is None or (among is not None and name not in among):
                continue
            if not s.passed:
                return False
            verdict = True
        return verdict


class Threshold(BaseModel):
    """Absolute bounds on the candidate (`min`, `max`), and tolerances against the baseline:
    `max_drop` for higher-is-better metrics, `max_increase` for lower-is-better ones (latency,
    cost). A metric regresses only when it is significantly worse AND worse by more than that."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True, allow_inf_nan=False)

    min: float | None = None  # fail when the figure is below this
    max: float | None = None  # fail when the figure is above this
    # higher-is-better metrics: a significant drop vs the baseline larger than this regresses
    max_drop: float | None = Field(default=None, ge=0)
    # lower-is-better figures (latency, cost): a significant rise larger than this regresses
    max_increase: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _has_bound(self) -> Threshold:
        if all(v is None for v in (self.min, self.max, self.max_drop, self.max_increase)):
            raise ValueError("a threshold needs 'min', 'max', 'max_drop' or 'max_increase'")
        if self.max_drop is not None and self.max_increase is not None:
            raise ValueError(
                "give 'max_drop' (higher is better) or 'max_increase' (lower is better), not both"
            )
        return self


# --- verdicts: the one vocabulary of terminal, Markdown, JUnit and HTML --------------------

Verdict = Literal["regressed", "worse", "worse_ns", "improved", "better_ns", "unchanged", "unmeasured"]
GroupVerdict = Literal["regressed", "improved", "ok", "inconclusive"]
Tone = Literal["bad", "warn", "good", "neutral"]


@dataclass(frozen=True)
class VerdictLabel:
    """How a verdict reads: a symbol for tight columns, the words, a tone for colour, and what it means."""

    symbol: str
    words: str
    tone: Tone
    meaning: str


VERDICTS: dict[str, VerdictLabel] = {
    "regressed": VerdictLabel(
        "✗",
        "regressed",
        "bad",
        "worse beyond the tolerance, significant after Holm correction: fails the gate",
    ),
    "worse": VerdictLabel(
        "!", "worse", "warn", "significantly worse, but within the tolerance or on a metric that is not gated"
    ),
    "worse_ns": VerdictLabel(
        "↓",
        "worse, not significant",
        "warn",
        "worse than the baseline, but the test cannot tell it from noise (at all, or after Holm "
        "correction over the whole gate: the label says which)",
    ),
    "improved": VerdictLabel("↑", "improved", "good", "significantly better after Holm correction"),
    "better_ns": VerdictLabel(
        "↗",
        "better, not significant",
        "neutral",
        "better than the baseline, but the test cannot tell it from noise (at all, or after Holm correction)",
    ),
    "unchanged": VerdictLabel("=", "no detectable change", "neutral", "no difference at all: Δ is 0"),
    "unmeasured": VerdictLabel("?", "unmeasured", "neutral", "no paired measurements on both sides"),
}

GROUP_VERDICTS: dict[str, VerdictLabel] = {
    "regressed": VerdictLabel("✗", "regressed", "bad", "a gated metric regressed: exit 1"),
    "improved": VerdictLabel("↑", "improved", "good", "a gated metric improved and none regressed"),
    "ok": VerdictLabel("✓", "no regression", "good", "no gated metric regressed"),
    "inconclusive": VerdictLabel(
        "?", "inconclusive", "warn", "no case could be paired with the baseline: nothing was compared"
    ),
}


def verdict_words(
    verdict: str,
    *,
    gated: bool = True,
    p_adjusted: float | None = None,
    p_value: float | None = None,
    alpha: float = 0.05,
    cases: tuple[int, int, int] | None = None,
) -> str:
    """The label a person reads for a metric's verdict, with what qualifies it: which p-value
    did not confirm a change, and for pass/fail scores how many cases moved, e.g.
    'worse, not significant (p = 0.125; 4 of 20 cases pass → fail)'.
    `cases`: (pass → fail, fail → pass, paired cases)."""
    words = VERDICTS[verdict].words
    if verdict == "worse":
        words += ", within tolerance" if gated else " (not gated)"
    notes = []
    if verdict in ("worse_ns", "better_ns"):
        if p_value is not None and p_adjusted is not None and p_value < alpha <= p_adjusted:
            notes.append(f"p = {_p(p_value)}, p_adj = {_p(p_adjusted)} after correction")
        elif p_value is not None or p_adjusted is not None:
            notes.append(f"p = {_p(p_value if p_value is not None else p_adjusted)}")
    if cases is not None and verdict != "unmeasured":
        down, up, n = cases
        moved = [f"{down} of {n} cases pass → fail"] if down else []
        moved += [f"{up} of {n} cases fail → pass"] if up else []
        notes.append(", ".join(moved) if moved else f"none of {n} cases changed")
    return words + (f" ({'; '.join(notes)})" if notes else "")


def _p(p: float | None) -> str:
    return "–" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


ScoreKind = Literal["pass_fail", "continuous", "judge"]


@dataclass(frozen=True)
class ScorerInfo:
    """What a scorer is, declared once with `@scorer(...)` (a scorer refines what its options
    change, e.g. a judge's provider). Suites transform its score rows (`name:`, `threshold:`);
    nothing copies these flags around."""

    type: str
    higher_is_better: bool = True
    needs_reference: bool = False
    needs_output: bool = True  # False: also scores cases whose generation failed (retrieval)
    kind: ScoreKind = "continuous"  # pass_fail: 1/0 with a pass mark; judge: asks a model
    verdict: bool | None = None  # scores carry a pass/fail mark (None: when kind is pass_fail)
    deferred: bool = False  # needs every output of the run: scored once generation is done
    provider: str | None = None  # a configured provider it calls (judges)
    corpus: str | None = None  # a corpus figure aggregation computes: bleu, chrf, evaluate
    agreement: bool = False  # its embeddings measure semantic agreement between repeats
    # the least and greatest value a score can take (None: unbounded); summaries keep a mean's
    # confidence interval inside it (a `contains` mean never gets ci_high 1.05)
    value_range: tuple[float, float] | None = None
    description: str = ""
    # options whose values name code, files or hosts outside a run directory (an evaluate
    # module's path, a judge's template file, an embedding model folder): a run directory's
    # own scorers that set them are used only with `evalkit score --trust-run-config`
    outside: tuple[str, ...] = ()

    @property
    def gives_verdicts(self) -> bool:
        return self.kind == "pass_fail" if self.verdict is None else self.verdict


class MetricInfo(BaseModel):
    """One score name of a run and all a later reader needs to aggregate it from results.jsonl
    alone: direction, kind, whether it decides a case's pass, and the options of corpus figures."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    scorer: str  # the scorer type that produces it
    kind: ScoreKind = "continuous"
    higher_is_better: bool = True
    verdict: bool = False  # cases carry a pass/fail mark on it
    informational: bool = False  # scored and shown, never part of a case's pass
    counts_for_pass: bool = False  # its pass/fail mark is part of a case's pass
    corpus: str | None = None  # aggregation adds corpus_<name>: bleu, chrf or evaluate
    agreement: bool = False  # aggregation adds semantic agreement between repeats
    value_range: tuple[float, float] | None = None  # bounds of a value: a mean's CI stays inside
    options: dict[str, Any] = Field(default_factory=dict)  # scorer options corpus/agreement need
