"""A fake of Amazon Bedrock Runtime's Converse API on 127.0.0.1, in the wire format of its API
reference: `POST /model/{modelId}/converse` answers `output.message.content` (text, toolUse,
reasoningContent blocks), `stopReason`, `usage` (input, output, total, cache read and cache
write tokens) and `metrics.latencyMs`; errors are `{"message": ...}` with their type in the
`x-amzn-ErrorType` header, as the REST-JSON protocol sends them. `POST
/model/{modelId}/converse-stream` answers the same as an `application/vnd.amazon.eventstream`
of binary frames (prelude, headers, JSON payload, both CRC32s): messageStart,
contentBlockStart / contentBlockDelta / contentBlockStop per block, messageStop, metadata; an
error mid-stream is an exception frame (`:exception-type`), as botocore reads them.

boto3 is pointed at `url` (`endpoint_url`) with static credentials. Every request must carry a
well-formed SigV4 `Authorization` header (AWS4-HMAC-SHA256, Credential=AKID/date/region/
bedrock/aws4_request) whose signature botocore's own SigV4 signer computes the same from the
secret key; an unknown key id is refused as AWS refuses it, a wrong signature with AWS's
message (which quotes the canonical request, session token header included).
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fake_http import FakeHTTP, Fault, Handler, Seen

# The API reference's example shapes (Converse, "Response Syntax")
REFERENCE_RESPONSE: dict[str, Any] = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [{"text": "The capital of France is Paris."}],
        }
    },
    "stopReason": "end_turn",
    "usage": {"inputTokens": 30, "outputTokens": 9, "totalTokens": 39},
    "metrics": {"latencyMs": 412},
}

ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]{16,128})/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)

Reply = dict[str, Any]  # {"content": [blocks], "stopReason": str, "usage": {...}}


def echo(body: dict[str, Any]) -> Reply:
    text = " ".join(b.get("text", "") for b in body["messages"][-1]["content"])
    n = len(text.split())
    return {
        "content": [{"text": f"echo: {text}"}],
        "stopReason": "end_turn",
        "usage": {"inputTokens": n + 3, "outputTokens": n + 1},
    }


def error(status: int, code: str, message: str, **headers: str) -> Fault:
    return Fault(
        status=status,
        body=json.dumps({"message": message}),
        headers={"x-amzn-ErrorType": f"{code}:{ERROR_NAMESPACE}", "x-amzn-RequestId": "f00d", **headers},
    )


def _error(status: int, code: str, message: str) -> web.Response:
    fault = error(status, code, message)
    return web.Response(
        status=status, text=str(fault.body), content_type="application/json", headers=fault.headers
    )


class FakeBedrock(FakeHTTP):
    def __init__(
        self,
        responder: Callable[[dict[str, Any]], Reply] = echo,
        credentials: dict[str, tuple[str, str | None]] | None = None,
        bearer_token: str | None = None,
    ):
        super().__init__()
        self.responder = responder
        self.credentials = credentials  # access key id → (secret, session token); None: any
        self.bearer_token = bearer_token
        self.models: set[str] | None = None  # when set, other model ids are invalid identifiers
        self.regions: list[str] = []  # the region each signed request was signed for
        # an exception frame (`:exception-type`, message) after the first block's first delta
        self.stream_error: tuple[str, str] | None = None

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/model/{model_id}/converse", self.converse),
            ("POST", "/model/{model_id}/converse-stream", self.converse),
        ]

    def body(self, index: int) -> Any:
        return self.seen[index].body

    async def converse(self, request: web.Request, seen: Seen) -> web.StreamResponse:
        refused = self._refuse(request, seen, await request.read())  # aiohttp keeps the bytes read
        if refused is not None:
            return refused
        body = seen.body
        model = request.match_info["model_id"]
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "ValidationException", "Malformed input request, please reformat your input.")
        if self.models is not None and model not in self.models:
            return _error(400, "ValidationException", "The provided model identifier is invalid.")
        reply = self.responder(body)
        if "output" not in reply:
            usage = {**reply["usage"]}
            usage["totalTokens"] = sum(usage.get(k, 0) for k in ("inputTokens", "outputTokens"))
            reply = {
                "output": {"message": {"role": "assistant", "content": reply["content"]}},
                "stopReason": reply.get("stopReason", "end_turn"),
                "usage": usage,
                "metrics": {"latencyMs": 5},
            }
        if not request.path.endswith("/converse-stream"):
            return web.json_response(reply)
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/vnd.amazon.eventstream"}
        )
        await response.prepare(request)
        for frame in self._frames(reply):
            await response.write(frame)
        await response.write_eof()
        return response

    def _frames(self, reply: dict[str, Any]) -> list[bytes]:
        """A Converse response as ConverseStream's events, each one binary frame."""
        frames = [event("messageStart", {"role": "assistant"})]
        for index, block in enumerate(reply["output"]["message"]["content"]):
            frames += _block_events(index, block)
            if index == 0 and self.stream_error is not None:
                kind, message = self.stream_error
                return [
                    *frames,
                    frame(
                        {
                            ":exception-type": kind,
                            ":content-type": "application/json",
                            ":message-type": "exception",
                        },
                        {"message": message},
                    ),
                ]
        frames.append(event("messageStop", {"stopReason": reply["stopReason"]}))
        frames.append(event("metadata", {"usage": reply["usage"], "metrics": reply.get("metrics", {})}))
        return frames

    # -- authentication ---------------------------------------------------------------------

    def _refuse(self, request: web.Request, seen: Seen, raw: bytes) -> web.Response | None:
        header = seen.headers.get("Authorization", "")
        if self.bearer_token is not None and header == f"Bearer {self.bearer_token}":
            return None
        match = AUTH.fullmatch(header)
        date = seen.headers.get("X-Amz-Date", "")
        if match is None or match["service"] != "bedrock" or not date.startswith(match["date"]):
            return _error(
                403, "IncompleteSignatureException", f"Authorization header is not SigV4: {header[:40]}"
            )
        self.regions.append(match["region"])
        if self.credentials is None:
            return None
        if match["key"] not in self.credentials:
            return _error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        secret, token = self.credentials[match["key"]]
        if token is not None and seen.headers.get("X-Amz-Security-Token") != token:
            return _error(
                403, "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        signature, canonical, to_sign = sigv4(request, seen.headers, raw, match, secret, token)
        if signature != match["signature"]:
            return _error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check "
                "your AWS Secret Access Key and signing method. Consult the service documentation for "
                f"details.\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
                f"The String-to-Sign should have been\n'{to_sign}'\n",
            )
        return None


