"""OpenAI-compatible vendors as presets of `openai`: each preset's documented URL, key variable
and billing vendor, and the key sent the way each expects (Azure's api-key header included)."""

from __future__ import annotations

from typing import Any

import pytest

from evalkit.errors import UserInputError
from evalkit.providers.openai_compat import OpenAICompatProvider, OpenAISettings
from evalkit.providers.presets import azure_url
from evalkit.spec.prices import database_price
from tests.fake_openai import FakeOpenAI
from tests.providers.conftest import connected, generate, requests

KEY = "preset-test-key-0123456789"

# (preset, the vendor's documented OpenAI-compatible base URL, its key variable, billing vendor, a model it prices)
DOCUMENTED = [
    ("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "openai", "gpt-5.1"),
    ("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "groq", "llama-3.3-70b-versatile"),
    ("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", "mistral", "mistral-large-latest"),
    (
        "together",
        "https://api.together.xyz/v1",
        "TOGETHER_API_KEY",
        "together",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    ),
    (
        "fireworks",
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
        "fireworks",
        "accounts/fireworks/models/llama-v3p1-8b-instruct",
    ),
    ("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "deepseek", "deepseek-chat"),
    (
        "openrouter",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        "openrouter",
        "anthropic/claude-sonnet-4.5",
    ),
    ("xai", "https://api.x.ai/v1", "XAI_API_KEY", "x-ai", "grok-4"),
    ("cohere", "https://api.cohere.ai/compatibility/v1", "COHERE_API_KEY", "cohere", "command-r-plus"),
]


@pytest.mark.parametrize(("preset", "url", "env", "vendor", "model"), DOCUMENTED)
def test_each_preset_sets_the_documented_url_key_variable_and_prices(
    preset: str, url: str, env: str, vendor: str, model: str
) -> None:
    settings = OpenAISettings(preset=preset, model=model)  # type: ignore[arg-type]
    assert settings.base_url == url and settings.api_key_env == env
    provider = OpenAICompatProvider("p", settings)
    assert provider.price_vendor() == vendor
    price = database_price(vendor, model)
    assert price is not None and price.source.startswith("genai-prices ")


@pytest.mark.parametrize(("preset", "url", "env", "vendor", "model"), DOCUMENTED)
def test_each_preset_sends_its_key_and_names_a_missing_one(
    preset: str,
    url: str,
    env: str,
    vendor: str,
    model: str,
    fake_server: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(env, raising=False)
    settings: Any = OpenAISettings(preset=preset, base_url=fake_server.url, model=model)  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match=f"environment variable {env} is not set"):
        connected(OpenAICompatProvider("p", settings))
    monkeypatch.setenv(env, KEY)
    [out] = generate(connected(OpenAICompatProvider("p", settings)), requests(1))
    assert out.error is None and out.text == "echo: question 0"
    assert fake_server.headers_seen[-1]["Authorization"] == f"Bearer {KEY}"
    assert fake_server.requests[-1]["model"] == model


def test_ollama_is_local_needs_no_key_and_is_not_billed() -> None:
    settings = OpenAISettings(preset="ollama", model="llama3.2")
    assert settings.base_url == "http://localhost:11434/v1" and settings.api_key_env is None
    assert OpenAICompatProvider("p", settings).price_vendor() is None


def test_a_vendor_host_without_a_preset_is_priced_and_any_other_is_not() -> None:
    assert (
        OpenAICompatProvider("p", OpenAISettings(base_url="https://api.groq.com/openai/v1")).price_vendor()
        == "groq"
    )
    assert (
        OpenAICompatProvider("p", OpenAISettings(base_url="http://127.0.0.1:8000/v1")).price_vendor() is None
    )


def test_azure_deployment_url_api_version_and_api_key_header(
    fake_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    settings = OpenAISettings(
        preset="azure",
        azure_endpoint=fake_server.url.removesuffix("/v1"),
        deployment="prod-4o",
        model="gpt-4o",
    )
    provider = connected(OpenAICompatProvider("az", settings))
    assert provider.price_vendor() == "azure"
    [out] = generate(provider, requests(1))
    assert out.error is None and out.text == "echo: question 0"
    assert fake_server.paths[-1] == "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"
    headers = fake_server.headers_seen[-1]
    assert headers["Api-Key"] == KEY and "Authorization" not in headers
    assert database_price("azure", "gpt-4o") is not None


def test_azure_with_an_entra_token(fake_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_AD_TOKEN", "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra")
    settings = OpenAISettings(
        preset="azure",
        azure_endpoint=fake_server.url.removesuffix("/v1"),
        deployment="d1",
        api_version="2025-04-01-preview",
        entra_token_env="AZURE_AD_TOKEN",
        model="gpt-4o",
    )
    [out] = generate(connected(OpenAICompatProvider("az", settings)), requests(1))
    assert out.error is None
    assert fake_server.paths[-1].endswith("/deployments/d1/chat/completions?api-version=2025-04-01-preview")
    headers = fake_server.headers_seen[-1]
    assert (
        headers["Authorization"] == "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra"
        and "Api-Key" not in headers
    )


def test_azure_needs_its_endpoint_and_deployment() -> None:
    with pytest.raises(ValueError, match="preset azure needs azure_endpoint and deployment"):
        OpenAISettings(preset="azure", model="gpt-4o")
    with pytest.raises(ValueError):
        OpenAISettings.model_validate({"preset": "grok"})


@pytest.mark.parametrize("name", ["d/../../x", "..", "a b", "x?api-version=1", ""])
def test_an_azure_deployment_name_cannot_leave_its_path_segment(name: str) -> None:
    """Azure deployment names are letters, digits, '.', '_' and '-': anything else (a path, a
    query) is refused when the config is read, and the URL quotes the name as one segment."""
    with pytest.raises(ValueError, match="deployment"):
        OpenAISettings.model_validate(
            {"preset": "azure", "azure_endpoint": "https://r.example", "deployment": name}
        )
    assert azure_url("https://r.example/", "d/../x", "2024-10-21") == (
        "https://r.example/openai/deployments/d%2F..%2Fx?api-version=2024-10-21"
    )
