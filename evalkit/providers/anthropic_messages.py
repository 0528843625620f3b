"""Anthropic's Messages API through the official `anthropic` SDK (pip install 'evalkit[anthropic]').

The SDK carries the protocol: the API version header, its authentication (the current version
sends the key as `Authorization: Bearer`, `auth: x-api-key` sends it the older way), the event
stream and its error events. evalkit keeps what is its own: one attempt per `complete()` (the
SDK's retries are off; the framework retries `Retry`, and `RateLimited` carries the server's
retry-after), the limiter, the cache, and the mapping to evalkit's messages, tool calls, usage
and finish reasons (anthropic_wire.py).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit._util import secrets
from evalkit.errors import AuthenticationError, EvalkitError
from evalkit.providers.base import Provider, RateLimited, Retry, RetryPolicy
from evalkit.providers.extras import require
from evalkit.providers.openai_compat import parse_retry_after
from evalkit.spec.config import env_secret
from evalkit.tools.wire import restore_names
from evalkit.types import Completion, Request

DEFAULT_BASE_URL = "https://api.anthropic.com"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}  # 529: overloaded_error


class AnthropicSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    model: str | None = None
    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = "ANTHROPIC_API_KEY"  # the key is read from this variable, never from the file
    auth: Literal["bearer", "x-api-key"] = "bearer"  # x-api-key: API versions before 2026-10-21
    api_version: str | None = None  # the anthropic-version header; None: the SDK's current one
    # the Messages API requires max_tokens: this when a suite sets none (finish_reason `length`
    # and the truncation rate show when it cuts answers short)
    max_tokens: int = Field(default=4096, gt=0)
    thinking_budget: int | None = Field(default=None, ge=1024)  # extended thinking, in tokens
    # the current API version takes no temperature/top_p: `send` passes them (older versions, models)
    sampling: Literal["omit", "send"] = "omit"
    stream: bool = False  # stream events to measure time to first token
    timeout_s: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    retry_after_cap_s: float = Field(default=120.0, ge=0)


class AnthropicProvider(Provider[AnthropicSettings]):
    """Claude models through the Messages API: tools, extended thinking, prompt-cache usage."""

    settings_model = AnthropicSettings
    extra = "anthropic"
    supports_tools = True
    operational_settings = frozenset(
        {
            "timeout_s",
            "max_attempts",
            "backoff_base_s",
            "backoff_max_s",
            "retry_after_cap_s",
            "api_key_env",
            "auth",
        }
    )

    def __init__(self, name: str, settings: AnthropicSettings):
        super().__init__(name, settings)
        self._key: str | None = None
        self._client: Any = None
        self._auth_failure: AuthenticationError | None = None
        self._missing_models: dict[str, str] = {}  # model → the API's 404, asked once

    # -- identity ---------------------------------------------------------------------------

    def connection_key(self) -> str:
        return f"anthropic:{secrets.redact_url(self.settings.base_url)}"

    def limiter_options(self) -> dict[str, Any]:
        return {"adaptive": True, "cooldown_s": max(self.settings.backoff_base_s, 0.05)}

    def retry_policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(s.max_attempts, s.backoff_base_s, s.backoff_max_s)

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "name": self.name,
            "type": "anthropic",
            "base_url": secrets.redact_url(s.base_url),
            "model": s.model,
            "thinking_budget": s.thinking_budget,
        }

    def price_vendor(self) -> str | None:
        return "anthropic"

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        s = self.settings
        return {
            "type": "anthropic",
            "base_url": secrets.redact_url(s.base_url),
            "model": self.model_name(request),
            "max_tokens": s.max_tokens,
            "thinking_budget": s.thinking_budget,
            "sampling": s.sampling,
            "api_version": s.api_version,
        }

    def param_notes(self, request: Request) -> list[str]:
        from evalkit.providers.anthropic_wire import sampling

        s = self.settings
        _, dropped = sampling(
            request.params, thinking=s.thinking_budget is not None, send=s.sampling == "send"
        )
        return [f"not sent: {d}" for d in dropped]

    # -- lifecycle --------------------------------------------------------------------------

    def check(self) -> None:
        require("anthropic", "anthropic", f"provider '{self.name}' (type: anthropic)")
        self._key = env_secret(self.settings.api_key_env, what=f"provider '{self.name}' (api_key_env)")
        secrets.register(self._key, f"the key in {self.settings.api_key_env} (provider '{self.name}')")
        secrets.register_url(self.settings.base_url, f"provider '{self.name}' base_url")

    def _sdk(self) -> Any:
        if self._client is None:
            import anthropic

            if self._key is None:
                self.check()
            headers: dict[str, Any] = {}
            if self.settings.auth == "x-api-key":
                headers = {"x-api-key": self._key, "Authorization": anthropic.omit}
            if self.settings.api_version is not None:
                headers["anthropic-version"] = self.settings.api_version
            self._client = anthropic.AsyncAnthropic(
                api_key=self._key,
                base_url=self.settings.base_url,
                max_retries=0,  # the framework retries, with the server's retry-after
                timeout=self.settings.timeout_s,
                default_headers=headers or None,
                open_telemetry=False,
            )
        return self._client

    async def start(self) -> None:
        """Import the SDK (seconds: its type modules are many) before the first request is timed."""
        self._sdk()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- one attempt ------------------------------------------------------------------------

    async def complete(self, request: Request) -> Completion:
        if self._auth_failure is not None:
            raise self._auth_failure
        model = self.model_name(request) or ""
        if model in self._missing_models:
            return Completion(error=self._missing_models[model])
        self._sdk()  # created before the clock starts (start() has done it in a run)
        started = time.perf_counter()
        try:
            completion = await self._attempt(request, model, started)
        except (Retry, EvalkitError):
            raise
        except Exception as exc:
            return self._failure(exc, model)
        completion.latency_ms = (time.perf_counter() - started) * 1000.0
        completion.tool_calls = restore_names(completion.tool_calls, request.params.tools)
        return completion

    def _body(self, request: Request, model: str) -> dict[str, Any]:
        from evalkit.providers import anthropic_wire as wire

        p, s = request.params, self.settings
        system, messages = wire.messages_to_wire(request.messages)
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": p.max_tokens or s.max_tokens,
        }
        if system is not None:
            body["system"] = system
        extra = wire.sampling(p, thinking=s.thinking_budget is not None, send=s.sampling == "send")[0]
        if p.stop:
            body["stop_sequences"] = list(p.stop)
        if s.thinking_budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": s.thinking_budget}
            body["max_tokens"] = max(body["max_tokens"], s.thinking_budget + 1)
        if p.tools:
            body["tools"] = wire.tools_to_wire(p.tools)
        if p.tool_choice is not None and (choice := wire.tool_choice_to_wire(p.tool_choice)) is not None:
            body["tool_choice"] = choice
        extra.update(p.extra_body or {})  # what the SDK's signature lacks travels in extra_body
        if extra:
            body["extra_body"] = extra
        return body

    async def _attempt(self, request: Request, model: str, started: float) -> Completion:
        from evalkit.providers.anthropic_wire import completion_of

        client = self._sdk()
        body = self._body(request, model)
        if not self.settings.stream:
            message = await client.messages.create(**body)
            return completion_of(message, request.params.tools)
        ttft: float | None = None
        async with client.messages.stream(**body) as stream:
            async for event in stream:
                if ttft is None and event.type == "content_block_delta" and event.delta.type == "text_delta":
                    ttft = (time.perf_counter() - started) * 1000.0
            message = await stream.get_final_message()
        completion = completion_of(message, request.params.tools)
        completion.ttft_ms = ttft
        return completion

    def _failure(self, exc: Exception, model: str) -> Completion:
        """An SDK exception as evalkit's outcome: raise to stop or retry, else one error result."""
        import anthropic

        if isinstance(exc, anthropic.APITimeoutError):
            raise Retry(f"timed out after {self.settings.timeout_s:g}s") from None
        if isinstance(exc, anthropic.APIConnectionError):
            raise Retry(f"connection error ({type(exc.__cause__ or exc).__name__})") from None
        if not isinstance(exc, anthropic.APIStatusError):
            detail = secrets.scrub(f"{type(exc).__name__}: {exc}")[:300]
            return Completion(error=f"could not read the response ({detail})")
        status, detail = exc.status_code, _detail(exc)
        kind = _error_type(exc)
        if status in (401, 403):
            where = secrets.redact_url(self.settings.base_url)
            self._auth_failure = AuthenticationError(
                f"provider '{self.name}' at {where} refused the credentials (HTTP {status}): {detail}"
            )
            raise self._auth_failure
        if status == 404 or kind == "not_found_error":
            message = f"the Anthropic API does not know model '{model}' (HTTP 404): {detail}"
            self._missing_models[model] = message
            return Completion(error=message)
        if status in RETRY_STATUS or kind in ("overloaded_error", "api_error", "rate_limit_error"):
            retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
            if retry_after is not None and retry_after > self.settings.retry_after_cap_s:
                cap = self.settings.retry_after_cap_s
                return Completion(
                    error=f"HTTP {status} with retry-after {retry_after:.0f}s, beyond the {cap:g}s cap"
                )
            label = f"HTTP {status}" if status != 200 else "an error event mid-stream"
            limited = status == 429 or kind == "rate_limit_error"
            raise (RateLimited if limited else Retry)(f"{label}: {detail}", retry_after) from None
        return Completion(error=f"HTTP {status}: {detail}")


def _error_type(exc: Any) -> str | None:
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else None


def _detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    text = str(message) if message else str(getattr(exc, "message", exc))
    return secrets.scrub(" ".join(secrets.scrub(text).split()))[:200]
