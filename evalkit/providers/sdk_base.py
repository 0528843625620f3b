"""What the providers built on a vendor's SDK share (anthropic, gemini): the operational settings,
the limiter and retry options, the credentials check, one attempt per `complete()` with its
latency, and the two answers that stop a run, refused credentials and a model the API does not
know. A subclass supplies the SDK client (`_sdk`), one attempt (`_attempt`) and the mapping of the
SDK's exceptions (`_failure`, using `_refused` and `_no_such_model`).

A model the API does not know (HTTP 404) raises `ModelNotFoundError` (exit 2), naming the provider
and the model: every request to it would fail the same way. So that a run sends it once, not once
per request in flight, the first request to each model goes alone (`FirstCall`); the others wait
for its answer, then go together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from evalkit._util import secrets
from evalkit.errors import AuthenticationError, EvalkitError, ModelNotFoundError
from evalkit.providers.base import Provider, RateLimited, Retry, RetryPolicy
from evalkit.providers.extras import require
from evalkit.spec.config import env_secret
from evalkit.tools.wire import restore_names
from evalkit.types import Completion, Request

OPERATIONAL = frozenset(
    {"timeout_s", "max_attempts", "backoff_base_s", "backoff_max_s", "retry_after_cap_s", "api_key_env"}
)


class SdkSettings(BaseModel):
    """The settings every SDK-backed provider has (a subclass adds `base_url`, `api_key_env`, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # the model id, e.g. claude-sonnet-5-5 or gemini-3.5-flash (a variant's `model:` wins)
    model: str | None = None
    stream: bool = False  # stream the answer to measure time to first token
    timeout_s: float = Field(default=120.0, gt=0)  # seconds one request may take
    # tries per request on a retryable error (429, 5xx, overloaded)
    max_attempts: int = Field(default=6, ge=1)
    backoff_base_s: float = Field(default=0.5, ge=0)  # first wait between tries; it doubles each time
    backoff_max_s: float = Field(default=30.0, ge=0)  # longest wait between tries
    # a server asking to wait longer than this makes the answer an error
    retry_after_cap_s: float = Field(default=120.0, ge=0)


S = TypeVar("S", bound=SdkSettings)
T = TypeVar("T")


class FirstCall:
    """Per model, the first request goes alone and the others wait for its answer: a model the
    API does not know is then asked once, however many requests are in flight."""

    def __init__(self) -> None:
        self._answered: dict[str, asyncio.Event] = {}

    def settled(self, model: str) -> bool:
        """Whether the model's first request has been answered: the others then go straight
        (no guard around them: one fewer coroutine per request)."""
        event = self._answered.get(model)
        return event is not None and event.is_set()

    async def guard(self, model: str, call: Callable[[], Awaitable[T]]) -> T:
        event = self._answered.get(model)
        if event is not None:
            await event.wait()
            return await call()
        self._answered[model] = event = asyncio.Event()
        try:
            return await call()
        finally:
            event.set()


class SdkProvider(Provider[S]):
    """A provider on a vendor's SDK: one attempt per `complete()`, the SDK's own retries off."""

    type_name: ClassVar[str]  # the `type:` users write
    api_name: ClassVar[str]  # how errors name the API ("the Anthropic API")
    sdk_module: ClassVar[str]  # what `check()` requires installed
    supports_tools = True
    operational_settings = OPERATIONAL

    def __init__(self, name: str, settings: S):
        super().__init__(name, settings)
        self._key: str | None = None
        self._client: Any = None
        self._auth_failure: AuthenticationError | None = None
        self._missing_model: ModelNotFoundError | None = None
        self._first = FirstCall()

    # -- identity ---------------------------------------------------------------------------

    def connection_key(self) -> str:
        return f"{self.type_name}:{secrets.redact_url(self.base_url())}"

    def base_url(self) -> str:
        return str(getattr(self.settings, "base_url", ""))

    def limiter_options(self) -> dict[str, Any]:
        return {"adaptive": True, "cooldown_s": max(self.settings.backoff_base_s, 0.05)}

    def retry_policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(s.max_attempts, s.backoff_base_s, s.backoff_max_s)

    # -- lifecycle --------------------------------------------------------------------------

    def check(self) -> None:
        require(
            self.sdk_module, self.extra or self.type_name, f"provider '{self.name}' (type: {self.type_name})"
        )
        self._credentials()
        secrets.register_url(self.base_url(), f"provider '{self.name}' base_url")

    def _credentials(self) -> None:
        """The API key from the environment variable the settings name (never from the file)."""
        var = str(getattr(self.settings, "api_key_env", ""))
        self._key = env_secret(var, what=f"provider '{self.name}' (api_key_env)")
        secrets.register(self._key, f"the key in {var} (provider '{self.name}')")

    def _sdk(self) -> Any:
        raise NotImplementedError

    async def start(self) -> None:
        """Import the SDK (seconds: its type modules are many) before the first request is timed."""
        self._sdk()

    # -- one attempt ------------------------------------------------------------------------

    async def complete(self, request: Request) -> Completion:
        model = self.model_name(request) or ""
        if self._first.settled(model):
            return await self._complete(request, model)
        return await self._first.guard(model, lambda: self._complete(request, model))

    async def _complete(self, request: Request, model: str) -> Completion:
        if self._auth_failure is not None:  # once refused, send nothing more
            raise self._auth_failure
        if self._missing_model is not None:
            raise self._missing_model
        self._sdk()  # created before the clock starts (start() has done it in a run)
        started = time.perf_counter()
        try:
            completion = await self._attempt(request, model, started)
        except (Retry, EvalkitError):
            raise
        except Exception as exc:  # one odd response is one error result, never a dead run
            return self._failure(exc, model)
        completion.latency_ms = (time.perf_counter() - started) * 1000.0
        if completion.tool_calls is not None:  # most answers call no tool: nothing to rename
            completion.tool_calls = restore_names(completion.tool_calls, request.params.tools)
        return completion

    async def _attempt(self, request: Request, model: str, started: float) -> Completion:
        raise NotImplementedError

    def _failure(self, exc: Exception, model: str) -> Completion:
        """An SDK exception as evalkit's outcome: raise to stop or retry, else one error result."""
        raise NotImplementedError

    def _refused(self, status: str, detail: str) -> AuthenticationError:
        """Credentials refused: this and every later request stop the run (exit 3)."""
        self._auth_failure = AuthenticationError(
            f"provider '{self.name}' at {secrets.redact_url(self.base_url())} refused the "
            f"credentials (HTTP {status}): {detail}"
        )
        return self._auth_failure

    def _no_such_model(self, model: str, detail: str) -> ModelNotFoundError:
        """The API does not know the model: the run stops here (exit 2)."""
        self._missing_model = ModelNotFoundError(
            f"provider '{self.name}': {self.api_name} does not know model '{model}' (HTTP 404): {detail}"
            " (check the model name in evalkit.yaml)"
        )
        return self._missing_model

    def _retry(self, label: str, detail: str, delay: float | None, *, limited: bool, what: str) -> Completion:
        """Raise what the framework retries (`RateLimited` when the server said slow down), or,
        when the server asks to wait longer than `retry_after_cap_s`, one error result."""
        cap = self.settings.retry_after_cap_s
        if delay is not None and delay > cap:
            return Completion(error=f"{label} with {what} of {delay:.0f}s, beyond the {cap:g}s cap")
        raise (RateLimited if limited else Retry)(f"{label}: {detail}", delay) from None