def frame(headers: dict[str, str], payload: Any) -> bytes:
    """One AWS event-stream message: total and headers length, the prelude's CRC32, string
    headers (name length, name, type 7, value length, value), the payload, the message's CRC32."""
    encoded = b"".join(
        struct.pack(">B", len(name)) + name.encode() + struct.pack(">BH", 7, len(value)) + value.encode()
        for name, value in headers.items()
    )
    body = json.dumps(payload).encode()
    total = 12 + len(encoded) + len(body) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded + body
    return message + struct.pack(">I", zlib.crc32(message))


def event(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, payload)


def _block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    """One content block as the stream sends it: text in pieces of 5 characters, a tool call's
    start then its input as partial JSON strings, reasoning text then its signature."""
    out = []
    if "toolUse" in block:
        use = block["toolUse"]
        start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
        out.append(event("contentBlockStart", {"start": start, "contentBlockIndex": index}))
        raw = json.dumps(use["input"])
        deltas = [{"toolUse": {"input": raw[i : i + 7]}} for i in range(0, len(raw), 7)]
    elif "reasoningContent" in block:
        reasoning = block["reasoningContent"]["reasoningText"]
        deltas = [{"reasoningContent": {"text": reasoning["text"]}}]
        deltas.append({"reasoningContent": {"signature": reasoning.get("signature", "EqQBCgIYAhIM")}})
    else:
        text = block["text"]
        deltas = [{"text": text[i : i + 5]} for i in range(0, len(text), 5)] or [{"text": ""}]
    out += [event("contentBlockDelta", {"delta": d, "contentBlockIndex": index}) for d in deltas]
    out.append(event("contentBlockStop", {"contentBlockIndex": index}))
    return out


def sigv4(
    request: web.Request,
    received: dict[str, str],
    body: bytes,
    match: re.Match[str],
    secret: str,
    token: str | None,
) -> tuple[str, str, str]:
    """(signature, canonical request, string to sign) as botocore's SigV4 signer computes them
    for this request, at the time it was signed, over the headers it says it signed."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = set(match["signed"].split(";"))
    headers = {k: v for k, v in received.items() if k.lower() in signed}
    url = f"http://{request.host}{request.raw_path}"
    aws_request = AWSRequest(method=request.method, url=url, data=body, headers=headers)
    aws_request.context["timestamp"] = received["X-Amz-Date"]
    signer = SigV4Auth(Credentials(match["key"], secret, token), match["service"], match["region"])
    canonical = signer.canonical_request(aws_request)
    to_sign = signer.string_to_sign(aws_request, canonical)
    if signer.signed_headers(signer.headers_to_sign(aws_request)) != match["signed"]:
        return "signed headers differ", canonical, to_sign
    return signer.signature(to_sign, aws_request), canonical, to_sign
