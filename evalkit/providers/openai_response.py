"""Reading OpenAI-style chat-completion bodies and stream chunks, whatever shape they come in.

Servers that speak "OpenAI-compatible" differ: `content` may be a list of parts, `message` a
bare string, `finish_reason` a number, token counts fractional. What can be read sensibly is;
what cannot raises `UnexpectedResponse`, which the provider turns into one error result. No
shape of valid JSON may escape as another exception and kill a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from evalkit._util.textsafe import clean_text
from evalkit.types import Completion, Usage


class UnexpectedResponse(ValueError):
    """Valid JSON in a shape no answer can be read from."""


class StreamError(Exception):
    """The server reported an error inside the event stream."""


def content_text(content: Any, where: str) -> str:
    """A message's `content`: a string, null, or a list of parts whose text parts are joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return clean_text(content)
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                pieces.append(part["text"])  # {"type": "text" | "output_text", "text": ...}
        return clean_text("".join(pieces))
    raise UnexpectedResponse(f"unexpected response: {where} is a {type(content).__name__}")


def finish_text(value: Any) -> str | None:
    return None if value is None else clean_text(str(value))


def token_count(value: Any) -> int | None:
    """A token count: whole numbers kept, fractional ones rounded, anything else unknown."""
    if type(value) is int:  # the common case, checked first (a bool is not one)
        return value if value >= 0 else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return round(value)


def usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    prompt = raw.get("prompt_tokens_details")
    completion = raw.get("completion_tokens_details")
    return Usage(
        input_tokens=token_count(raw.get("prompt_tokens")),
        output_tokens=token_count(raw.get("completion_tokens")),
        cached_input_tokens=token_count(prompt.get("cached_tokens")) if isinstance(prompt, dict) else None,
        reasoning_tokens=token_count(completion.get("reasoning_tokens"))
        if isinstance(completion, dict)
        else None,
    )


def model_version(data: dict[str, Any]) -> str | None:
    model = data.get("model")
    fingerprint = data.get("system_fingerprint")
    if model and fingerprint:
        return clean_text(f"{model} ({fingerprint})")
    return clean_text(str(model)) if model else None


def _first_choice(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UnexpectedResponse(f"unexpected response: a JSON {type(data).__name__}, not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise UnexpectedResponse("unexpected response: no 'choices' list with an answer")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise UnexpectedResponse(f"unexpected response: choices[0] is a {type(choice).__name__}")
    return choice


def parse_body(data: Any) -> Completion:
    """A whole (non-streamed) chat completion."""
    if isinstance(data, dict) and data.get("error") and not data.get("choices"):
        raise UnexpectedResponse(f"the server answered with an error: {error_message(data['error'])}")
    choice = _first_choice(data)
    message = choice.get("message")
    if isinstance(message, dict):
        text = content_text(message.get("content"), "message.content")
    elif isinstance(message, str):
        text = clean_text(message)
    elif message is None and isinstance(choice.get("text"), str):
        text = clean_text(choice["text"])  # the legacy completions shape
    else:
        raise UnexpectedResponse("unexpected response: choices[0] has no message")
    return Completion(
        text=text,
        finish_reason=finish_text(choice.get("finish_reason")),
        usage=usage(data.get("usage")),
        model_version=model_version(data),
    )


def error_message(error: Any) -> str:
    if isinstance(error, dict):
        error = error.get("message") or error
    return clean_text(" ".join(str(error).split()))


@dataclass
class StreamAssembler:
    """Collects a streamed answer chunk by chunk (`add`), then `completion()`."""

    parts: list[str] = field(default_factory=list)
    finish: str | None = None
    raw_usage: Any = None
    version: str | None = None

    def add(self, chunk: Any, event: str | None = None) -> bool:
        """Take one `data:` payload (parsed); True when it added answer text."""
        if event == "error" or (isinstance(chunk, dict) and chunk.get("error")):
            detail = chunk.get("error", chunk) if isinstance(chunk, dict) else chunk
            raise StreamError(f"the server reported an error mid-stream: {error_message(detail)}")
        if not isinstance(chunk, dict):
            raise UnexpectedResponse(f"unexpected stream chunk: a JSON {type(chunk).__name__}")
        self.version = model_version(chunk) or self.version
        self.raw_usage = chunk.get("usage") or self.raw_usage
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise UnexpectedResponse("unexpected stream chunk: 'choices' is not a list")
        added = False
        for choice in choices:
            if not isinstance(choice, dict):
                raise UnexpectedResponse("unexpected stream chunk: a choice is not an object")
            delta = choice.get("delta")
            if not isinstance(delta, dict | None):
                raise UnexpectedResponse("unexpected stream chunk: 'delta' is not an object")
            text = content_text((delta or {}).get("content"), "delta.content")
            if text:
                self.parts.append(text)
                added = True
            self.finish = finish_text(choice.get("finish_reason")) or self.finish
        return added

    def completion(self, ttft_ms: float | None) -> Completion:
        return Completion(
            text="".join(self.parts),
            finish_reason=self.finish,
            usage=usage(self.raw_usage),
            model_version=self.version,
            ttft_ms=ttft_ms,
        )
