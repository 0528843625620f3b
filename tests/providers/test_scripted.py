"""The in-process providers: `scripted` (answers from its settings) and `replay` (from a results.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit import plugins
from evalkit.errors import UserInputError
from evalkit.providers.scripted import (
    RECORDED,
    ReplayProvider,
    ReplaySettings,
    Scripted,
    ScriptedProvider,
    ScriptedSettings,
)
from evalkit.types import CaseResult, GenerationParams, Message, Request, Usage
from tests.helpers.openai_provider import generate


def req(case: str, text: str = "hi", variant: str = "v", repeat: int = 0) -> Request:
    return Request(
        key=f"s/{case}/{variant}/{repeat}",
        suite="s",
        case_id=case,
        variant=variant,
        repeat=repeat,
        messages=(Message(role="user", content=text),),
        params=GenerationParams(),
    )


def scripted(**settings: Any) -> ScriptedProvider:
    provider = ScriptedProvider("canned", ScriptedSettings(**settings))
    provider.check()
    return provider


def test_registered_like_any_plugin() -> None:
    assert plugins.providers.get("scripted") is ScriptedProvider
    assert plugins.providers.get("replay") is ReplayProvider
    assert {e.source for e in plugins.providers.entries() if e.name in ("scripted", "replay")} == {"builtin"}


def test_mapping_by_key_then_case_then_message_with_default_and_errors() -> None:
    provider = scripted(
        answers={"s/a/v/1": "by key", "a": "by case", "what?": "by message", "b": {"error": "HTTP 503"}},
        default="dunno",
    )
    out, _ = generate(provider, [req("a", repeat=1), req("a"), req("z", "what?"), req("b"), req("c")])
    assert [c.text for c in out[:3]] == ["by key", "by case", "by message"]
    assert out[3].error == "HTTP 503" and out[3].text is None
    assert out[4].text == "dunno" and out[4].error is None


def test_list_answers_in_arrival_order_and_none_left_is_an_error() -> None:
    provider = scripted(answers=["one", "two"])
    out, _ = generate(provider, [req("a"), req("b"), req("c")])
    assert [c.text for c in out[:2]] == ["one", "two"]
    assert out[2].error == "scripted provider 'canned' has no answer for s/c/v/0"


def test_keeps_the_keys_of_the_first_requests_only() -> None:
    """A run of a million cases must not hold a million keys: `calls` stops at RECORDED."""
    provider = scripted(default="x")
    out, _ = generate(provider, [req(f"c{i}") for i in range(RECORDED + 5)])
    assert len(out) == RECORDED + 5 and all(c.text == "x" for c in out)
    assert len(provider.calls) == RECORDED and provider.calls[0] == "s/c0/v/0"


def test_respond_callable_returns_text_dict_or_raises() -> None:
    def respond(request: Request) -> Any:
        if request.case_id == "boom":
            raise ValueError("no")
        if request.case_id == "rich":
            return {"text": "R", "usage": {"input_tokens": 4, "output_tokens": 1}, "finish_reason": "length"}
        return request.messages[-1].content.upper()

    out, _ = generate(scripted(respond=respond, model="m-1"), [req("a", "abc"), req("rich"), req("boom")])
    assert out[0].text == "ABC" and out[0].model_version == "m-1"
    assert out[1].text == "R" and out[1].usage == Usage(input_tokens=4, output_tokens=1)
    assert out[1].finish_reason == "length"
    assert out[2].error == "ValueError: no"


def test_respond_by_import_path_and_a_bad_one(tmp_path: Path) -> None:
    provider = scripted(respond="tests.providers.test_scripted:shout")
    assert generate(provider, [req("a", "hey")])[0][0].text == "HEY"
    with pytest.raises(UserInputError, match="cannot import"):
        scripted(respond="tests.nope:fn")


def shout(request: Request) -> Scripted:
    return Scripted(text=request.messages[-1].content.upper())


def stored(case: str, variant: str, repeat: int, output: str | None, error: str | None = None) -> str:
    record = CaseResult(
        suite="s",
        case_id=case,
        variant=variant,
        repeat=repeat,
        provider="api",
        model="m-7",
        messages=[Message(role="user", content="hi")],
        output=output,
        error=error,
        finish_reason="stop",
        latency_ms=12.5,
        usage=Usage(input_tokens=3, output_tokens=2),
        model_version="m-7 (fp)",
    )
    return record.model_dump_json()


def write_results(path: Path) -> Path:
    lines = [
        stored("a", "base", 0, "A from base"),
        stored("a", "cand", 0, "A from cand"),
        stored("a", "base", 1, "A again"),
        stored("b", "base", 0, None, error="HTTP 500"),
    ]
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    return path


def test_replay_exact_answers_with_the_stored_output_usage_and_error(tmp_path: Path) -> None:
    run_dir = write_results(tmp_path / "run")
    provider = ReplayProvider("again", ReplaySettings(results=str(run_dir)))
    provider.check()
    out, _ = generate(
        provider,
        [req("a", variant="cand"), req("a", variant="base", repeat=1), req("b", variant="base"), req("c")],
    )
    assert out[0].text == "A from cand" and out[0].usage.output_tokens == 2 and out[0].latency_ms == 12.5
    assert out[0].model_version == "m-7 (fp)" and provider.model_name(req("a", variant="cand")) == "m-7"
    assert out[1].text == "A again"
    assert out[2].error == "HTTP 500"
    assert out[3].error is not None and "has no result for s/c/v/0" in out[3].error


def test_replay_by_case_from_a_chosen_variant(tmp_path: Path) -> None:
    run_dir = write_results(tmp_path / "run")
    provider = ReplayProvider("again", ReplaySettings(results=str(run_dir), match="case", variant="cand"))
    provider.check()
    out, _ = generate(provider, [req("a", variant="new"), req("a", variant="new", repeat=3)])
    assert [c.text for c in out] == ["A from cand", "A from cand"]  # repeat 3 falls back to repeat 0


def test_replay_refuses_a_missing_or_garbled_file(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no results file"):
        ReplayProvider("again", ReplaySettings(results=str(tmp_path / "nope.jsonl"))).check()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(stored("a", "v", 0, "ok") + "\n" + json.dumps({"suite": "s"}) + "\n")
    with pytest.raises(UserInputError) as info:
        ReplayProvider("again", ReplaySettings(results=str(bad))).check()
    assert info.value.line == 2 and "not a result line" in str(info.value)
