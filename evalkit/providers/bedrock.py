"""Amazon Bedrock's Converse API through the AWS SDK, boto3 (pip install 'evalkit[bedrock]').

botocore carries the protocol: the credential chain (environment, `profile:`, SSO, an instance
role; a Bedrock API key in AWS_BEARER_TOKEN_BEDROCK), SigV4 signing, the endpoint of the
region, the wire format and its errors. evalkit keeps what is its own: one attempt per
`complete()` (botocore's retries are off; the framework retries `Retry`), the limiter, the
cache and the mapping to evalkit's messages, tool calls, usage and finish reasons
(bedrock_wire.py). boto3 is synchronous: each call runs on a worker thread of the provider's
own pool, so the connection's limiter (the framework's concurrency) is the only limit on
requests in flight.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import Field

from evalkit._util import secrets
from evalkit._util.weburl import WebUrl
from evalkit.errors import AuthenticationError, ModelNotFoundError, UserInputError
from evalkit.providers.base import Retry
from evalkit.providers.openai_compat import parse_retry_after
from evalkit.providers.sdk_base import OPERATIONAL, SdkProvider, SdkSettings
from evalkit.types import Completion, Request

# worker threads and pooled connections: more than any connection's limit (threads start on demand)
POOL_SIZE = 512
BEARER_ENV = "AWS_BEARER_TOKEN_BEDROCK"  # a Bedrock API key, which botocore sends as a bearer token
AUTH_CODES = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
}
RETRY_CODES = {
    "ModelNotReadyException",
    "ModelStreamErrorException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelTimeoutException",
}


class BedrockSettings(SdkSettings):
    model: str | None = None  # a model id, an inference profile id, or either's ARN
    region: str | None = None  # None: AWS_REGION, AWS_DEFAULT_REGION or the profile's region
    profile: str | None = None  # a profile of ~/.aws/config; None: the standard credential chain
    endpoint_url: WebUrl | None = None  # a VPC endpoint (or a test server); None: the region's own
    max_tokens: int | None = Field(default=None, gt=0)  # when a suite sets none; None: the model's
    # passed as is as the request's additionalModelRequestFields (a model's own parameters,
    # e.g. Claude's {"thinking": {"type": "enabled", "budget_tokens": 2048}})
    additional_model_request_fields: dict[str, Any] | None = None
    # passed as is as guardrailConfig: {guardrailIdentifier, guardrailVersion, trace}
    guardrail_config: dict[str, Any] | None = None
    stream: bool = False  # ConverseStream, to measure the time to the first token
    connect_timeout_s: float = Field(default=10.0, gt=0)  # seconds to open the connection


class BedrockProvider(SdkProvider[BedrockSettings]):
    """Models on Amazon Bedrock through the Converse API: tools, reasoning, prompt-cache usage."""

    settings_model = BedrockSettings
    extra = "bedrock"
    type_name = "bedrock"
    api_name = "Bedrock"
    sdk_module = "boto3"
    operational_settings = (OPERATIONAL - {"api_key_env"}) | {"profile", "endpoint_url", "connect_timeout_s"}

    def __init__(self, name: str, settings: BedrockSettings):
        super().__init__(name, settings)
        self._session: Any = None
        self._region: str | None = settings.region
        self._pool: ThreadPoolExecutor | None = None
        self._credentials_source: Any = None  # botocore's credentials (refreshable ones refresh)
        self._registered: tuple[str, str | None] | None = None  # the key id and token registered

    # -- identity ---------------------------------------------------------------------------

    def base_url(self) -> str:
        """The endpoint: `endpoint_url`, else the region's own."""
        return self.settings.endpoint_url or f"https://bedrock-runtime.{self._region}.amazonaws.com"

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "name": self.name,
            "type": "bedrock",
            "region": self._region,
            "endpoint_url": secrets.redact_url(s.endpoint_url) if s.endpoint_url else None,
            "model": s.model,
        }

    def price_vendor(self) -> str | None:
        return "aws"

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        s = self.settings
        return {
            "type": "bedrock",
            "region": self._region,
            "model": self.model_name(request),
            "max_tokens": s.max_tokens,
            "additional_model_request_fields": s.additional_model_request_fields,
            "guardrail_config": s.guardrail_config,
        }

    def param_notes(self, request: Request) -> list[str]:
        from evalkit.providers.bedrock_wire import param_notes

        return param_notes(request.params)

    # -- lifecycle --------------------------------------------------------------------------

    def _credentials(self) -> None:
        """The region and credentials from AWS's chain, before any model call (exit 2)."""
        import boto3
        from botocore.exceptions import BotoCoreError
        from botocore.utils import validate_region_name

        what = f"provider '{self.name}' (type: bedrock)"
        if self.settings.endpoint_url:
            secrets.register_url(self.settings.endpoint_url, f"provider '{self.name}' endpoint_url")
        try:
            # boto3 itself reads AWS_DEFAULT_REGION, not AWS_REGION
            region = self.settings.region or os.environ.get("AWS_REGION") or None
            session = boto3.Session(profile_name=self.settings.profile, region_name=region)
            credentials = session.get_credentials()
        except BotoCoreError as exc:
            raise UserInputError(f"{what}: {secrets.scrub(str(exc))}") from None
        if not session.region_name:
            raise UserInputError(
                f"{what}: no AWS region: set `region:` in its settings, or AWS_REGION "
                "(or the profile's region)"
            )
        try:  # botocore checks it only when the client is made, at the run's start
            validate_region_name(session.region_name)
        except BotoCoreError as exc:
            raise UserInputError(f"{what}: {secrets.scrub(str(exc))}") from None
        bearer = os.environ.get(BEARER_ENV)
        secrets.register(bearer, f"the Bedrock API key in {BEARER_ENV}")
        if credentials is None and not bearer:
            raise UserInputError(
                f"{what}: no AWS credentials found (the standard chain: AWS_ACCESS_KEY_ID and "
                f"AWS_SECRET_ACCESS_KEY, `profile:` or AWS_PROFILE, ~/.aws/credentials, SSO, an "
                f"instance role; or a Bedrock API key in {BEARER_ENV})"
            )
        self._session, self._region, self._credentials_source = session, session.region_name, credentials
        self._register_credentials()

    def _register_credentials(self) -> None:
        """The credentials botocore signs with are secrets, those it refreshes (SSO, an assumed
        role, a credential process) too: registered when first read and before every call (and
        each signed request's key id and token once signed, `_register_signed`)."""
        if self._credentials_source is None:
            return
        frozen = self._credentials_source.get_frozen_credentials()
        if (frozen.access_key, frozen.token) != self._registered:
            secrets.register(frozen.access_key, "the AWS access key id")
            secrets.register(frozen.secret_key, "the AWS secret access key")
            secrets.register(frozen.token, "the AWS session token")
            self._registered = (frozen.access_key, frozen.token)

    def _sdk(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            if self._session is None:
                self.check()
            s = self.settings
            config = Config(
                retries={"total_max_attempts": 1, "mode": "standard"},  # the framework retries
                connect_timeout=s.connect_timeout_s,
                read_timeout=s.timeout_s,
                max_pool_connections=POOL_SIZE,
                user_agent_appid="evalkit",
            )
            self._client = self._session.client(
                "bedrock-runtime", region_name=self._region, endpoint_url=s.endpoint_url, config=config
            )
            # after botocore has signed each request: what it signed with is a secret
            self._client.meta.events.register_last("request-created.bedrock-runtime", _register_signed)
            self._pool = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix=f"evalkit-bedrock-{self.name}")
        return self._client

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- one attempt ------------------------------------------------------------------------

    async def _attempt(self, request: Request, model: str, started: float) -> Completion:
        """One call on a worker thread of the provider's pool (boto3 is synchronous)."""
        client = self._sdk()
        body = self._body(request, model)
        call = _converse_stream if self.settings.stream else _converse

        def on_thread() -> Completion:
            self._register_credentials()  # a refresh (an STS call, a process) off the event loop
            return call(client, body, request)

        return await asyncio.get_running_loop().run_in_executor(self._pool, on_thread)

    def _body(self, request: Request, model: str) -> dict[str, Any]:
        from evalkit.providers import bedrock_wire as wire

        p, s = request.params, self.settings
        system, messages = wire.messages_to_wire(request.messages)
        body: dict[str, Any] = {"modelId": model, "messages": messages}
        if system:
            body["system"] = system
        if config := wire.inference_config(p, s.max_tokens):
            body["inferenceConfig"] = config
        if p.tools:
            body["toolConfig"] = wire.tool_config(p.tools, p.tool_choice)
        fields = {**(s.additional_model_request_fields or {}), **(p.extra_body or {})}
        if fields:
            body["additionalModelRequestFields"] = fields
        if s.guardrail_config:
            body["guardrailConfig"] = s.guardrail_config
        return body

    def _failure(self, exc: Exception, model: str) -> Completion:
        """An SDK exception as evalkit's outcome: raise to stop or retry, else one error result."""
        from botocore import exceptions as aws

        if isinstance(exc, aws.ReadTimeoutError | aws.ConnectTimeoutError):
            raise Retry(f"timed out after {self.settings.timeout_s:g}s") from None
        if isinstance(exc, aws.HTTPClientError | aws.ConnectionError):
            raise Retry(f"connection error ({type(exc).__name__})") from None
        if isinstance(exc, aws.NoCredentialsError | aws.NoAuthTokenError | aws.CredentialRetrievalError):
            self._auth_failure = AuthenticationError(f"provider '{self.name}': {_flat(str(exc))}")
            raise self._auth_failure
        if isinstance(exc, aws.ParamValidationError):
            return Completion(error=f"the request does not fit Converse: {_flat(str(exc))}")
        if not isinstance(exc, aws.ClientError):
            return Completion(error=f"could not read the response ({_flat(f'{type(exc).__name__}: {exc}')})")
        return self._client_error(exc, model)

    def _client_error(self, exc: Any, model: str) -> Completion:
        error, meta = exc.response.get("Error") or {}, exc.response.get("ResponseMetadata") or {}
        code, status = str(error.get("Code") or ""), int(meta.get("HTTPStatusCode") or 0)
        code = code[:1].upper() + code[1:]  # an exception frame's type is lowerCamelCase
        detail = _flat(str(error.get("Message") or exc))
        mid_stream = type(exc).__name__ == "EventStreamError"  # an exception frame of a stream
        label = f"{code} (mid-stream)" if mid_stream else f"{code} (HTTP {status})"
        if status in (401, 403) or code in AUTH_CODES:
            raise self._refused(f"{status} {code}", detail)
        if code == "ResourceNotFoundException" or (
            code == "ValidationException" and "model identifier" in detail.lower()
        ):
            self._missing_model = ModelNotFoundError(
                f"provider '{self.name}': Bedrock ({self._where()}) does not know model '{model}' "
                f"({label}): {detail} (check the model name in evalkit.yaml)"
            )
            raise self._missing_model
        if code == "ThrottlingException" or code in RETRY_CODES or status in (408, 429) or status >= 500:
            retry_after = parse_retry_after((meta.get("HTTPHeaders") or {}).get("retry-after"))
            limited = code == "ThrottlingException"
            return self._retry(label, detail, retry_after, limited=limited, what="retry-after")
        return Completion(error=f"{label}: {detail}")

    def _where(self) -> str:
        s = self.settings
        return secrets.redact_url(s.endpoint_url) if s.endpoint_url else f"region {self._region}"


