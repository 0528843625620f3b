"""A small OpenAI-compatible chat-completions server on 127.0.0.1, with fault injection.

Real sockets, real HTTP/1.1 with keep-alive (http.server in threads): evalkit's provider is
exercised exactly as it would be against vLLM, Ollama or OpenAI. Used by tests and
benchmarks; run it standalone with `python tests/fake_openai.py --latency 0.2`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    """One scripted misbehaviour, consumed by the next matching request."""

    status: int | None = None  # reply with this HTTP status
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    drop: bool = False  # close the connection without a response
    truncate: bool = False  # promise a long body, send half, close
    hang_s: float = 0.0  # sleep before answering (to trigger client timeouts)
    match: str | None = None  # only for requests whose model or last message contains this


def default_responder(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    return f"echo: {last}"


class FakeOpenAI:
    def __init__(
        self,
        responder: Callable[[dict[str, Any]], str] = default_responder,
        latency_s: float = 0.0,
        api_key: str | None = None,
    ):
        self.responder = responder
        self.latency_s = latency_s
        self.api_key = api_key
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

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
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self, port: int = 0) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    self._json(400, {"error": {"message": "invalid JSON"}})
                    return
                with fake.lock:
                    fake.requests.append(body)
                    fake.headers_seen.append(dict(self.headers.items()))
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._answer(body)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

            def _answer(self, body: dict[str, Any]) -> None:
                if fake.api_key is not None and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._json(401, {"error": {"message": "Incorrect API key provided"}})
                    return
                fault = fake._take_fault(body)
                if fault is not None and fault.hang_s:
                    time.sleep(fault.hang_s)
                if fault is not None and fault.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault is not None and fault.status is not None:
                    payload = fault.body or json.dumps({"error": {"message": f"injected {fault.status}"}})
                    self._send(fault.status, payload.encode(), fault.headers)
                    return
                if fake.latency_s:
                    time.sleep(fake.latency_s)
                text = fake.responder(body)
                data = _completion(body, text)
                encoded = json.dumps(data).encode()
                if fault is not None and fault.truncate:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(encoded)))
                    self.end_headers()
                    self.wfile.write(encoded[: len(encoded) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._send(200, encoded, {})

            def _json(self, status: int, data: Any) -> None:
                self._send(status, json.dumps(data).encode(), {})

            def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        server.request_queue_size = 256
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion_tokens = len(text.split())
    finish = "stop"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and completion_tokens > max_tokens:
        text = " ".join(text.split()[:max_tokens])
        completion_tokens, finish = max_tokens, "length"
    model = body.get("model", "fake-model")
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": f"{model}-2026-01-01",
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeOpenAI(latency_s=args.latency).start(args.port)
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
