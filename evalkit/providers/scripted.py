"""In-process providers that call no model: `scripted` answers from its settings, `replay`
answers from a stored results.jsonl. Stages get fast unit tests without HTTP, and users can
re-score, demo or rehearse a gate without a model.

    providers:
      canned: {type: scripted, answers: {q1: Paris, q2: {error: "HTTP 503"}}, default: "I don't know"}
      again:  {type: replay, results: reports/20260101-120000-ab12/results.jsonl}
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit._util.models import new_list
from evalkit.errors import UserInputError
from evalkit.providers.base import Provider
from evalkit.registry import import_object
from evalkit.rundir.files import read_results
from evalkit.types import CaseResult, Completion, Request, Usage


class Scripted(BaseModel):
    """One scripted answer: the output text, or an error; optionally its latency and usage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None  # the answer's text
    error: str | None = None  # make this answer an error result with this message
    finish_reason: str = "stop"  # stop, length, ... as a provider reports it
    latency_s: float = Field(default=0.0, ge=0)  # seconds the answer takes
    usage: Usage = Field(default_factory=Usage)  # the tokens the answer reports


ScriptedAnswer = str | Scripted
RECORDED = 1_000  # request keys a scripted provider keeps (`calls`)


class ScriptedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A list: the n-th request to arrive gets the n-th answer. A mapping: looked up by the
    # request's key ("suite/case/variant/repeat"), then its case id, then its last message.
    answers: list[ScriptedAnswer] | dict[str, ScriptedAnswer] = Field(default_factory=new_list)
    # A function (request -> str | dict | Scripted), or "module:function" naming one.
    respond: str | Callable[..., Any] | None = None
    default: ScriptedAnswer | None = None  # when nothing else answers (else: an error result)
    latency_s: float = Field(default=0.0, ge=0)  # for every answer that sets none
    model: str = "scripted"  # the model name recorded on results (a variant's `model:` wins)
    cache: bool = False  # let the response cache keep its answers (to test or demo caching)


class ScriptedProvider(Provider[ScriptedSettings]):
    """Answers from its settings, in process, concurrently under the framework's limiter."""

    settings_model = ScriptedSettings

    def __init__(self, name: str, settings: ScriptedSettings):
        super().__init__(name, settings)
        self._arrivals = itertools.count()
        self._respond: Callable[..., Any] | None = None
        # the keys of the first RECORDED requests, in the order they were asked (for tests and
        # debugging: a run of a million cases must not keep a million keys)
        self.calls: list[str] = []

    def check(self) -> None:
        respond = self.settings.respond
        if isinstance(respond, str):
            self._respond = import_object(respond, what=f"provider '{self.name}' respond")
        else:
            self._respond = respond

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": "scripted", "model": self.settings.model}

    def model_name(self, request: Request) -> str | None:
        return request.model or self.settings.model

    def cache_identity(self, request: Request) -> dict[str, Any] | None:
        if not self.settings.cache:
            return None
        return {"type": "scripted", "name": self.name, "model": self.model_name(request)}

    def answer_for(self, request: Request, arrival: int) -> ScriptedAnswer | None:
        if self._respond is None and self.settings.respond is not None:
            self.check()
        if self._respond is not None:
            return _coerce(self._respond(request))
        answers = self.settings.answers
        if isinstance(answers, list):
            return answers[arrival] if arrival < len(answers) else self.settings.default
        last = request.messages[-1].content if request.messages else ""
        for key in (request.key, request.case_id, last):
            if key in answers:
                return answers[key]
        return self.settings.default

    async def complete(self, request: Request) -> Completion:
        arrival = next(self._arrivals)
        if len(self.calls) < RECORDED:
            self.calls.append(request.key)
        try:
            found = self.answer_for(request, arrival)
        except Exception as exc:  # a respond function's bug: one error result
            return Completion(error=f"{type(exc).__name__}: {exc}")
        if found is None:
            return Completion(error=f"scripted provider '{self.name}' has no answer for {request.key}")
        answer = found if isinstance(found, Scripted) else Scripted(text=found)
        latency = answer.latency_s or self.settings.latency_s
        if latency:
            await asyncio.sleep(latency)
        if answer.error is not None:
            return Completion(error=answer.error, latency_ms=latency * 1000.0)
        return Completion(
            text=answer.text or "",
            finish_reason=answer.finish_reason,
            usage=answer.usage,
            latency_ms=latency * 1000.0,
            model_version=self.model_name(request),
        )


def _coerce(value: Any) -> ScriptedAnswer | None:
    if value is None or isinstance(value, str | Scripted):
        return value
    if isinstance(value, Mapping):
        return Scripted.model_validate(dict(value))
    raise TypeError(f"respond returned {type(value).__name__}, expected str, dict or None")


class ReplaySettings(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    results: str  # a results.jsonl, or a run directory holding one
    # exact: the same suite, case, variant and repeat; case: the same suite, case and repeat
    # from any variant (repeat 0 when the stored run had fewer repeats).
    match: Literal["exact", "case"] = "exact"
    variant: str | None = None  # with match: case, replay this stored variant's answers


class ReplayProvider(Provider[ReplaySettings]):
    """Answers with the outputs (and errors, usage, latency) a stored run recorded."""

    settings_model = ReplaySettings

    def __init__(self, name: str, settings: ReplaySettings):
        super().__init__(name, settings)
        self._stored: dict[tuple[str, ...], CaseResult] | None = None

    def path(self) -> Path:
        path = Path(self.settings.results).expanduser()
        return path / "results.jsonl" if path.is_dir() else path

    def check(self) -> None:
        if not self.path().is_file():
            raise UserInputError(f"provider '{self.name}': no results file at {self.path()}")
        self._load()

    def _load(self) -> dict[tuple[str, ...], CaseResult]:
        if self._stored is None:
            stored: dict[tuple[str, ...], CaseResult] = {}
            # the run directory's own reader: migrations, a torn last line skipped, file:line errors
            for record in read_results(self.path()):
                stored[self._key(record.suite, record.case_id, record.variant, record.repeat)] = record
                if self.settings.match == "case" and self.settings.variant in (None, record.variant):
                    stored.setdefault(("case", record.suite, record.case_id, str(record.repeat)), record)
            self._stored = stored
        return self._stored

    def _key(self, suite: str, case_id: str, variant: str, repeat: int) -> tuple[str, ...]:
        return ("exact", suite, case_id, variant, str(repeat))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "replay",
            "results": str(self.path()),
            "match": self.settings.match,
        }

    def find(self, request: Request) -> CaseResult | None:
        stored = self._load()
        if self.settings.match == "exact":
            return stored.get(self._key(request.suite, request.case_id, request.variant, request.repeat))
        for repeat in (request.repeat, 0):
            found = stored.get(("case", request.suite, request.case_id, str(repeat)))
            if found is not None:
                return found
        return None

    def model_name(self, request: Request) -> str | None:
        found = self.find(request)
        return found.model if found is not None and found.model else "replay"

    async def complete(self, request: Request) -> Completion:
        found = self.find(request)
        if found is None:
            return Completion(error=f"replay '{self.name}': {self.path()} has no result for {request.key}")
        return found.replayed()
