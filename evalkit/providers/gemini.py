"""Google's Gemini models through the official `google-genai` SDK (pip install 'evalkit[gemini]').

The SDK carries the protocol (the key in its `x-goog-api-key` header, never in a URL; the
stream). evalkit keeps one attempt per `complete()` (the SDK's retries are off), the limiter,
the cache and the mapping (gemini_wire.py). A safety block is an error result naming its reason,
never an empty answer scored as one.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evalkit._util import secrets
from evalkit.errors import AuthenticationError, EvalkitError
from evalkit.providers.base import Provider, RateLimited, Retry, RetryPolicy
from evalkit.providers.extras import require
from evalkit.spec.config import env_secret
from evalkit.tools.wire import restore_names
from evalkit.types import Completion, Request

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class GeminiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    model: str | None = None
    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = "GEMINI_API_KEY"  # the key is read from this variable, never from the file
    api_version: str = "v1beta"
    thinking_budget: int | None = Field(default=None, ge=0)  # tokens; 0 turns thinking off
    stream: bool = False
    timeout_s: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    retry_after_cap_s: float = Field(default=120.0, ge=0)


class GeminiProvider(Provider[GeminiSettings]):
    """Gemini through the Gen AI API: function calling, thinking, cached-content tokens."""

    settings_model = GeminiSettings
    extra = "gemini"
    supports_tools = True
    operational_settings = frozenset(
        {"timeout_s", "max_attempts", "backoff_base_s", "backoff_max_s", "retry_after_cap_s", "api_key_env"}
    )

    def __init__(self, name: str, settings: GeminiSettings):
        super().__init__(name, settings)
        self._key: str | None = None
        self._client: Any = None
        self._auth_failure: AuthenticationError | None = None
        self._missing_models: dict[str, str] = {}

    def connection_key(self) -> str:
        return f"gemini:{secrets.redact_url(self.settings.base_url)}"

    def limiter_options(self) -> dict[str, Any]:
        return {"adaptive": True, "cooldown_s": max(self.settings.backoff_base_s, 0.05)}

    def retry_policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(s.max_attempts, s.backoff_base_s, s.backoff_max_s)

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "name": self.name,
            "type": "gemini",
            "base_url": secrets.redact_url(s.base_url),
            "model": s.model,
        }

    def price_vendor(self) -> str | None:
        return "google"

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        s = self.settings
        return {
            "type": "gemini",
            "base_url": secrets.redact_url(s.base_url),
            "model": self.model_name(request),
            "thinking_budget": s.thinking_budget,
        }

    def check(self) -> None:
        require("google.genai", "gemini", f"provider '{self.name}' (type: gemini)")
        self._key = env_secret(self.settings.api_key_env, what=f"provider '{self.name}' (api_key_env)")
        secrets.register(self._key, f"the key in {self.settings.api_key_env} (provider '{self.name}')")
        secrets.register_url(self.settings.base_url, f"provider '{self.name}' base_url")

    def _sdk(self) -> Any:
        if self._client is None:
            from google import genai
            from google.genai import types

            if self._key is None:
                self.check()
            options = types.HttpOptions(
                base_url=self.settings.base_url,
                api_version=self.settings.api_version,
                timeout=int(self.settings.timeout_s * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),  # the framework retries
            )
            self._client = genai.Client(api_key=self._key, http_options=options)
        return self._client

    async def start(self) -> None:
        self._sdk()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()
            self._client = None

    async def complete(self, request: Request) -> Completion:
        if self._auth_failure is not None:
            raise self._auth_failure
        model = self.model_name(request) or ""
        if model in self._missing_models:
            return Completion(error=self._missing_models[model])
        client = self._sdk()
        started = time.perf_counter()
        try:
            completion = await self._attempt(client, request, model, started)
        except (Retry, EvalkitError):
            raise
        except Exception as exc:
            return self._failure(exc, model)
        completion.latency_ms = (time.perf_counter() - started) * 1000.0
        completion.tool_calls = restore_names(completion.tool_calls, request.params.tools)
        return completion

    async def _attempt(self, client: Any, request: Request, model: str, started: float) -> Completion:
        from google.genai import types

        from evalkit.providers import gemini_wire as wire

        system, raw_contents = wire.contents_to_wire(request.messages)
        raw = wire.config_to_wire(request.params, system, self.settings.thinking_budget)
        raw.update(request.params.extra_body or {})
        config = types.GenerateContentConfig.model_validate(raw)  # typed: the SDK writes its wire names
        contents = [types.Content.model_validate(c) for c in raw_contents]
        assembled = wire.Assembled(request.params.tools)
        if not self.settings.stream:
            assembled.add(
                await client.aio.models.generate_content(model=model, contents=contents, config=config)
            )
            return assembled.completion()
        ttft: float | None = None
        stream = await client.aio.models.generate_content_stream(
            model=model, contents=contents, config=config
        )
        async for chunk in stream:
            if assembled.add(chunk) and ttft is None:
                ttft = (time.perf_counter() - started) * 1000.0
        completion = assembled.completion()
        completion.ttft_ms = ttft
        return completion

    def _failure(self, exc: Exception, model: str) -> Completion:
        from google.genai import errors

        if not isinstance(exc, errors.APIError):
            name = type(exc).__name__
            if "Timeout" in name:
                raise Retry(f"timed out after {self.settings.timeout_s:g}s") from None
            if "Connect" in name or isinstance(exc, OSError):
                raise Retry(f"connection error ({name})") from None
            return Completion(error=f"could not read the response ({secrets.scrub(f'{name}: {exc}')[:300]})")
        code, status = int(exc.code or 0), str(exc.status or "")
        detail = secrets.scrub(" ".join(str(exc.message or "").split()))[:200]
        if code in (401, 403) or "API key not valid" in detail or "API_KEY_INVALID" in str(exc.details):
            self._auth_failure = AuthenticationError(
                f"provider '{self.name}' at {secrets.redact_url(self.settings.base_url)} refused the "
                f"credentials (HTTP {code} {status}): {detail}"
            )
            raise self._auth_failure
        if code == 404:
            message = f"the Gemini API does not know model '{model}' (HTTP 404): {detail}"
            self._missing_models[model] = message
            return Completion(error=message)
        if code in RETRY_STATUS:
            delay = _retry_delay(exc.details)
            if delay is not None and delay > self.settings.retry_after_cap_s:
                cap = self.settings.retry_after_cap_s
                return Completion(
                    error=f"HTTP {code} with a retry delay of {delay:.0f}s, beyond the {cap:g}s cap"
                )
            raise (RateLimited if code == 429 else Retry)(f"HTTP {code} {status}: {detail}", delay) from None
        return Completion(error=f"HTTP {code} {status}: {detail}")


def _retry_delay(details: Any) -> float | None:
    """The `retryDelay` of a google.rpc.RetryInfo in an error body ("30s")."""
    error = details.get("error") if isinstance(details, dict) else None
    for item in (error or {}).get("details") or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = re.fullmatch(r"([0-9.]+)s", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
