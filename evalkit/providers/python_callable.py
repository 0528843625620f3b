"""Custom Python: any function `(messages, params) -> str | dict` (sync or async) as a provider."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from evalkit._util.signals import callee_exit, signals_delivered
from evalkit.providers.base import Provider, Retry
from evalkit.registry import import_object
from evalkit.tools.trace import is_trace, trace_completion
from evalkit.types import Completion, Request, Usage


class PythonSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    callable: str  # "package.module:function"
    options: dict[str, Any] = {}  # passed to the function as keyword `options`


class PythonCallableProvider(Provider[PythonSettings]):
    """Calls the function once per request (threads for sync functions), bounded by concurrency.

    The function gets `messages` (list of {role, content}), `params` (dict) and `options`;
    it returns the output text, or a dict with `text` and optionally `usage`,
    `finish_reason`, `model_version`, or a trace: a dict with `output` and `steps`
    (evalkit.tools.trace). An exception becomes an error result for that case, except
    `evalkit.RateLimited` / `evalkit.Retry`, which the framework backs off and retries.
    """

    supports_tools = True
    settings_model = PythonSettings

    def __init__(self, name: str, settings: PythonSettings):
        super().__init__(name, settings)
        self._fn: Callable[..., Any] | None = None

    def check(self) -> None:
        self._fn = import_object(self.settings.callable, what=f"provider '{self.name}' callable")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": "python", "callable": self.settings.callable}

    async def complete(self, request: Request) -> Completion:
        if self._fn is None:
            self.check()
        fn = self._fn
        assert fn is not None
        messages = [m.model_dump(exclude_none=True) for m in request.messages]
        params = request.params.model_dump(exclude_none=True)
        started = time.perf_counter()
        delivered = signals_delivered()
        try:
            if inspect.iscoroutinefunction(fn):
                result = await fn(messages=messages, params=params, options=self.settings.options)
            else:
                result = await asyncio.to_thread(
                    fn, messages=messages, params=params, options=self.settings.options
                )
        except Retry:  # the function may say so: evalkit.RateLimited(reason, retry_after)
            raise
        except Exception as exc:
            return Completion(error=f"{type(exc).__name__}: {exc}")
        except (SystemExit, KeyboardInterrupt) as exc:  # user code never decides evalkit's exit code
            if not callee_exit(exc, delivered):
                raise
            return Completion(error=f"the callable raised {type(exc).__name__}({exc}): it cannot end the run")
        latency = (time.perf_counter() - started) * 1000.0
        try:
            return _completion(result, request.case_id, latency)
        except ValidationError as exc:  # a returned value evalkit cannot store: this case's error
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"]) or "result"
            return Completion(error=f"callable returned an invalid {where}: {err['msg']}")


def _completion(result: Any, case_id: str, latency: float) -> Completion:
    if is_trace(result):
        return trace_completion(result, case_id, latency)
    if isinstance(result, str):
        return Completion(text=result, finish_reason="stop", latency_ms=latency)
    if isinstance(result, dict) and isinstance(result.get("text"), str):
        return Completion(
            text=result["text"],
            finish_reason=result.get("finish_reason", "stop"),
            usage=Usage.model_validate(result.get("usage") or {}),
            model_version=result.get("model_version"),
            latency_ms=latency,
        )
    return Completion(
        error=f"callable returned {type(result).__name__}, expected str, dict with 'text' "
        "or a trace (dict with 'output' and 'steps')"
    )
