"""Gemini on Vertex AI (`vertexai: true`) with google-genai pointed at FakeGemini: the Vertex
URL path (projects/P/locations/L/publishers/google/models/M:generateContent), the bearer token
from an environment variable or from google-auth's standard chain (an ADC file whose token
endpoint is the fake), and the token in no error, description or log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import AuthenticationError, ModelNotFoundError, UserInputError
from evalkit.providers.gemini import GeminiProvider, GeminiSettings
from tests.fake_gemini import FakeGemini
from tests.providers.conftest import connected, generate, requests, service_account_file

TOKEN = "ya29.a0-vertex-access-token-0123456789abcdef"


@pytest.fixture
def vertex(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("VERTEX_TOKEN", TOKEN)
    for var in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    with FakeGemini() as fake:
        fake.vertex_token = TOKEN
        yield fake


def settings(fake: FakeGemini, **extra: Any) -> GeminiSettings:
    values: dict[str, Any] = {
        "model": "gemini-2.5-flash",
        "base_url": fake.url,
        "vertexai": True,
        "project": "evals-prod",
        "location": "europe-west4",
        "access_token_env": "VERTEX_TOKEN",
        "backoff_base_s": 0.01,
        **extra,
    }
    return GeminiSettings(**{k: v for k, v in values.items() if v is not None})


def test_calls_the_vertex_path_with_the_bearer_token(vertex: FakeGemini) -> None:
    provider = connected(GeminiProvider("g", settings(vertex)))
    [out] = generate(provider, requests(1, system="Be brief."))
    assert out.error is None and out.text == "echo: question 0"
    seen = vertex.seen[-1]
    assert seen.path == (
        "/v1beta1/projects/evals-prod/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "x-goog-api-key" not in {k.lower() for k in seen.headers}
    assert out.usage.input_tokens is not None and out.usage.output_tokens is not None
    assert vertex.body(-1)["systemInstruction"]["parts"][0]["text"] == "Be brief."
    described = json.dumps(provider.describe())
    assert TOKEN not in described and '"vertexai": true' in described and "evals-prod" in described


def test_streams_on_vertex_too(vertex: FakeGemini) -> None:
    [out] = generate(connected(GeminiProvider("g", settings(vertex, stream=True))), requests(1))
    assert out.error is None and out.text == "echo: question 0" and out.ttft_ms is not None
    assert vertex.seen[-1].path.endswith("/models/gemini-2.5-flash:streamGenerateContent")


def test_adc_from_the_standard_chain(
    vertex: FakeGemini, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service-account key file in GOOGLE_APPLICATION_CREDENTIALS (the standard chain) whose
    token endpoint is the fake: google-auth signs the JWT grant and fetches a token before any
    model call; that token goes as the bearer token and is scrubbed like any secret."""
    monkeypatch.setenv(
        "GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path, f"{vertex.url}/token"))
    )
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    vertex.vertex_token = vertex.issued_token
    provider = connected(
        GeminiProvider("g", settings(vertex, access_token_env=None, project=None, location=None))
    )
    [out] = generate(provider, requests(1))
    assert out.error is None
    assert [s.path for s in vertex.seen] == [
        "/token",
        "/v1beta1/projects/from-env/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
    ]
    assert b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" in vertex.seen[0].body
    assert vertex.seen[-1].headers["Authorization"] == f"Bearer {vertex.issued_token}"
    from evalkit._util import secrets

    assert vertex.issued_token not in secrets.scrub(f"token {vertex.issued_token}")


def test_no_credentials_is_named_before_any_call(
    vertex: FakeGemini, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(UserInputError, match="no Google credentials for Vertex AI") as raised:
        connected(GeminiProvider("g", settings(vertex, access_token_env=None)))
    assert "gcloud auth application-default login" in str(raised.value)
    monkeypatch.delenv("VERTEX_TOKEN")
    with pytest.raises(UserInputError, match="environment variable VERTEX_TOKEN is not set"):
        connected(GeminiProvider("g", settings(vertex)))
    assert vertex.seen == []


def test_a_refused_token_stops_the_run_without_showing_it(
    vertex: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "ya29.a0-expired-token-9876543210fedcba"
    monkeypatch.setenv("VERTEX_TOKEN", wrong)
    with pytest.raises(AuthenticationError) as raised:
        generate(connected(GeminiProvider("g", settings(vertex)), 4), requests(4))
    assert "refused the credentials (HTTP 401 UNAUTHENTICATED)" in str(raised.value)
    assert wrong not in str(raised.value)
    assert len(vertex.seen) == 1


def test_a_model_vertex_does_not_know_stops_the_run(vertex: FakeGemini) -> None:
    vertex.models = {"gemini-2.5-flash"}
    with pytest.raises(ModelNotFoundError) as raised:
        generate(connected(GeminiProvider("g", settings(vertex, model="gemini-9-ultra")), 4), requests(4))
    assert "the Gemini API does not know model 'gemini-9-ultra' (HTTP 404)" in str(raised.value)
    assert "publishers/google/models/gemini-9-ultra" in str(raised.value) and len(vertex.seen) == 1


def test_vertex_settings_need_vertexai_and_the_project_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="project, location apply to Vertex AI only: set vertexai: true"):
        GeminiSettings(project="p", location="us-central1")
    for var in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VERTEX_TOKEN", TOKEN)
    with pytest.raises(UserInputError, match="Vertex AI needs a Google Cloud project"):
        GeminiProvider("g", GeminiSettings(vertexai=True, access_token_env="VERTEX_TOKEN")).check()
    provider = GeminiProvider(
        "g", GeminiSettings(vertexai=True, project="p", location="us-east5", access_token_env="VERTEX_TOKEN")
    )
    provider.check()
    assert provider.base_url() == "https://us-east5-aiplatform.googleapis.com"
    assert provider.connection_key() == "gemini:https://us-east5-aiplatform.googleapis.com:p/us-east5"
    assert provider.price_vendor() == "google"


def test_the_docs_example_is_a_valid_vertex_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from tests.docs.conftest import ROOT, blocks

    page = ROOT / "docs" / "guide" / "providers.md"
    [example] = [b for b in blocks("yaml") if b.page == page and "vertexai: true" in b.body]
    entry = dict(yaml.safe_load(example.body)["providers"]["gemini-vertex"])
    assert entry.pop("type") == "gemini"
    monkeypatch.setenv("VERTEX_TOKEN", TOKEN)
    provider = GeminiProvider(
        "g", GeminiSettings.model_validate({**entry, "access_token_env": "VERTEX_TOKEN"})
    )
    provider.check()
    assert provider.base_url() == "https://us-central1-aiplatform.googleapis.com"
    assert provider.describe()["project"] == "my-gcp-project"


@pytest.mark.parametrize(
    ("key", "value"), [("location", "us central 1"), ("location", "../x"), ("project", "my proj/x")]
)
def test_a_project_or_location_that_cannot_be_one_is_refused_when_the_config_is_read(
    key: str, value: str
) -> None:
    """A typo'd location used to reach DNS (each case an error, exit 3): now a config error (exit 2)."""
    with pytest.raises(ValueError, match=key):
        GeminiSettings.model_validate({"vertexai": True, key: value})
    assert GeminiSettings.model_validate({"vertexai": True, "project": "p-1", "location": "us-central1"})
