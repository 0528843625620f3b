"""A small OpenAI-compatible chat-completions server on 127.0.0.1, with fault injection.

Real sockets, real HTTP/1.1 with keep-alive (asyncio streams): evalkit's provider is
exercised exactly as it would be against vLLM, Ollama or OpenAI. Used by tests and
benchmarks; run it standalone with `python tests/fake_openai.py --latency 0.2`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from tests.fake_openai_responses import (
    ResponsesReply,
    default_responses_responder,
    model_not_found,
    response_object,
    sse,
    stream_events,
)


@dataclass
class Fault:
    """One scripted misbehaviour, consumed by the next matching request."""

    status: int | None = None  # reply with this HTTP status
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    drop: bool = False  # close the connection without a response
    truncate: bool = False  # promise a long body, send half, close
    hang_s: float = 0.0  # sleep before answering (to trigger client timeouts)
    echo_request: bool = False  # a 400 whose body repeats the request's path and headers
    match: str | None = None  # only for requests whose model or last message contains this
    # a 200 event stream of these raw server-sent events (each sent as one `data:` event, or
    # verbatim when it starts with `event:`), in chunked encoding, whatever the request asked
    sse: list[str] | None = None


# A responder returns the answer text, or a reply with tool calls in it:
# {"content": str | None, "tool_calls": [{"id": ..., "name": ..., "arguments": "<JSON string>"}]}
# (arguments are sent exactly as given, so a test can send malformed JSON).
Reply = str | dict[str, Any]


def default_responder(body: dict[str, Any]) -> Reply:
    last = body["messages"][-1]["content"]
    return f"echo: {last}"


class FakeOpenAI:
    """The server runs on its own asyncio loop in a background thread: latency is an
    `asyncio.sleep`, so hundreds of slow requests in flight cost no threads."""

    def __init__(
        self,
        responder: Callable[[dict[str, Any]], Reply] = default_responder,
        latency_s: float = 0.0,
        api_key: str | None = None,
        rate_limit: float | None = None,
        retry_after_hint: bool = False,
        token_delay_s: float = 0.0,
        completions: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        responses_responder: Callable[[dict[str, Any]], ResponsesReply] = default_responses_responder,
        missing_models: frozenset[str] = frozenset(),
        ignore_stream: bool = False,
    ):
        # answer a `stream: true` request with a whole application/json body, as some proxies do
        self.ignore_stream = ignore_stream
        # POST /v1/responses (the Responses API): its answers (tests/fake_openai_responses.py)
        self.responses_responder = responses_responder
        # models this server does not know: 404 with OpenAI's `model_not_found` error body
        self.missing_models = missing_models
        # the legacy /v1/completions endpoint: the whole response body for a request (None: 404)
        self.completions = completions
        self.token_delay_s = token_delay_s  # between streamed tokens
        self.responder = responder
        self.latency_s = latency_s
        self.api_key = api_key
        # token bucket: `rate_limit` requests/s, burst of one second's worth; 429 beyond it
        self.rate_limit = rate_limit
        self.retry_after_hint = retry_after_hint
        self._tokens = rate_limit or 0.0
        self._refilled = time.monotonic()
        self.rejected = 0
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._path = ""
        self.paths: list[str] = []  # every request's path with its query string

    # -- control ---------------------------------------------------------------------------
    def add_fault(self, fault: Fault, times: int = 1) -> None:
        with self.lock:
            self.faults.extend([fault] * times)

    def _take_fault(self, body: dict[str, Any]) -> Fault | None:
        with self.lock:
            text = json.dumps(body)
            for i, fault in enumerate(self.faults):
                if fault.match is None or fault.match in text:
                    del self.faults[i]
                    return fault
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def start(self, port: int = 0) -> FakeOpenAI:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", port, backlog=1024)
            )
            self._port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- HTTP/1.1 with keep-alive ----------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().title()] = v.strip()
                raw = await reader.readexactly(int(headers.get("Content-Length", "0")))
                self._path = path
                self.paths.append(path)
                keep = await self._respond(method, path, headers, raw, writer)
                if not keep:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def _respond(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        route = path.split("?")[0].rstrip("/")
        if method == "GET" and route.endswith("/models"):
            return await self._send(writer, 200, {"object": "list", "data": [{"id": "fake-model"}]})
        legacy = (
            method == "POST" and route.endswith("/completions") and not route.endswith("/chat/completions")
        )
        if legacy and self.completions is not None:
            body = json.loads(raw)
            with self.lock:
                self.requests.append(body)
            fault = self._take_fault(body)
            if fault is not None and fault.status is not None:
                return await self._send(
                    writer, fault.status, {"error": {"message": "injected"}}, fault.headers
                )
            return await self._send(writer, 200, self.completions(body))
        responses = method == "POST" and route.endswith("/responses")
        if not responses and (method != "POST" or not route.endswith("/chat/completions")):
            return await self._send(writer, 404, {"error": {"message": f"no route {path}"}})
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return await self._send(writer, 400, {"error": {"message": "invalid JSON"}})
        with self.lock:
            self.requests.append(body)
            self.headers_seen.append(headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(body, headers, writer, responses)
        finally:
            with self.lock:
                self.in_flight -= 1

    async def _answer(
        self,
        body: dict[str, Any],
        headers: dict[str, str],
        writer: asyncio.StreamWriter,
        responses: bool = False,
    ) -> bool:
        if self.api_key is not None and headers.get("Authorization") != f"Bearer {self.api_key}":
            return await self._send(writer, 401, {"error": {"message": "Incorrect API key provided"}})
        if self.rate_limit is not None:
            now = time.monotonic()
            self._tokens = min(self.rate_limit, self._tokens + (now - self._refilled) * self.rate_limit)
            self._refilled = now
            if self._tokens < 1:
                self.rejected += 1
                wait = (1 - self._tokens) / self.rate_limit
                extra = {"Retry-After": f"{wait:.3f}"} if self.retry_after_hint else {}
                return await self._send(writer, 429, {"error": {"message": "rate limited"}}, extra)
            self._tokens -= 1
        fault = self._take_fault(body)
        if fault is not None and fault.echo_request:
            message = f"bad request to {self._path} with headers {json.dumps(headers)}"
            return await self._send(writer, 400, {"error": {"message": message}})
        if fault is not None and fault.hang_s:
            await asyncio.sleep(fault.hang_s)
        if fault is not None and fault.drop:
            writer.transport.abort()
            return False
        if fault is not None and fault.sse is not None:
            return await self._raw_stream(writer, fault.sse)
        if fault is not None and fault.status is not None:
            payload = (fault.body or json.dumps({"error": {"message": f"injected {fault.status}"}})).encode()
            return await self._send(writer, fault.status, payload, fault.headers)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if body.get("model") in self.missing_models:
            return await self._send(writer, 404, model_not_found(str(body["model"])))
        if responses:
            return await self._respond_responses(writer, body, fault)
        if body.get("stream") and not self.ignore_stream:
            return await self._stream(writer, body, self.responder(body))
        encoded = json.dumps(_completion(body, self.responder(body))).encode()
        if fault is not None and fault.truncate:
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(encoded)}\r\n\r\n"
            )
            writer.write(head.encode() + encoded[: len(encoded) // 2])
            await writer.drain()
            writer.transport.abort()
            return False
        return await self._send(writer, 200, encoded)

    async def _stream(self, writer: asyncio.StreamWriter, body: dict[str, Any], text: Reply) -> bool:
        """Server-sent events in chunked transfer encoding, one word per event; tool calls as
        OpenAI streams them: a first delta with index, id and name, then argument pieces,
        interleaved across parallel calls."""
        full = _completion(body, text)
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        writer.write(head.encode())

        async def event(data: Any) -> None:
            payload = f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
            writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            await writer.drain()

        words = (full["choices"][0]["message"]["content"] or "").split(" ")
        words = [] if words == [""] and full["choices"][0]["message"].get("tool_calls") else words
        for delta in _tool_call_deltas(full["choices"][0]["message"].get("tool_calls") or []):
            await event(
                {"model": full["model"], "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            )
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            await event(
                {
                    "model": full["model"],
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
            )
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
        await event(
            {
                "model": full["model"],
                "choices": [{"index": 0, "delta": {}, "finish_reason": full["choices"][0]["finish_reason"]}],
            }
        )
        await event({"model": full["model"], "choices": [], "usage": full["usage"]})
        await event("[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _respond_responses(
        self, writer: asyncio.StreamWriter, body: dict[str, Any], fault: Fault | None
    ) -> bool:
        final = response_object(body, self.responses_responder(body))
        if not body.get("stream") or self.ignore_stream:
            encoded = json.dumps(final).encode()
            if fault is not None and fault.truncate:
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(encoded)}\r\n\r\n"
                writer.write(head.encode() + encoded[: len(encoded) // 2])
                await writer.drain()
                writer.transport.abort()
                return False
            return await self._send(writer, 200, encoded)
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        writer.write(head.encode())
        for name, payload in stream_events(final):
            data = sse(name, payload)
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
            if self.token_delay_s and name.endswith("output_text.delta"):
                await asyncio.sleep(self.token_delay_s)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _raw_stream(self, writer: asyncio.StreamWriter, events: list[str]) -> bool:
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        writer.write(head.encode())
        for raw in events:
            text = raw if raw.startswith("event:") else f"data: {raw}"
            payload = f"{text}\n\n".encode()
            writer.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, payload: Any, extra: dict[str, str] | None = None
    ) -> bool:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
        lines = [
            f"HTTP/1.1 {status} {reason}",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
        ]
        lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        await writer.drain()
        return True


def _tool_call_deltas(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Streamed deltas for tool calls: heads first, then argument pieces round-robin."""
    deltas: list[dict[str, Any]] = []
    for i, call in enumerate(calls):
        head = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        deltas.append(
            {"role": "assistant", "content": None, "tool_calls": [head]} if i == 0 else {"tool_calls": [head]}
        )
    pieces = [
        [c["function"]["arguments"][j : j + 7] for j in range(0, len(c["function"]["arguments"]), 7)]
        for c in calls
    ]
    for j in range(max((len(p) for p in pieces), default=0)):
        for i, p in enumerate(pieces):
            if j < len(p):
                deltas.append({"tool_calls": [{"index": i, "function": {"arguments": p[j]}}]})
    return deltas


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    text: str | None = reply if isinstance(reply, str) else reply.get("content")
    calls = [] if isinstance(reply, str) else reply.get("tool_calls") or []
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion_tokens = len((text or "").split()) + sum(len(str(c.get("arguments", ""))) // 4 for c in calls)
    finish = "tool_calls" if calls else "stop"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and completion_tokens > max_tokens and text is not None and not calls:
        text = " ".join(text.split()[:max_tokens])
        completion_tokens, finish = max_tokens, "length"
    model = body.get("model", "fake-model")
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": f"{model}-2026-01-01",
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": _message(text, calls), "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def _message(text: str | None, calls: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls
        ]
    return message


def tool_rounds_responder(rounds: int) -> Callable[[dict[str, Any]], Reply]:
    """A tool-calling model: `rounds` rounds of one `echo` call each, then an answer."""

    def respond(body: dict[str, Any]) -> Reply:
        done = sum(1 for m in body["messages"] if m["role"] == "assistant" and m.get("tool_calls"))
        if done < rounds:
            args = json.dumps({"text": f"round {done}"})
            return {
                "content": None,
                "tool_calls": [{"id": f"call_{done}", "name": "echo", "arguments": args}],
            }
        return default_responder(body)

    return respond


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument(
        "--tool-rounds", type=int, default=0, help="answer after N rounds of `echo` tool calls"
    )
    args = parser.parse_args()
    responder = tool_rounds_responder(args.tool_rounds) if args.tool_rounds else default_responder
    server = FakeOpenAI(responder=responder, latency_s=args.latency).start(args.port)
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
