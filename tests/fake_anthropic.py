"""A fake of Anthropic's Messages API (POST /v1/messages) on 127.0.0.1, speaking the wire format
of the API reference: the message object, its content blocks (text, thinking, tool_use), usage
with the prompt-cache counts, the error object, and the event stream (message_start,
content_block_start/delta/stop, ping, message_delta, message_stop, error).

The official `anthropic` SDK is pointed at `url`. A responder turns the request body into a
reply: content blocks, a stop reason and usage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHTTP, Fault, Handler, Seen, sse

# The reference's example response (Messages API, "Create a Message"), used as a fixture
REFERENCE_MESSAGE: dict[str, Any] = {
    "content": [{"text": "Hi! My name is Claude.", "type": "text"}],
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "model": "claude-sonnet-4-5-20250929",
    "role": "assistant",
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "type": "message",
    "usage": {"input_tokens": 2095, "output_tokens": 503},
}

Reply = dict[str, Any]  # {"content": [blocks], "stop_reason": str, "usage": {...}}


def echo(body: dict[str, Any]) -> Reply:
    last = body["messages"][-1]["content"]
    text = last if isinstance(last, str) else " ".join(b.get("text", "") for b in last if isinstance(b, dict))
    return {
        "content": [{"type": "text", "text": f"echo: {text}"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": len(text.split()) + 3, "output_tokens": len(text.split()) + 1},
    }


def error_body(kind: str, message: str) -> str:
    return json.dumps(
        {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
        }
    )


def fault(status: int, kind: str, message: str, **headers: str) -> Fault:
    return Fault(status=status, body=error_body(kind, message), headers={"request-id": "req_fake", **headers})


class FakeAnthropic(FakeHTTP):
    def __init__(self, responder: Callable[[dict[str, Any]], Reply] = echo, api_key: str | None = None):
        super().__init__()
        self.responder = responder
        self.api_key = api_key
        self.models: set[str] | None = None  # when set, other models get the API's 404
        self.stream_error: dict[str, Any] | None = None  # an `error` event after the first delta

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", "/v1/messages", self.messages)]

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [s.body for s in self.seen]

    async def messages(self, request: web.Request, seen: Seen) -> web.StreamResponse:
        auth = seen.headers.get("Authorization") or ""
        key = seen.headers.get("x-api-key") or auth.removeprefix("Bearer ")
        if self.api_key is not None and key != self.api_key:
            return _json(401, json.loads(error_body("authentication_error", "invalid x-api-key")))
        body = seen.body
        if not isinstance(body, dict) or "max_tokens" not in body or "messages" not in body:
            return _json(400, json.loads(error_body("invalid_request_error", "max_tokens: Field required")))
        if self.models is not None and body["model"] not in self.models:
            return _json(404, json.loads(error_body("not_found_error", f"model: {body['model']}")))
        reply = self.responder(body)
        message = {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": reply["content"],
            "stop_reason": reply.get("stop_reason", "end_turn"),
            "stop_sequence": reply.get("stop_sequence"),
            "usage": {
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "service_tier": "standard",
                **reply["usage"],
            },
        }
        if body.get("stream"):
            return await sse(request, self._events(message))
        return _json(200, message)

    def _events(self, message: dict[str, Any]) -> list[tuple[str | None, Any]]:
        """The message as the documented event stream."""
        usage = message["usage"]
        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
        start["usage"] = {**usage, "output_tokens": 1}
        events: list[tuple[str | None, Any]] = [
            ("message_start", {"type": "message_start", "message": start})
        ]
        for index, block in enumerate(message["content"]):
            events += _block_events(index, block)
            if index == 0:
                events.append(("ping", {"type": "ping"}))
                if self.stream_error is not None:
                    events.append(("error", {"type": "error", "error": self.stream_error}))
                    return events
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": message["stop_reason"],
                        "stop_sequence": message["stop_sequence"],
                    },
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events


def _block_events(index: int, block: dict[str, Any]) -> list[tuple[str | None, Any]]:
    kind = block["type"]
    if kind == "text":
        empty: dict[str, Any] = {"type": "text", "text": ""}
        text = block["text"]
        deltas = [{"type": "text_delta", "text": text[i : i + 5]} for i in range(0, len(text), 5)]
    elif kind == "thinking":
        empty = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": block["thinking"]},
            {"type": "signature_delta", "signature": block.get("signature", "EqQBCgIYAhIM")},
        ]
    else:  # tool_use: the input arrives as partial JSON strings
        empty = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        raw = json.dumps(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": raw[i : i + 7]} for i in range(0, len(raw), 7)]
    events: list[tuple[str | None, Any]] = [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": empty})
    ]
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
    ]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _json(status: int, data: Any) -> web.Response:
    return web.json_response(data, status=status, headers={"request-id": "req_fake"})
