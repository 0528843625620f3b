"""OpenAI-compatible vendors as presets of the `openai` provider: `preset: groq` sets the base
URL, the environment variable holding the key and the vendor the price database bills, so a
user writes only the model. Each URL is the vendor's documented OpenAI-compatible endpoint.

Azure OpenAI is a preset too, with its own shape: the deployment's URL
`{azure_endpoint}/openai/deployments/{deployment}?api-version=...` and the key in an `api-key`
header (or an Entra ID token as `Authorization: Bearer`, from `entra_token_env`). With
`api: responses` it is the resource's v1 API, `{azure_endpoint}/openai/v1/responses`, with the
deployment name as the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit


@dataclass(frozen=True)
class Preset:
    base_url: str
    key_env: str | None  # None: no key (a local server)
    vendor: str | None  # the price database's id of the vendor; None: nobody bills it


PRESETS: dict[str, Preset] = {
    "openai": Preset("https://api.openai.com/v1", "OPENAI_API_KEY", "openai"),
    "groq": Preset("https://api.groq.com/openai/v1", "GROQ_API_KEY", "groq"),
    "mistral": Preset("https://api.mistral.ai/v1", "MISTRAL_API_KEY", "mistral"),
    "together": Preset("https://api.together.xyz/v1", "TOGETHER_API_KEY", "together"),
    "fireworks": Preset("https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY", "fireworks"),
    "deepseek": Preset("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "deepseek"),
    "openrouter": Preset("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "openrouter"),
    "xai": Preset("https://api.x.ai/v1", "XAI_API_KEY", "x-ai"),
    "cohere": Preset("https://api.cohere.ai/compatibility/v1", "COHERE_API_KEY", "cohere"),
    "ollama": Preset("http://localhost:11434/v1", None, None),
}
AZURE_KEY_ENV = "AZURE_OPENAI_API_KEY"
AZURE_API_VERSION = "2024-10-21"  # the current GA data-plane version


def vendor_of(base_url: str, preset: str | None) -> str | None:
    """Whose bill a base URL runs up: the preset's vendor, else the vendor whose documented host it is."""
    if preset == "azure":
        return "azure"
    if preset is not None:
        return PRESETS[preset].vendor
    host = urlsplit(base_url).hostname
    for known in PRESETS.values():
        if known.vendor is not None and urlsplit(known.base_url).hostname == host:
            return known.vendor
    return None


def azure_url(endpoint: str, deployment: str, api_version: str) -> str:
    path, version = quote(deployment, safe=""), quote(api_version, safe="")  # one path segment, always
    return f"{endpoint.rstrip('/')}/openai/deployments/{path}?api-version={version}"


def azure_v1_url(endpoint: str) -> str:
    """The resource's v1 API (the Responses API: the deployment name goes in the body's `model`)."""
    return f"{endpoint.rstrip('/')}/openai/v1"
