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

from pydantic import Field

from evalkit._util import secrets
from evalkit._util.weburl import WebUrl
from evalkit.providers.base import Retry
from evalkit.providers.openai_compat import parse_retry_after
from evalkit.providers.sdk_base import OPERATIONAL, SdkProvider, SdkSettings
from evalkit.types import Completion, Request

DEFAULT_BASE_URL = "https://api.anthropic.com"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}  # 529: overloaded_error


class AnthropicSettings(SdkSettings):
    base_url: WebUrl = DEFAULT_BASE_URL  # the API's address (a proxy or gateway)
    api_key_env: str = "ANTHROPIC_API_KEY"  # the key is read from this variable, never from the file
    auth: Literal["bearer", "x-api-key"] = "bearer"  # x-api-key: API versions before 2026-10-21
    api_version: str | None = None  # the anthropic-version header; None: the SDK's current one
    # the Messages API requires max_tokens: this when a suite sets none (finish_reason `length`
    # and the truncation rate show when it cuts answers short)
    max_tokens: int = Field(default=4096, gt=0)
    thinking_budget: int | None = Field(default=None, ge=1024)  # extended thinking, in tokens
    # the current API version takes no temperature/top_p: `send` passes them (older versions, models)
    sampling: Literal["omit", "send"] = "omit"


class AnthropicProvider(SdkProvider[AnthropicSettings]):
    """Claude models through the Messages API: tools, extended thinking, prompt-cache usage."""

    settings_model = AnthropicSettings
    extra = "anthropic"
    type_name = "anthropic"
    api_name = "the Anthropic API"
    sdk_module = "anthropic"
    operational_settings = OPERATIONAL | {"auth"}

    # -- identity ---------------------------------------------------------------------------

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

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # -- one attempt ------------------------------------------------------------------------

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
            raise self._refused(str(status), detail)
        if status == 404 or kind == "not_found_error":
            raise self._no_such_model(model, detail)
        if status in RETRY_STATUS or kind in ("overloaded_error", "api_error", "rate_limit_error"):
            retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
            label = f"HTTP {status}" if status != 200 else "an error event mid-stream"
            limited = status == 429 or kind == "rate_limit_error"
            return self._retry(label, detail, retry_after, limited=limited, what="a retry-after")
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
