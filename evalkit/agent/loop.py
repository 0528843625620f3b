"""The agent loop evalkit runs: call the model, run the tools it asks for (Python callables),
append their results, repeat until a final answer or `max_steps`. Every step is recorded;
a tool that raises or times out is a step with an error, never a crash.

`AgentProvider` wraps the variant's provider: requests without `agent` settings pass straight
through, the others run their loops concurrently (bounded by the provider's concurrency), each
model call going through the wrapped provider's own `generate` (its retries and rate limits)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from pydantic import ValidationError

from evalkit._util.signals import callee_exit, signals_delivered
from evalkit.providers.base import DEFAULT_CONCURRENCY, Provider, complete_each
from evalkit.providers.service import Connected
from evalkit.registry import import_object
from evalkit.tools.prompted import prompted
from evalkit.types import AgentSettings, Completion, Message, Request, Step, ToolCall, Usage

CallModel = Callable[[Request], Awaitable[Completion]]
# the price of one model call's usage (None: no pricing for this provider and model)
PriceOf = Callable[[Request, Usage], float | None]
MAX_STEPS_REACHED = "max_steps reached without a final answer"
# characters of a tool's result (as the text the model gets) stored in the trace and sent back:
# a 50 MB result was stored whole and re-sent with every later model call
TOOL_OUTPUT_LIMIT = 20_000


def bind_tools(agent: AgentSettings, where: str) -> dict[str, Callable[..., Any]]:
    """Import every bound tool now (a bad path is a UserInputError before any model call)."""
    return {name: import_object(path, what=f"{where}: tool '{name}'") for name, path in agent.tools.items()}


Bindings = dict[tuple[tuple[str, str], ...], dict[str, Callable[..., Any]]]


def binding_key(agent: AgentSettings) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(agent.tools.items()))


class _Trace:
    def __init__(self, price: PriceOf | None = None) -> None:
        self.price = price
        self.steps: list[Step] = []
        self.calls: list[ToolCall] = []
        self.usage = Usage(input_tokens=0, output_tokens=0)

    def next_id(self) -> str:
        return f"s{len(self.steps) + 1}"

    def model_step(self, request: Request, completion: Completion) -> None:
        u = completion.usage
        messages = len(request.messages)
        cost = None
        if self.price is not None and completion.error is None:
            cost = self.price(request, u)
        self.usage = self.usage.plus(u)
        tokens = (
            None
            if u.input_tokens is None and u.output_tokens is None
            else (u.input_tokens or 0) + (u.output_tokens or 0)
        )
        output: Any = completion.text
        if completion.tool_calls:
            output = [
                {"name": c.name, "arguments": c.arguments if c.raw_arguments is None else c.raw_arguments}
                for c in completion.tool_calls
            ]
        self.steps.append(
            Step(
                id=self.next_id(),
                type="llm",
                name="model",
                input={"messages": messages},
                output=output,
                latency_ms=completion.latency_ms,
                tokens=tokens,
                cost_usd=cost,
                error=completion.error,
            )
        )


async def run_loop(
    request: Request,
    agent: AgentSettings,
    tools: dict[str, Callable[..., Any]],
    call_model: CallModel,
    price: PriceOf | None = None,
) -> Completion:
    """One case's loop. The completion's text is the final answer, its steps the trace."""
    started = time.perf_counter()
    trace = _Trace(price)
    messages = list(request.messages)
    final: Completion | None = None
    for n in range(agent.max_steps):
        step_request = request.model_copy(
            update={"messages": tuple(messages), "key": f"{request.key}#{n + 1}", "agent": None}
        )
        completion = await call_model(step_request)
        trace.model_step(step_request, completion)
        if completion.error is not None:
            final = Completion(error=f"step {trace.steps[-1].id} (model): {completion.error}")
            break
        if not completion.tool_calls:
            final = completion.model_copy(update={"tool_calls": None})
            break
        trace.calls.extend(completion.tool_calls)
        messages.append(
            Message(role="assistant", content=completion.text or "", tool_calls=tuple(completion.tool_calls))
        )
        results = await asyncio.gather(
            *(_run_tool(c, tools, agent.tool_timeout_s) for c in completion.tool_calls)
        )
        for call, (step_result, content) in zip(completion.tool_calls, results, strict=True):
            trace.steps.append(step_result.model_copy(update={"id": trace.next_id()}))
            messages.append(Message(role="tool", content=content, tool_call_id=call.id))
    if final is None:
        final = Completion(text="", finish_reason="max_steps")
        trace.steps.append(Step(id=trace.next_id(), type="router", name="max_steps", error=MAX_STEPS_REACHED))
    return final.model_copy(
        update={
            "steps": trace.steps,
            "tool_calls": trace.calls or None,
            "usage": trace.usage,
            "latency_ms": (time.perf_counter() - started) * 1000.0,
            "ttft_ms": None,
            "cached": False,
        }
    )


async def _run_tool(
    call: ToolCall, tools: dict[str, Callable[..., Any]], timeout_s: float
) -> tuple[Step, str]:
    """Run one requested tool: (its step, the content of the tool message sent back)."""
    arguments = call.arguments if call.raw_arguments is None else call.raw_arguments
    fn = tools.get(call.name)
    error: str | None = call.error
    if error is None and fn is None:
        error = f"tool '{call.name}' is not declared"
    if error is None and not isinstance(call.arguments, dict):
        error = "arguments are not a JSON object"
    output: Any = None
    started = time.perf_counter()
    if error is None and fn is not None:
        output, error = await _call_tool(fn, call.arguments, timeout_s)
    latency = (time.perf_counter() - started) * 1000.0
    text = _as_text(output) if error is None else ""
    if len(text) > TOOL_OUTPUT_LIMIT:  # kept and re-sent on every later step: cut, and said so
        output = text = (
            f"{text[:TOOL_OUTPUT_LIMIT]}… [{len(text) - TOOL_OUTPUT_LIMIT:,} more characters not shown]"
        )
    try:
        step = Step(
            id="",
            type="tool",
            name=call.name,
            input=arguments,
            output=output,
            latency_ms=latency,
            error=error,
        )
    except ValidationError:  # a value JSON cannot store (an object, a set of objects): that step's error
        output, error = None, f"returned a {type(output).__name__}, which JSON cannot store"
        step = Step(id="", type="tool", name=call.name, input=arguments, latency_ms=latency, error=error)
    content = f"error: {error}" if error is not None else text
    return step, content


async def _call_tool(fn: Callable[..., Any], arguments: Any, timeout_s: float) -> tuple[Any, str | None]:
    """(output, error) of one tool run: a raise, a timeout, or a `sys.exit()` / KeyboardInterrupt
    in the tool (not a real Ctrl-C) is the step's error, never evalkit's exit."""
    delivered = signals_delivered()
    try:
        async with asyncio.timeout(timeout_s):
            if inspect.iscoroutinefunction(fn):
                return await fn(**arguments), None
            return await _in_daemon_thread(fn, arguments), None
    except TimeoutError:
        return None, f"timed out after {timeout_s:g}s"
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    except (SystemExit, KeyboardInterrupt) as exc:
        if not callee_exit(exc, delivered):
            raise
        return None, f"the tool raised {type(exc).__name__}({exc}): a tool cannot end the run"


async def _in_daemon_thread(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Run a sync tool in a daemon thread: one that times out is abandoned, and neither the
    event loop nor the end of the run waits for it (a thread pool would be joined)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            (future.set_result if ok else future.set_exception)(value)

    def work() -> None:
        try:
            outcome: tuple[bool, Any] = (True, fn(**kwargs))
        except BaseException as exc:  # delivered to the awaiting loop, recorded as the step's error
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits for this tool
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, daemon=True, name="evalkit-tool").start()
    return await future


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


class AgentProvider(Provider[Any]):
    """A provider that runs the agent loop for requests that carry `agent` settings; the others
    go to the provider it wraps. Both stream out through the one channel as they finish."""

    def __init__(self, inner: Provider[Any], bindings: Bindings, price: PriceOf | None = None):
        super().__init__(inner.name, inner.settings)
        self.inner = inner  # a per-request provider comes behind its connection (service.Connected)
        # the wrapped connection's limit bounds the loops too (each model step also takes a slot)
        self.loops = inner.limiter.maximum if isinstance(inner, Connected) else DEFAULT_CONCURRENCY
        self.price = price  # prices each model step (the result's cost is priced by the runner)
        self.bindings = bindings  # the imported tools of each agent setting

    def connection_key(self) -> str:
        return self.inner.connection_key()

    async def generate(self, batch: Sequence[Request]) -> AsyncIterator[tuple[Request, Completion]]:
        plain = [r for r in batch if r.agent is None]
        loops = [r for r in batch if r.agent is not None]
        streams: list[AsyncIterator[tuple[Request, Completion]]] = []
        if plain:
            streams.append(self.inner.generate(plain))
        if loops:
            streams.append(complete_each(loops, self._run_loop, self.loops))
        async for pair in _merged(streams):
            yield pair

    async def _run_loop(self, request: Request) -> Completion:
        assert request.agent is not None
        tools = self.bindings[binding_key(request.agent)]
        call = prompted(self._call_model) if request.agent.protocol == "prompt" else self._call_model
        return await run_loop(request, request.agent, tools, call, self.price)

    async def _call_model(self, request: Request) -> Completion:
        answer: Completion | None = None
        async for _, completion in self.inner.generate([request]):
            answer = answer or completion
        return answer or Completion(error="the provider returned no completion")

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    def model_name(self, request: Request) -> str | None:
        return self.inner.model_name(request)

    def price_vendor(self) -> str | None:
        return self.inner.price_vendor()

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        # a loop runs tools (which may read changing data): its answers are never cached
        return None if request.agent is not None else self.inner.cache_identity(request)

    async def start(self) -> None:
        await self.inner.start()

    def check(self) -> None:
        self.inner.check()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _merged(
    streams: Sequence[AsyncIterator[tuple[Request, Completion]]],
) -> AsyncIterator[tuple[Request, Completion]]:
    """Several channels as one, each pair yielded as soon as any channel has it."""
    if len(streams) == 1:
        async for pair in streams[0]:
            yield pair
        return
    out: asyncio.Queue[tuple[Request, Completion] | BaseException | None] = asyncio.Queue()

    async def drain(stream: AsyncIterator[tuple[Request, Completion]]) -> None:
        try:
            async for pair in stream:
                out.put_nowait(pair)
        except BaseException as exc:  # handed to the consumer, which raises it
            out.put_nowait(exc)
        finally:
            out.put_nowait(None)

    tasks = [asyncio.ensure_future(drain(s)) for s in streams]
    open_streams = len(tasks)
    try:
        while open_streams:
            item = await out.get()
            if item is None:
                open_streams -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
