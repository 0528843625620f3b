"""Any OpenAI-compatible /v1/chat/completions endpoint (OpenAI, vLLM server, Ollama, ...)."""

from __future__ import annotations

import email.utils
import functools
import json
import math
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evalkit._util import secrets
from evalkit._util.causes import MODEL_NOT_FOUND, cause_of
from evalkit._util.weburl import WebUrl
from evalkit.errors import AuthenticationError, EvalkitError, ModelNotFoundError, UserInputError
from evalkit.providers.base import Provider, RateLimited, Retry, RetryPolicy
from evalkit.providers.loglikelihood import ECHO_LOGPROBS, read_echo_logprobs
from evalkit.providers.openai_response import StreamAssembler, StreamError, UnexpectedResponse, parse_body
from evalkit.providers.presets import (
    AZURE_API_VERSION,
    AZURE_KEY_ENV,
    PRESETS,
    azure_url,
    azure_v1_url,
    vendor_of,
)
from evalkit.providers.sdk_base import FirstCall
from evalkit.spec.config import env_secret
from evalkit.tools.wire import (
    StreamedCalls,
    message_to_wire,
    parse_message_calls,
    restore_names,
    tool_choice_to_wire,
    tools_to_wire,
)
from evalkit.types import Completion, GenerationParams, Request

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAISettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # a vendor's OpenAI-compatible endpoint by name (providers/presets.py): its base_url and key
    # variable, unless set here; `azure` builds the deployment's URL from the three azure_ keys
    preset: (
        Literal["openai", "groq", "mistral", "together", "fireworks", "deepseek", "openrouter", "xai"]
        | Literal["cohere", "ollama", "azure"]
        | None
    ) = None
    # the server's address up to /v1 (OpenAI, a vendor, vLLM, Ollama, a proxy)
    base_url: WebUrl = "https://api.openai.com/v1"
    model: str | None = None  # the model name sent to the server (a variant's `model:` wins)
    api_key_env: str | None = None  # the key is read from this variable, never from the file
    azure_endpoint: WebUrl | None = None  # https://RESOURCE.openai.azure.com
    # the Azure deployment name (`model` names the model for prices): letters, digits, . _ -
    deployment: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
    api_version: str = AZURE_API_VERSION  # Azure: the api-version query parameter
    entra_token_env: str | None = None  # Azure: an Entra ID token, sent as a bearer token
    timeout_s: float = Field(default=60.0, gt=0)  # seconds one request may take
    max_attempts: int = Field(default=6, ge=1)  # tries per request on a retryable error (429, 5xx)
    backoff_base_s: float = Field(default=0.5, ge=0)  # first wait between tries; it doubles each time
    backoff_max_s: float = Field(default=30.0, ge=0)  # longest wait between tries
    # a server asking to wait longer than this makes the answer an error
    retry_after_cap_s: float = Field(default=120.0, ge=0)
    headers: dict[str, str] = Field(default_factory=dict)  # non-secret headers
    headers_env: dict[str, str] = Field(default_factory=dict)  # header name → env var holding a secret
    adaptive_concurrency: bool = True  # halve the in-flight limit on 429s, recover on success
    stream: bool = False  # stream tokens (server-sent events) to measure time to first token
    # `responses`: OpenAI's Responses API (POST /responses) instead of chat completions
    api: Literal["chat", "responses"] = "chat"
    # Responses API only: `reasoning: {effort, summary}` for reasoning models (None: not sent),
    # and whether OpenAI may store the response (`store`, off unless turned on here)
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    # reasoning models: ask for a summary of the reasoning (auto, concise, detailed)
    reasoning_summary: Literal["auto", "concise", "detailed"] | None = None
    store: bool = False  # let OpenAI store the response (off unless turned on here)

    @model_validator(mode="after")
    def _responses_only(self) -> OpenAISettings:
        stray = [k for k in ("reasoning_effort", "reasoning_summary") if getattr(self, k) is not None]
        stray += ["store"] if self.store else []
        if stray and self.api != "responses":
            raise ValueError(
                f"{', '.join(stray)} {'applies' if len(stray) == 1 else 'apply'} to api: responses only "
                "(chat completions: a variant's extra_body sends reasoning_effort)"
            )
        return self

    @model_validator(mode="after")
    def _one_authorization(self) -> OpenAISettings:
        """aiohttp sends a base_url's `user:password@` as an Authorization header, and refuses
        the request when another one is set (an API key's bearer token, headers_env's)."""
        if urlsplit(self.base_url).username is None:
            return self
        key_env = self.api_key_env or ("OPENAI_API_KEY" if "api.openai.com" in self.base_url else None)
        keyed = [f"api_key_env ({key_env})"] if key_env else []
        keyed += [f"headers_env.{h}" for h in self.headers_env if h.lower() == "authorization"]
        if keyed:
            raise ValueError(
                f"base_url carries credentials (user:password@) and {keyed[0]} an Authorization "
                "header: both cannot be sent; keep one of them"
            )
        return self

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        """`headers:` are written down (run.json's config snapshot): a credential goes in
        `headers_env:`, read from the environment and scrubbed from everything written."""
        secret = [name for name in value if credential_header(name)]
        if secret:
            raise ValueError(
                f"'{secret[0]}' carries a credential, and headers: are written into run.json: "
                f"use headers_env: {{{secret[0]}: ENV_VAR}} (the value read from that variable)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _has_scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """A preset's base_url and key variable, where the entry sets none of its own."""
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        name = data["preset"]
        if name == "azure":
            missing = [k for k in ("azure_endpoint", "deployment") if not data.get(k)]
            if missing:
                raise ValueError(f"preset azure needs {' and '.join(missing)}")
            version = data.get("api_version") or AZURE_API_VERSION
            url = azure_url(str(data["azure_endpoint"]), str(data["deployment"]), str(version))
            if data.get("api") == "responses":  # the v1 API: the deployment is the body's model
                url = azure_v1_url(str(data["azure_endpoint"]))
            data = {"base_url": url, **data}
            key_env = data.pop("api_key_env", None) or AZURE_KEY_ENV
            if data.get("entra_token_env"):  # an Entra ID token goes as the bearer token
                return {**data, "api_key_env": data["entra_token_env"]}
            return {**data, "headers_env": {"api-key": key_env, **(data.get("headers_env") or {})}}
        preset = PRESETS.get(name)
        if preset is None:
            return data  # the Literal names the known ones
        return {"base_url": preset.base_url, "api_key_env": preset.key_env, **data}


_CREDENTIAL_WORDS = ("authorization", "cookie", "key", "token", "secret", "password")


def credential_header(name: str) -> bool:
    """Authorization, Proxy-Authorization, Cookie, api-key, x-api-key, x-goog-api-key, any
    *-token / *-secret: a header whose value is a credential."""
    lower = name.lower()
    return any(word in lower for word in _CREDENTIAL_WORDS)


class _Fatal(Exception):
    """This request cannot succeed (400, 404, Retry-After beyond the cap)."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date. Anything else
    (`nan`, `inf`, `-5`, `1e9999`) is no answer: a NaN compared with the cap is never above it."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _error_detail(raw: bytes) -> str:
    msg: Any = None
    try:
        body = json.loads(raw)
        if isinstance(body, dict):
            err = body.get("error")
            msg = err.get("message") if isinstance(err, dict) else err
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    text = msg or raw[:65536].decode("utf-8", "replace")
    # scrub first, then cut: cut first, and a key across the cut would leak all but its tail
    return secrets.scrub(" ".join(secrets.scrub(str(text)).split()))[:200]


class OpenAICompatProvider(Provider[OpenAISettings]):
    """Any OpenAI-compatible /v1/chat/completions server. `complete` is one attempt: a 429
    raises `RateLimited` (with the server's Retry-After), timeouts and 5xx raise `Retry`; the
    framework bounds its concurrency per endpoint, backs off and retries."""

    supports_tools = True
    loglikelihood_contexts = frozenset({"plain"})  # /v1/completions applies no chat template
    settings_model = OpenAISettings
    operational_settings = frozenset(
        {
            "timeout_s",
            "max_attempts",
            "backoff_base_s",
            "backoff_max_s",
            "retry_after_cap_s",
            "adaptive_concurrency",
            "api_key_env",
            "headers_env",
        }
    )

    def __init__(self, name: str, settings: OpenAISettings):
        super().__init__(name, settings)
        self.cfg = settings  # the same typed settings, under the name this module uses
        self._api_key: str | None = None
        self._secret_headers: dict[str, str] = {}
        self._auth_failure: AuthenticationError | None = None  # once refused, send nothing more
        self._missing_model: ModelNotFoundError | None = None  # a 404 naming the model stops the run
        self._first = FirstCall()
        self._session: aiohttp.ClientSession | None = None
        self._last_params: tuple[GenerationParams, dict[str, Any]] | None = None  # see _params_body

    def connection_key(self) -> str:
        """One endpoint, one limit: entries differing only in model or headers share it."""
        return f"openai:{secrets.redact_url(endpoint(self.cfg.base_url, 'chat/completions'))}"

    def limiter_options(self) -> dict[str, Any]:
        return {
            "adaptive": self.settings.adaptive_concurrency,
            "cooldown_s": max(self.settings.backoff_base_s, 0.05),
        }

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.cfg.max_attempts, self.cfg.backoff_base_s, self.cfg.backoff_max_s)

    def check(self) -> None:
        var = self.cfg.api_key_env
        if var is None and "api.openai.com" in self.cfg.base_url:
            var = "OPENAI_API_KEY"
        if var is not None:
            self._api_key = env_secret(var, what=f"provider '{self.name}' (api_key_env)")
            secrets.register(self._api_key, f"the key in {var} (provider '{self.name}')")
        for header, env_var in self.cfg.headers_env.items():
            value = env_secret(env_var, what=f"provider '{self.name}' (headers_env.{header})")
            secrets.register(value, f"the value of {env_var} (provider '{self.name}')")
            self._secret_headers[header] = value
        secrets.register_url(self.cfg.base_url, f"provider '{self.name}' base_url")
        if not self.cfg.base_url.startswith(("http://", "https://")):
            raise UserInputError(f"provider '{self.name}': base_url must start with http:// or https://")

    def describe(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "type": "openai",
            "base_url": secrets.redact_url(self.cfg.base_url),
            "model": self.cfg.model,
        }
        return {**out, **self._responses_identity()}

    def _responses_identity(self) -> dict[str, Any]:
        """What `api: responses` adds to the identity (nothing for chat: its cache keys stay)."""
        if self.cfg.api != "responses":
            return {}
        return {"api": "responses", "reasoning": self._reasoning()}

    def _reasoning(self) -> dict[str, str]:
        out = {"effort": self.cfg.reasoning_effort, "summary": self.cfg.reasoning_summary}
        return {k: v for k, v in out.items() if v is not None}

    def param_notes(self, request: Request) -> list[str]:
        if self.cfg.api != "responses":
            return []
        from evalkit.providers.openai_responses import not_sent

        return [f"not sent: {d}" for d in not_sent(request.params)]

    def price_vendor(self) -> str | None:
        """A known vendor's API (a preset, or its documented host) is priced from the database;
        another server (vLLM, Ollama, a proxy) only by `pricing:`."""
        return vendor_of(self.cfg.base_url, self.cfg.preset)

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        base_url = secrets.redact_url(self.cfg.base_url)
        identity = {"type": "openai", "base_url": base_url, "model": self.model_name(request)}
        return {**identity, **self._responses_identity()}

    def _session_for_loop(self) -> aiohttp.ClientSession:
        # aiohttp rather than httpx: measured on 2 cores, 0.33 vs 2.1 ms of client CPU per
        # request, and TCP_NODELAY by default (httpx stalled ~11 ms per request at low concurrency).
        if self._session is None:
            headers = {**self.cfg.headers, **self._secret_headers}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            # no cap of its own: the framework's limiter bounds the requests in flight
            connector = aiohttp.TCPConnector(limit=0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_s),
                raise_for_status=False,
            )
        return self._session

    async def complete(self, request: Request) -> Completion:
        """One attempt (the framework holds the connection's slot and retries `Retry`); the
        first request to each model goes alone (sdk_base.FirstCall: a model the server does not
        know is asked once)."""
        model = request.model or self.cfg.model or ""
        if self._first.settled(model):
            return await self._complete(request)
        return await self._first.guard(model, lambda: self._complete(request))

    async def _complete(self, request: Request) -> Completion:
        if self._auth_failure is not None:  # once refused, send nothing more
            raise self._auth_failure
        if self._missing_model is not None:
            raise self._missing_model
        started = time.perf_counter()
        try:
            if request.loglikelihood is not None:
                return await self._choices(request)
            if self.cfg.api == "responses":
                completion = await self._respond(request)
            else:
                completion = await self._attempt(
                    self._session_for_loop(),
                    endpoint(self.cfg.base_url, "chat/completions"),
                    self._body(request),
                )
        except _Fatal as exc:
            return Completion(error=str(exc))
        except (Retry, EvalkitError):
            raise
        except Exception as exc:  # one odd response is one error result, never a dead run
            detail = secrets.scrub(f"{type(exc).__name__}: {exc}")[:300]
            return Completion(error=f"could not read the response ({detail})")
        completion.latency_ms = (time.perf_counter() - started) * 1000.0
        if completion.tool_calls is not None:  # most answers call no tool: nothing to rename
            completion.tool_calls = restore_names(completion.tool_calls, request.params.tools)
        return completion

    async def _choices(self, request: Request) -> Completion:
        """Multiple choice: each choice's log-probability from /v1/completions with `echo`
        (the prompt's own token log-probabilities, as vLLM's server returns them)."""
        assert request.loglikelihood is not None
        context = request.loglikelihood.plain_context(request.messages)
        body = {
            "model": request.model or self.cfg.model,
            "prompt": [context + c for c in request.loglikelihood.continuations],
            **ECHO_LOGPROBS,
        }
        started = time.perf_counter()
        completion = await self._attempt(
            self._session_for_loop(),
            endpoint(self.cfg.base_url, "completions"),
            body,
            read=lambda data: read_echo_logprobs(request, context, data),
        )
        completion.latency_ms = (time.perf_counter() - started) * 1000.0
        return completion

    async def _respond(self, request: Request) -> Completion:
        """One POST /responses: the Responses API's body, its output read (openai_responses.py)."""
        from evalkit.providers import openai_responses as wire

        model = request.model or self.cfg.model
        if self.cfg.preset == "azure":
            model = self.cfg.deployment  # Azure's v1 API names the deployment as the model
        body = wire.request_body(
            request.params,
            request.messages,
            model,
            store=self.cfg.store,
            reasoning=self._reasoning(),
            stream=self.cfg.stream,
        )
        names = wire.declared(body)
        return await self._attempt(
            self._session_for_loop(),
            endpoint(self.cfg.base_url, "responses"),
            body,
            read=lambda data: wire.completion_of(data, names),
            events=lambda: wire.StreamReader(names),
        )

    def _body(self, request: Request) -> dict[str, Any]:
        head = {
            "model": request.model or self.cfg.model,
            "messages": [message_to_wire(m) for m in request.messages],
        }
        return {**head, **self._params_body(request.params)}

    def _params_body(self, p: GenerationParams) -> dict[str, Any]:
        """What a request's params add to its body, after the model and messages (the requests
        of a variant share one params object: worked out once for it, then copied per request)."""
        if self._last_params is not None and self._last_params[0] is p:
            return self._last_params[1]
        body: dict[str, Any] = {}
        for key in ("temperature", "top_p", "max_tokens", "stop", "seed"):
            value = getattr(p, key)
            if value is not None:
                body[key] = value
        if p.tools:
            body["tools"] = tools_to_wire(p.tools)
        if p.tool_choice is not None:
            body["tool_choice"] = tool_choice_to_wire(p.tool_choice)
        if self.cfg.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if p.extra_body:
            body.update(p.extra_body)
        self._last_params = (p, body)
        return body

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        url: str,
        body: dict[str, Any],
        read: Callable[[Any], Completion] | None = None,
        events: Callable[[], EventReader] | None = None,
    ) -> Completion:
        """One POST: HTTP errors raised as the framework retries them; the body read as a chat
        completion, or by `read` (another endpoint's body); a stream by `events`' reader (an
        application/json answer to a stream request is read as the whole body it is)."""
        started = time.perf_counter()
        streamed: Completion | None = None
        try:
            async with session.post(url, json=body) as response:
                status = response.status
                retry_after_header = None if status == 200 else response.headers.get("Retry-After")
                # a server that ignores `stream` (some proxies) answers one whole JSON body
                if status == 200 and body.get("stream") and response.content_type != "application/json":
                    if events is not None:
                        streamed = await _read_events(response, started, events())
                    else:
                        streamed = await _read_stream(response, started, _declared(body))
                    raw = b""
                else:
                    raw = await response.read()
        except TimeoutError:
            raise Retry(f"timed out after {self.cfg.timeout_s:g}s") from None
        except aiohttp.ClientPayloadError:
            raise Retry("truncated response body") from None
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise Retry(f"connection error ({_connection_detail(exc)})") from None
        self._raise_for_status(status, raw, retry_after_header, body.get("model"))
        if streamed is not None:
            return streamed
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Retry("invalid or truncated JSON body") from None
        return _read_body(data, body, read)

    def _raise_for_status(self, status: int, raw: bytes, retry_after_header: str | None, model: Any) -> None:
        """An HTTP error as what stops the run, what is retried, or one error result."""
        if status == 404 and _names_a_missing_model(raw):
            self._missing_model = ModelNotFoundError(
                f"provider '{self.name}': the API at {secrets.redact_url(self.cfg.base_url)} does not know "
                f"model '{model}' (HTTP 404): {_error_detail(raw)} (check the model name in evalkit.yaml)"
            )
            raise self._missing_model
        if status in (401, 403):
            self._auth_failure = AuthenticationError(
                f"provider '{self.name}' at {secrets.redact_url(self.cfg.base_url)} refused the "
                f"credentials (HTTP {status}): {_error_detail(raw)}"
            )
            raise self._auth_failure
        if status in RETRY_STATUS:
            retry_after = parse_retry_after(retry_after_header)
            if retry_after is not None and retry_after > self.cfg.retry_after_cap_s:
                raise _Fatal(
                    f"HTTP {status} with Retry-After {retry_after:.0f}s, beyond the "
                    f"{self.cfg.retry_after_cap_s:g}s cap"
                )
            kind = RateLimited if status == 429 else Retry
            raise kind(f"HTTP {status}: {_error_detail(raw)}", retry_after)
        if status >= 400:
            raise _Fatal(f"HTTP {status}: {_error_detail(raw)}")


class EventReader(Protocol):
    """A streamed body's events, one `data:` payload at a time (openai_responses.StreamReader)."""

    def add(self, event: Any) -> bool: ...

    def completion(self, ttft_ms: float | None) -> Completion: ...


def _names_a_missing_model(raw: bytes) -> bool:
    """A 404 whose body says the model does not exist (OpenAI's `model_not_found` code, or the
    words vLLM, Ollama and other servers use), not one for a wrong path."""
    try:
        error = json.loads(raw).get("error")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("code") == "model_not_found":
        return True
    return cause_of(f"HTTP 404: {_error_detail(raw)}") == MODEL_NOT_FOUND


def _read_body(data: Any, body: dict[str, Any], read: Callable[[Any], Completion] | None) -> Completion:
    """A whole body as a completion: a chat completion, or what `read` makes of it."""
    try:
        if read is not None:
            return read(data)
        completion = parse_body(data)
    except StreamError as exc:  # the server failed this response: worth another attempt
        raise Retry(secrets.scrub(str(exc))[:300]) from None
    except UnexpectedResponse as exc:
        raise _Fatal(secrets.scrub(str(exc))[:300]) from None
    message = _first_message(data)
    calls = None
    if message is not None and message.get("tool_calls"):  # most answers call no tool
        calls = parse_message_calls(message, _declared(body))
    if calls is None:  # no tool call (most answers): no copy
        return completion
    return completion.model_copy(update={"tool_calls": calls})


def _first_message(data: Any) -> dict[str, Any] | None:
    choices = data.get("choices") if isinstance(data, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        return message if isinstance(message, dict) else None
    return None


def _connection_detail(exc: BaseException) -> str:
    """The exception's class, and the OS's reason when it is one a person can act on (the
    message itself names the host and port, which stay out of results)."""
    os_error = getattr(exc, "os_error", exc)
    if isinstance(os_error, ConnectionRefusedError):
        return f"{type(exc).__name__}: connection refused"
    return type(exc).__name__


def _declared(body: dict[str, Any]) -> list[str] | None:
    """The tool names a request declared (None: it declared none, so nothing is flagged)."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    return [str((t.get("function") or {}).get("name")) for t in tools if isinstance(t, dict)]


async def _read_stream(
    response: aiohttp.ClientResponse, started: float, declared: list[str] | None = None
) -> Completion:
    """Assemble a streamed chat completion (server-sent events); time the first content token.
    An error event is an error, even when [DONE] follows it. Tool-call deltas are assembled too."""
    assembler = StreamAssembler()
    calls = StreamedCalls()
    ttft: float | None = None
    done = False
    event: str | None = None
    async for raw_line in response.content:
        line = raw_line.decode("utf-8", "replace").strip()
        if not line:
            event = None  # a blank line ends an event
            continue
        if line.startswith("event:"):
            event = line[6:].strip()
            continue
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError:
            raise Retry("invalid event in the response stream") from None
        try:
            added = assembler.add(chunk, event)
        except StreamError as exc:
            raise Retry(secrets.scrub(str(exc))[:300]) from None
        except UnexpectedResponse as exc:
            raise _Fatal(secrets.scrub(str(exc))[:300]) from None
        for choice in chunk.get("choices") or [] if isinstance(chunk, dict) else []:
            if isinstance(choice, dict) and isinstance(choice.get("delta"), dict):
                calls.add(choice["delta"])
        if added and ttft is None:
            ttft = (time.perf_counter() - started) * 1000.0
    if not done and assembler.finish is None:
        raise Retry("the response stream ended early")
    return assembler.completion(ttft).model_copy(update={"tool_calls": calls.calls(declared)})


async def _read_events(response: aiohttp.ClientResponse, started: float, reader: EventReader) -> Completion:
    """A stream of typed events (the Responses API's): each `data:` payload to the reader, the
    first that carries answer text timed; the reader's completion at the end."""
    ttft: float | None = None
    async for raw_line in response.content:
        line = raw_line.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue  # `event:` names repeat the payload's `type`; blank lines end events
        try:
            event = json.loads(line[5:].strip())
        except json.JSONDecodeError:
            raise Retry("invalid event in the response stream") from None
        try:
            added = reader.add(event)
        except StreamError as exc:
            raise Retry(secrets.scrub(str(exc))[:300]) from None
        except UnexpectedResponse as exc:
            raise _Fatal(secrets.scrub(str(exc))[:300]) from None
        if added and ttft is None:
            ttft = (time.perf_counter() - started) * 1000.0
    try:
        return reader.completion(ttft)
    except StreamError as exc:
        raise Retry(secrets.scrub(str(exc))[:300]) from None
    except UnexpectedResponse as exc:
        raise _Fatal(secrets.scrub(str(exc))[:300]) from None


@functools.lru_cache(maxsize=64)  # asked once per request: the same few answers
def endpoint(base_url: str, path: str) -> str:
    """base_url + path, keeping any query string (e.g. ?api-version=...) at the end."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/" + path, parts.query, ""))
