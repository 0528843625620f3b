"""Gemini on Vertex AI (`vertexai: true`): the Google Cloud project, the location and the
credentials, resolved before any model call.

Credentials come from an OAuth access token in the environment variable `access_token_env`
names (for example the output of `gcloud auth print-access-token`), else from Google's standard
chain (google-auth's Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, `gcloud
auth application-default login`, a workload's attached service account). Either way the token
is registered as a secret, so it appears in no artifact, log line or error; a token the chain
refreshes later is registered when it first appears (`Vertex.register_token`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from evalkit._util import secrets
from evalkit.errors import AuthenticationError, UserInputError
from evalkit.spec.config import env_secret

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


@dataclass
class Vertex:
    """A Vertex AI connection's project, location and google-auth credentials."""

    project: str
    location: str
    credentials: Any
    provider: str
    _registered: str | None = None

    def register_token(self) -> None:
        """Scrub the credentials' current token from everything evalkit writes."""
        token = getattr(self.credentials, "token", None)
        if token and token != self._registered:
            secrets.register(str(token), f"the Google access token (provider '{self.provider}')")
            self._registered = str(token)

    def base_url(self) -> str:
        """The regional endpoint the SDK calls (the global one for `global`)."""
        if self.location == "global":
            return "https://aiplatform.googleapis.com"
        return f"https://{self.location}-aiplatform.googleapis.com"


def resolve(provider: str, project: str | None, location: str | None, token_env: str | None) -> Vertex:
    """The project, location and credentials, or a UserInputError naming what is missing."""
    if token_env is not None:
        from google.oauth2.credentials import Credentials

        token = env_secret(token_env, what=f"provider '{provider}' (access_token_env)")
        credentials: Any = Credentials(token=token)  # type: ignore[no-untyped-call]
        found_project = None
    else:
        credentials, found_project = _default_credentials(provider)
    project = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or found_project
    if not project:
        raise UserInputError(
            f"provider '{provider}': Vertex AI needs a Google Cloud project: set `project:` or "
            "GOOGLE_CLOUD_PROJECT"
        )
    location = location or os.environ.get("GOOGLE_CLOUD_LOCATION") or "global"
    vertex = Vertex(project, location, credentials, provider)
    vertex.register_token()
    return vertex


def _default_credentials(provider: str) -> tuple[Any, str | None]:
    """google-auth's Application Default Credentials, refreshed once so that a missing or
    refused credential stops the run before any model call."""
    import google.auth
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    try:
        credentials, project = google.auth.default(scopes=list(SCOPES))
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise UserInputError(
            f"provider '{provider}': no Google credentials for Vertex AI ({secrets.scrub(str(exc))[:200]}); "
            "run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or name "
            "a variable holding an access token in `access_token_env:`"
        ) from None
    try:
        credentials.refresh(Request())  # type: ignore[no-untyped-call]
    except google.auth.exceptions.GoogleAuthError as exc:
        raise AuthenticationError(
            f"provider '{provider}': the Google credentials could not be refreshed: "
            f"{secrets.scrub(str(exc))[:200]}"
        ) from None
    return credentials, project
