"""The base of the vendor fakes (Anthropic, Gemini, Bedrock): a real aiohttp server on
127.0.0.1 in a background thread, recording every request (path, query, headers, body) and
answering from a queue of scripted faults before the vendor's own responder.

Each fake speaks its vendor's documented wire format; the official SDK is pointed at `url`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass
class Fault:
    """One scripted misbehaviour, consumed by the next request."""

    status: int = 500
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float = 0.0  # sleep first (a client timeout)
    content_type: str = "application/json"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw bytes


Handler = Callable[[web.Request, Seen], Awaitable[web.StreamResponse]]


class FakeHTTP:
    """Start with `with FakeX() as fake:`; `fake.url` is its base URL."""

    def __init__(self) -> None:
        self.faults: deque[Fault] = deque()
        self.seen: list[Seen] = []
        self.latency_s = 0.0
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests it was answering at once
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- to override ------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        raise NotImplementedError

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def _wrap(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            raw = await request.read()
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            seen = Seen(request.method, request.path, dict(request.query), dict(request.headers), body)
            self.seen.append(seen)
            self.in_flight += 1  # one event loop: no lock needed
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return await self._answer(handler, request, seen)
            finally:
                self.in_flight -= 1

        return handle

    async def _answer(self, handler: Handler, request: web.Request, seen: Seen) -> web.StreamResponse:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.faults:
            fault = self.faults.popleft()
            if fault.hang_s:
                await asyncio.sleep(fault.hang_s)
            return web.Response(
                status=fault.status,
                body=fault.body.encode() if isinstance(fault.body, str) else fault.body,
                headers={"Content-Type": fault.content_type, **fault.headers},
            )
        return await handler(request, seen)

    def __enter__(self) -> Self:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application(client_max_size=64 * 1024 * 1024)
            for method, path, handler in self.routes():
                app.router.add_route(method, path, self._wrap(handler))
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)


async def sse(
    request: web.Request, events: list[tuple[str | None, Any]], delay_s: float = 0.0
) -> web.StreamResponse:
    """A 200 `text/event-stream` of `event: NAME` / `data: JSON` pairs, as the vendors send them."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for name, data in events:
        chunk = (
            f"event: {name}\n" if name else ""
        ) + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
        await response.write(chunk.encode())
        if delay_s:
            await asyncio.sleep(delay_s)
    await response.write_eof()
    return response
