"""Google's Gemini models through the official `google-genai` SDK (pip install 'evalkit[gemini]').

The SDK carries the protocol: the key in its `x-goog-api-key` header, never in a URL; the
stream; on Vertex AI (`vertexai: true`, gemini_vertex.py) the project's URL and the bearer
token. evalkit keeps one attempt per `complete()` (the SDK's retries are off), the limiter, the
cache and the mapping (gemini_wire.py). A safety block is an error result naming its reason,
never an empty answer scored as one.
"""

from __future__ import annotations

import re
import time
from typing import Any

from pydantic import Field, model_validator

from evalkit._util import secrets
from evalkit._util.weburl import WebUrl
from evalkit.providers.base import Retry
from evalkit.providers.gemini_vertex import Vertex
from evalkit.providers.sdk_base import OPERATIONAL, SdkProvider, SdkSettings
from evalkit.types import Completion, Request

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class GeminiSettings(SdkSettings):
    base_url: WebUrl | None = None  # None: the SDK's (the Gemini API, or Vertex AI's regional endpoint)
    api_key_env: str = "GEMINI_API_KEY"  # the key is read from this variable, never from the file
    api_version: str | None = None  # None: the SDK's (v1beta; v1beta1 on Vertex AI)
    thinking_budget: int | None = Field(default=None, ge=0)  # tokens; 0 turns thinking off
    # Vertex AI instead of the Gemini API: a Google Cloud project and location (else
    # GOOGLE_CLOUD_PROJECT / GOOGLE_CLOUD_LOCATION, else the credentials' project and `global`),
    # credentials from Google's standard chain (ADC) or an access token in `access_token_env`
    vertexai: bool = False
    # Vertex AI: the Google Cloud project (default: GOOGLE_CLOUD_PROJECT, else the credentials')
    project: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.:-]*$")
    # Vertex AI: the location, e.g. us-central1 (default: GOOGLE_CLOUD_LOCATION, else global)
    location: str | None = Field(default=None, pattern=r"^[a-z]+(-[a-z0-9]+)*$")
    # Vertex AI: the variable holding an access token, instead of Google's standard credentials
    access_token_env: str | None = None

    @model_validator(mode="after")
    def _vertex_only(self) -> GeminiSettings:
        stray = [k for k in ("project", "location", "access_token_env") if getattr(self, k) is not None]
        if stray and not self.vertexai:
            verb = "applies" if len(stray) == 1 else "apply"
            raise ValueError(f"{', '.join(stray)} {verb} to Vertex AI only: set vertexai: true")
        return self


class GeminiProvider(SdkProvider[GeminiSettings]):
    """Gemini through the Gen AI API: function calling, thinking, cached-content tokens."""

    settings_model = GeminiSettings
    extra = "gemini"
    type_name = "gemini"
    api_name = "the Gemini API"
    sdk_module = "google.genai"
    operational_settings = OPERATIONAL | {"access_token_env"}

    def __init__(self, name: str, settings: GeminiSettings):
        super().__init__(name, settings)
        self._vertex: Vertex | None = None

    def base_url(self) -> str:
        s = self.settings
        if s.base_url is not None:
            return s.base_url
        if s.vertexai:
            return (
                self._vertex.base_url() if self._vertex is not None else "https://aiplatform.googleapis.com"
            )
        return DEFAULT_BASE_URL

    def connection_key(self) -> str:
        """Vertex AI's quotas are per project and location: each is its own connection."""
        key = super().connection_key()
        s = self.settings
        return f"{key}:{s.project}/{s.location}" if s.vertexai else key

    def _credentials(self) -> None:
        s = self.settings
        if not s.vertexai:
            super()._credentials()
            return
        from evalkit.providers.gemini_vertex import resolve

        self._vertex = resolve(self.name, s.project, s.location, s.access_token_env)

    def describe(self) -> dict[str, Any]:
        s = self.settings
        out = {
            "name": self.name,
            "type": "gemini",
            "base_url": secrets.redact_url(self.base_url()),
            "model": s.model,
        }
        return {**out, **self._vertex_identity()}

    def _vertex_identity(self) -> dict[str, Any]:
        s = self.settings
        return {"vertexai": True, "project": s.project, "location": s.location} if s.vertexai else {}

    def price_vendor(self) -> str | None:
        return "google"

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        s = self.settings
        return {
            "type": "gemini",
            "base_url": secrets.redact_url(self.base_url()),
            "model": self.model_name(request),
            "thinking_budget": s.thinking_budget,
            **self._vertex_identity(),
        }

    def _sdk(self) -> Any:
        if self._client is None:
            from google import genai
            from google.genai import types

            s = self.settings
            if self._key is None and self._vertex is None:
                self.check()
            options = types.HttpOptions(
                base_url=s.base_url,
                api_version=s.api_version or (None if s.vertexai else "v1beta"),
                timeout=int(s.timeout_s * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),  # the framework retries
            )
            if self._vertex is not None:
                v = self._vertex
                self._client = genai.Client(
                    vertexai=True,
                    project=v.project,
                    location=v.location,
                    credentials=v.credentials,
                    http_options=options,
                )
            else:
                self._client = genai.Client(api_key=self._key, http_options=options)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()
            self._client = None

    async def _attempt(self, request: Request, model: str, started: float) -> Completion:
        from google.genai import types

        from evalkit.providers import gemini_wire as wire

        client = self._sdk()
        if self._vertex is not None:  # a token the chain refreshed is scrubbed from here on
            self._vertex.register_token()
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

        if self._vertex is not None:
            self._vertex.register_token()

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
            raise self._refused(f"{code} {status}", detail)
        if code == 404:
            raise self._no_such_model(model, detail)
        if code in RETRY_STATUS:
            label = f"HTTP {code} {status}"
            return self._retry(
                label, detail, _retry_delay(exc.details), limited=code == 429, what="a retry delay"
            )
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
