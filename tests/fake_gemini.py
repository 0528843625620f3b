"""A fake of Google's Gemini API (generativelanguage, v1beta) on 127.0.0.1, in the wire format of
its REST reference: `models/{model}:generateContent` answers a GenerateContentResponse
(candidates with content parts - text, thought, functionCall - a finishReason, usageMetadata
with prompt, candidates, cached-content and thoughts token counts, promptFeedback when the prompt
is blocked), `:streamGenerateContent?alt=sse` the same as server-sent events, and errors as
`{"error": {"code", "message", "status", "details"}}`. The `google-genai` SDK is pointed at `url`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHTTP, Fault, Handler, Seen, sse

# The reference's example shape (models.generateContent, "Response body")
REFERENCE_RESPONSE: dict[str, Any] = {
    "candidates": [
        {
            "content": {"parts": [{"text": "The capital of France is Paris."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 7, "totalTokenCount": 15},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mAitaJTnKtCm1MkP0Nbu4Ak",
}

Reply = dict[str, Any]  # {"parts": [...], "finishReason": ..., "usageMetadata": {...}} or a whole body


def echo(body: dict[str, Any]) -> Reply:
    text = " ".join(p.get("text", "") for p in body["contents"][-1]["parts"])
    n = len(text.split())
    return {
        "parts": [{"text": f"echo: {text}"}],
        "finishReason": "STOP",
        "usageMetadata": {
            "promptTokenCount": n + 2,
            "candidatesTokenCount": n + 1,
            "totalTokenCount": 2 * n + 3,
        },
    }


def error(code: int, status: str, message: str, retry_delay: str | None = None) -> Fault:
    details = (
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
        if retry_delay
        else []
    )
    body = {"error": {"code": code, "message": message, "status": status, "details": details}}
    return Fault(status=code, body=json.dumps(body))


VERTEX_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class FakeGemini(FakeHTTP):
    def __init__(self, responder: Callable[[dict[str, Any]], Reply] = echo, api_key: str | None = None):
        super().__init__()
        self.responder = responder
        self.api_key = api_key
        self.models: set[str] | None = None  # when set, other models get the API's 404

    # Vertex AI: the bearer token its route takes (None: any), and the token its OAuth token
    # endpoint (POST /token, for google-auth's refresh) hands out
    vertex_token: str | None = None
    issued_token = "ya29.a0-fake-refreshed-token-0123456789"

    def routes(self) -> list[tuple[str, str, Handler]]:
        vertex = "/{version}/projects/{project}/locations/{location}/publishers/google/models/{call}"
        return [
            ("POST", "/{version}/models/{call}", self.generate),
            ("POST", vertex, self.vertex_generate),
            ("POST", "/token", self.token),
        ]

    async def token(self, request: web.Request, seen: Seen) -> web.StreamResponse:
        return web.json_response(
            {
                "access_token": self.issued_token,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": VERTEX_SCOPE,
            }
        )

    async def vertex_generate(self, request: web.Request, seen: Seen) -> web.StreamResponse:
        """Vertex AI's generateContent: the same bodies, a bearer token, its own 401 and 404."""
        auth = seen.headers.get("Authorization") or ""
        if self.vertex_token is not None and auth != f"Bearer {self.vertex_token}":
            return _error(401, "UNAUTHENTICATED", UNAUTHENTICATED)
        model, _, method = request.match_info["call"].partition(":")
        if self.models is not None and model not in self.models:
            m = request.match_info
            name = f"projects/{m['project']}/locations/{m['location']}/publishers/google/models/{model}"
            return _error(
                404,
                "NOT_FOUND",
                f"Publisher Model `{name}` was not found or your project does not have access to it.",
            )
        return await self._answer_with(model, method, seen, request)

    def body(self, index: int) -> Any:
        """A request's body with every field in lowerCamelCase: the API reads protobuf JSON, which
        takes a field's proto name or its camelCase name (the SDK sends some of each)."""
        return camel(self.seen[index].body)

    async def generate(self, request: web.Request, seen: Seen) -> web.StreamResponse:
        key = seen.headers.get("x-goog-api-key") or seen.query.get("key")
        if self.api_key is not None and key != self.api_key:
            return _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        model, _, method = request.match_info["call"].partition(":")
        if self.models is not None and model not in self.models:
            return _error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta")
        return await self._answer_with(model, method, seen, request)

    async def _answer_with(
        self, model: str, method: str, seen: Seen, request: web.Request
    ) -> web.StreamResponse:
        reply = self.responder(seen.body)
        body = reply if "candidates" in reply or "promptFeedback" in reply else _response(model, reply)
        if method == "streamGenerateContent":
            return await sse(request, [(None, chunk) for chunk in _chunks(body)])
        return web.json_response(body)


def camel(data: Any, *, inside_schema: bool = False) -> Any:
    if isinstance(data, list):
        return [camel(x, inside_schema=inside_schema) for x in data]
    if not isinstance(data, dict) or inside_schema:
        return data
    out = {}
    for key, value in data.items():
        name = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
        out[name] = camel(value, inside_schema=name in ("parametersJsonSchema", "args", "response"))
    return out


def _response(model: str, reply: Reply) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"parts": reply["parts"], "role": "model"},
                "finishReason": reply["finishReason"],
                "index": 0,
            }
        ],
        "usageMetadata": reply["usageMetadata"],
        "modelVersion": model,
        "responseId": "fake-response-1",
    }


def _chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A response as the stream sends it: one part per chunk, finishReason and usage on the last."""
    candidates = body.get("candidates") or []
    if not candidates:
        return [body]
    parts = candidates[0]["content"]["parts"]
    out = []
    for i, part in enumerate(parts):
        chunk: dict[str, Any] = {
            "candidates": [{"content": {"parts": [part], "role": "model"}, "index": 0}],
            "modelVersion": body.get("modelVersion"),
        }
        if i == len(parts) - 1:
            chunk["candidates"][0]["finishReason"] = candidates[0].get("finishReason")
            chunk["usageMetadata"] = body.get("usageMetadata")
        out.append(chunk)
    return out


def _error(code: int, status: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "status": status}}, status=code)
