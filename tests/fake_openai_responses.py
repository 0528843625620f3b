"""OpenAI's Responses API (POST /v1/responses) as FakeOpenAI serves it: the Response object and
its server-sent events in the shapes of OpenAI's API reference (`object: "response"`, `output`
items of type `message` / `reasoning` / `function_call`, `usage` with `input_tokens_details` and
`output_tokens_details`; a stream of `response.created`, `response.output_item.added`,
`response.output_text.delta`, ..., `response.completed`, each with its `sequence_number`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

# A responder for the Responses route returns the answer text, or a dict:
# {"content": str | None, "tool_calls": [{"id", "name", "arguments"}], "reasoning": str,
#  "incomplete": "max_output_tokens" | "content_filter", "cached_tokens": int, "refusal": str}
ResponsesReply = str | dict[str, Any]


def default_responses_responder(body: dict[str, Any]) -> ResponsesReply:
    items = body["input"] if isinstance(body["input"], list) else [{"role": "user", "content": body["input"]}]
    last = next(i for i in reversed(items) if i.get("role") == "user")
    return f"echo: {last['content']}"


def _words(value: Any) -> int:
    return len(str(value or "").split())


def response_object(
    body: dict[str, Any], reply: ResponsesReply, *, status: str = "completed"
) -> dict[str, Any]:
    """The Response object the API returns (and the final stream event carries)."""
    r: dict[str, Any] = {"content": reply} if isinstance(reply, str) else dict(reply)
    text: str | None = r.get("content")
    output: list[dict[str, Any]] = []
    reasoning_tokens = 0
    if r.get("reasoning") is not None:
        reasoning_tokens = 3 * _words(r["reasoning"])
        summary = [{"type": "summary_text", "text": r["reasoning"]}] if r["reasoning"] else []
        output.append({"type": "reasoning", "id": "rs_fake0001", "summary": summary})
    if r.get("refusal") is not None:
        content = [{"type": "refusal", "refusal": r["refusal"]}]
        output.append(_message_item(content))
    elif text is not None:
        max_out = body.get("max_output_tokens")
        if isinstance(max_out, int) and _words(text) + reasoning_tokens > max_out:
            text = " ".join(text.split()[: max(max_out - reasoning_tokens, 0)])
            r.setdefault("incomplete", "max_output_tokens")
        output.append(_message_item([{"type": "output_text", "text": text, "annotations": []}]))
    for i, call in enumerate(r.get("tool_calls") or []):
        output.append(
            {
                "type": "function_call",
                "id": f"fc_fake{i:04d}",
                "call_id": call["id"],
                "name": call["name"],
                "arguments": call["arguments"],
                "status": "completed",
            }
        )
    instructions = body.get("instructions")
    input_tokens = _words(instructions) + sum(
        _words(i.get("content") or i.get("output") or i.get("arguments"))
        for i in (body["input"] if isinstance(body["input"], list) else [{"content": body["input"]}])
    )
    output_tokens = (
        _words(text) + reasoning_tokens + sum(len(c["arguments"]) // 4 for c in r.get("tool_calls") or [])
    )
    incomplete = r.get("incomplete")
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if incomplete else status,
        "error": None,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "instructions": instructions,
        "max_output_tokens": body.get("max_output_tokens"),
        "model": f"{body.get('model')}-2026-01-01",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": r.get("cached_tokens", 0)},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        },
        "user": None,
        "metadata": {},
    }


def _message_item(content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
        "status": "completed",
        "role": "assistant",
        "content": content,
    }


def stream_events(final: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, payload) of the documented stream for a finished Response object: created,
    in_progress, each output item added / its deltas / done, then the terminal event."""
    pending = {**final, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
    ]
    for index, item in enumerate(final["output"]):
        events += _item_events(index, item)
    terminal = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    events.append({"type": terminal, "response": final})
    for n, event in enumerate(events):
        yield event["type"], {**event, "sequence_number": n}


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    where = {"output_index": index, "item_id": item["id"]}
    if item["type"] == "function_call":
        args = item["arguments"]
        added = {**item, "arguments": "", "status": "in_progress"}
        deltas = [
            {"type": "response.function_call_arguments.delta", **where, "delta": args[i : i + 7]}
            for i in range(0, len(args), 7)
        ]
        return [
            {"type": "response.output_item.added", "output_index": index, "item": added},
            *deltas,
            {"type": "response.function_call_arguments.done", **where, "arguments": args},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
    if item["type"] == "reasoning":
        texts = [p["text"] for p in item["summary"]]
        deltas = [
            {"type": "response.reasoning_summary_text.delta", **where, "summary_index": 0, "delta": t}
            for t in texts
        ]
        return [
            {"type": "response.output_item.added", "output_index": index, "item": {**item, "summary": []}},
            *deltas,
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
    out: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": index, "item": {**item, "content": []}}
    ]
    for c, part in enumerate(item["content"]):
        at = {**where, "content_index": c}
        text = part.get("text", part.get("refusal", ""))
        kind = "output_text" if part["type"] == "output_text" else "refusal"
        out.append(
            {
                "type": "response.content_part.added",
                **at,
                "part": {**part, kind if kind == "refusal" else "text": ""},
            }
        )
        for i, word in enumerate(text.split(" ") if text else []):
            out.append(
                {
                    "type": f"response.{kind}.delta",
                    **at,
                    "delta": word if i == 0 else " " + word,
                    "logprobs": [],
                }
            )
        out.append(
            {"type": f"response.{kind}.done", **at, ("text" if kind == "output_text" else "refusal"): text}
        )
        out.append({"type": "response.content_part.done", **at, "part": part})
    out.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return out


def sse(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()


MODEL_NOT_FOUND = {
    "error": {
        "message": "The model `{model}` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
}


def model_not_found(model: str) -> dict[str, Any]:
    error = dict(MODEL_NOT_FOUND["error"])
    error["message"] = str(error["message"]).replace("{model}", model)
    return {"error": error}