def _converse(client: Any, body: dict[str, Any], request: Request) -> Completion:
    """One Converse call, on a worker thread (boto3 is synchronous): the answer as a completion,
    timed from the moment the call starts (not from when a thread was free)."""
    from evalkit.providers.bedrock_wire import completion_of

    started = time.perf_counter()
    response = client.converse(**body)
    completion = completion_of(response, request.params.tools)
    completion.latency_ms = (time.perf_counter() - started) * 1000.0
    return completion


def _converse_stream(client: Any, body: dict[str, Any], request: Request) -> Completion:
    """One ConverseStream call, on a worker thread: the events gathered into one completion,
    with the time to the first answer text. An exception frame mid-stream raises botocore's
    EventStreamError, a ClientError like the others (its code in lowerCamelCase)."""
    from evalkit.providers.bedrock_wire import Streamed

    started = time.perf_counter()
    response = client.converse_stream(**body)
    streamed, ttft = Streamed(request.params.tools), None
    for event in response["stream"]:
        if streamed.add(event) and ttft is None:
            ttft = (time.perf_counter() - started) * 1000.0
    completion = streamed.completion()
    completion.latency_ms = (time.perf_counter() - started) * 1000.0
    completion.ttft_ms = ttft
    return completion


def _register_signed(request: Any, **_: Any) -> None:
    """The access key id and session token of a signed request, registered before it is sent:
    botocore refreshes short-lived credentials (SSO, an assumed role, a credential process) on its
    own, and AWS quotes the signed headers back when it refuses a signature."""
    headers = request.headers
    auth, token = headers.get("Authorization"), headers.get("X-Amz-Security-Token")
    auth = auth.decode() if isinstance(auth, bytes) else auth
    token = token.decode() if isinstance(token, bytes) else token
    if isinstance(auth, str) and (match := re.search(r"Credential=([^/,\s]+)/", auth)):
        secrets.register(match.group(1), "the AWS access key id")
    secrets.register(token, "the AWS session token")


def _flat(text: str) -> str:
    return secrets.scrub(" ".join(secrets.scrub(text).split()))[:300]
