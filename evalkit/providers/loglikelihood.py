"""Log-likelihood of continuations, computed exactly as lm-evaluation-harness computes it, for
the local engines: the same tokenisation of a (context, continuation) pair, the same window,
the same sum of log-probabilities and the same greedy check (`lm_eval.api.model.TemplateLM`
and `lm_eval.models.huggingface.HFLM._loglikelihood_tokens`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit.types import Completion, Request, Usage


def context_text(tokenizer: Any, request: Request) -> str:
    """The context a request's continuations follow: the messages' text as is (`plain`), or
    the messages through the model's chat template with the assistant turn opened (`chat`)."""
    assert request.loglikelihood is not None
    if request.loglikelihood.context == "chat":
        return str(
            tokenizer.apply_chat_template(
                [m.model_dump() for m in request.messages], tokenize=False, add_generation_prompt=True
            )
        )
    return request.loglikelihood.plain_context(request.messages)


def encode(tokenizer: Any, text: str) -> list[int]:
    """lm-eval's `tok_encode`: the tokenizer's own special tokens, unless the text already
    starts with the beginning-of-sequence token."""
    bos = tokenizer.bos_token
    kwargs = {"add_special_tokens": False} if bos and text.startswith(bos) else {}
    return list(tokenizer.encode(text, **kwargs))


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Context and continuation token ids: the context's trailing spaces move to the
    continuation, the whole is encoded and the context's own encoding cut off its front; an
    empty context is the BOS (else EOS) token."""
    if not context:
        cont = list(tokenizer.encode(continuation, add_special_tokens=False))
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        return ([prefix], cont) if prefix != cont[0] else (cont[:1], cont[1:])
    spaces = len(context) - len(context.rstrip())
    if spaces:
        continuation = context[-spaces:] + continuation
        context = context[:-spaces]
    whole = encode(tokenizer, context + continuation)
    ctx = encode(tokenizer, context)
    return ctx, whole[len(ctx) :]


Pair = tuple[int, list[int], list[int]]  # (request index, context ids, continuation ids)


def encode_requests(tokenizer: Any, requests: Sequence[Request]) -> list[Pair]:
    """Every choice of these requests as token ids, in order."""
    pairs: list[Pair] = []
    for i, request in enumerate(requests):
        assert request.loglikelihood is not None
        context = context_text(tokenizer, request)
        for continuation in request.loglikelihood.continuations:
            pairs.append((i, *encode_pair(tokenizer, context, continuation)))
    return pairs


def completions(
    requests: Sequence[Request],
    pairs: Sequence[Pair],
    figures: Sequence[tuple[float, bool]],
    batch_ms: float,
    model_version: str | None,
) -> list[Completion]:
    """Each request's answer from its choices' (log-probability, greedy?) figures."""
    per_request: list[list[tuple[float, bool, int]]] = [[] for _ in requests]
    for (i, ctx, cont), (logprob, greedy) in zip(pairs, figures, strict=True):
        per_request[i].append((logprob, greedy, len(ctx) + len(cont)))
    return [
        completion(
            request,
            [lp for lp, _, _ in mine],
            [g for _, g, _ in mine],
            input_tokens=sum(n for _, _, n in mine),
            batch_ms=batch_ms,
            batch_size=len(requests),
            model_version=model_version,
        )
        for request, mine in zip(requests, per_request, strict=True)
    ]


def window(context: list[int], continuation: list[int], max_length: int) -> list[int]:
    """The model's input: context and continuation less the last token, cut from the left."""
    return (context + continuation)[-(max_length + 1) :][:-1]


def completion(
    request: Request,
    logprobs: Sequence[float],
    greedy: Sequence[bool],
    input_tokens: int,
    batch_ms: float | None = None,
    batch_size: int | None = None,
    model_version: str | None = None,
) -> Completion:
    """A log-likelihood answer: the per-choice figures, and the best choice as its text."""
    assert request.loglikelihood is not None
    best = max(range(len(logprobs)), key=lambda i: (logprobs[i], -i))
    return Completion(
        text=request.loglikelihood.continuations[best].strip(),
        finish_reason="stop",
        usage=Usage(input_tokens=input_tokens, output_tokens=0),
        batch_ms=batch_ms,
        batch_size=batch_size,
        model_version=model_version,
        choice_logprobs=list(logprobs),
        choice_greedy=list(greedy),
    )


# What /v1/completions is asked for a choice's log-probability: the prompt's own token
# log-probabilities (`echo`) with the top one at each position (for the greedy check); one
# token is generated because not every server accepts `max_tokens: 0`, and it is left out.
ECHO_LOGPROBS: dict[str, Any] = {"max_tokens": 1, "temperature": 0, "echo": True, "logprobs": 1}


def read_echo_logprobs(request: Request, context: str, data: Any) -> Completion:
    """A /v1/completions body with echoed prompt log-probabilities, one choice per prompt: each
    continuation's summed log-probability (its tokens: those from the end of the context, its
    trailing spaces moved to the continuation as lm-evaluation-harness does, to the end of the
    prompt) and whether each was the top token."""
    assert request.loglikelihood is not None
    continuations = request.loglikelihood.continuations
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or len(choices) != len(continuations):
        return Completion(error=f"expected {len(continuations)} choices with echoed log-probabilities")
    ordered = sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
    split = len(context.rstrip())
    logprobs: list[float] = []
    greedy: list[bool] = []
    tokens_in = 0
    for continuation, choice in zip(continuations, ordered, strict=True):
        figures = _echoed(choice, split, len(context) + len(continuation))
        if figures is None:
            return Completion(
                error="the server returned no prompt log-probabilities (it needs /v1/completions "
                "with echo and logprobs, as vLLM's server has)"
            )
        logprobs.append(figures[0])
        greedy.append(figures[1])
        tokens_in += figures[2]
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    out = completion(request, logprobs, greedy, input_tokens=usage.get("prompt_tokens") or tokens_in)
    out.model_version = data.get("model") if isinstance(data.get("model"), str) else None
    return out


def _echoed(choice: Any, start: int, end: int) -> tuple[float, bool, int] | None:
    """(summed log-probability, greedy?, prompt tokens) of the prompt tokens in [start, end)."""
    lp = choice.get("logprobs") if isinstance(choice, dict) else None
    if not isinstance(lp, dict):
        return None
    tokens, values, offsets = lp.get("tokens"), lp.get("token_logprobs"), lp.get("text_offset")
    tops = lp.get("top_logprobs") or [None] * len(tokens or ())
    if not (isinstance(tokens, list) and isinstance(values, list) and isinstance(offsets, list)):
        return None
    if not len(tokens) == len(values) == len(offsets) == len(tops):
        return None
    picked = [k for k, offset in enumerate(offsets) if isinstance(offset, int) and start <= offset < end]
    if not picked or any(not isinstance(values[k], int | float) for k in picked):
        return None
    greedy = all(
        isinstance(tops[k], dict) and tops[k] and max(tops[k], key=tops[k].get) == tokens[k] for k in picked
    )
    prompt_tokens = sum(1 for offset in offsets if isinstance(offset, int) and offset < end)
    return float(sum(values[k] for k in picked)), greedy, prompt_tokens


def _is_top(top: Any, token: Any) -> bool:
    if not isinstance(top, dict) or not top:
        return False
    return bool(max(top.items(), key=lambda kv: kv[1])[0] == token)
