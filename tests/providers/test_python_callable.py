from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import UserInputError
from evalkit.providers.python_callable import PythonCallableProvider, PythonSettings
from evalkit.types import GenerationParams, Message, Request
from tests.conftest import write
from tests.helpers.openai_provider import generate


def shout(messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]) -> Any:
    text = messages[-1]["content"]
    if text == "boom":
        raise RuntimeError("exploded")
    if options.get("rich"):
        return {
            "text": text.upper(),
            "usage": {"input_tokens": 3, "output_tokens": 1},
            "model_version": "shout-1",
        }
    return text.upper()


async def ashout(messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]) -> str:
    await asyncio.sleep(0)
    return messages[-1]["content"][::-1]


def req(text: str) -> Request:
    return Request(
        key=text,
        suite="s",
        case_id=text,
        variant="v",
        repeat=0,
        messages=(Message(role="user", content=text),),
        params=GenerationParams(),
    )


def test_sync_and_async_callables_and_errors() -> None:
    p = PythonCallableProvider("py", PythonSettings(callable="tests.providers.test_python_callable:shout"))
    p.check()
    out, _ = generate(p, [req("hi"), req("boom")])
    assert out[0].text == "HI" and out[1].error == "RuntimeError: exploded"
    rich = PythonCallableProvider(
        "py", PythonSettings(callable="tests.providers.test_python_callable:shout", options={"rich": True})
    )
    c = generate(rich, [req("ok")])[0][0]
    assert c.text == "OK" and c.usage.output_tokens == 1 and c.model_version == "shout-1"
    a = PythonCallableProvider("py", PythonSettings(callable="tests.providers.test_python_callable:ashout"))
    assert generate(a, [req("abc")])[0][0].text == "cba"


def test_bad_callable_is_a_user_error() -> None:
    with pytest.raises(UserInputError, match="cannot import"):
        PythonCallableProvider("py", PythonSettings(callable="tests.nope:fn")).check()


def test_custom_provider_and_scorer_through_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin module registers a provider and a scorer with the decorators, as third parties do."""
    from typer.testing import CliRunner

    from evalkit.cli.app import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    write(
        tmp_path / "my_plugin.py",
        """
        from evalkit import Completion, Provider, Score, Scorer, provider, scorer
        from pydantic import BaseModel

        class Settings(BaseModel):
            suffix: str = "!"

        @provider("parrot")
        class Parrot(Provider[Settings]):
            settings_model = Settings
            async def complete(self, request):
                return Completion(text=request.messages[-1].content + self.settings.suffix)

        class Length(Scorer):
            names = ("length",)
            def score_one(self, item):
                return [Score(name="length", value=float(len(item.output)))]

        @scorer("length", higher_is_better=False)
        def length():
            return Length()
        """,
    )
    write(
        tmp_path / "evalkit.yaml", "plugins: [my_plugin.py]\nproviders:\n  p: {type: parrot, suffix: '?!'}\n"
    )
    write(
        tmp_path / "s.yaml",
        'name: s\nprompt: "{{ x }}"\nscorers: [length]\ncases:\n  - {id: a, vars: {x: hello}}\n',
    )
    result = CliRunner().invoke(app, ["run", "s.yaml", "-o", "out"])
    assert result.exit_code == 0, result.output
    line = (tmp_path / "out" / "results.jsonl").read_text()
    assert '"output":"hello?!"' in line and '"length":{"value":7.0' in line


@pytest.mark.parametrize("order", ["exit4", "exit0", "interrupt", "object"])
def test_user_code_neither_kills_nor_ends_the_run(workdir: Path, cli, order: str) -> None:
    """One value JSON cannot store, or a `sys.exit()` / KeyboardInterrupt inside the callable,
    is one error result: the other cases run, and the exit code is evalkit's own."""
    write(
        workdir / "evalkit.yaml",
        "providers:\n  py: {type: python, callable: 'tests.agent.sample_tools:unruly'}\n",
    )
    questions = [order, "set", *[f"q{i}" for i in range(18)]]
    cases = "\n".join(f"  - {{id: c{i}, vars: {{q: '{q}'}}}}" for i, q in enumerate(questions))
    write(workdir / "s.yaml", f'name: s\nprompt: "{{{{ q }}}}"\nscorers: [json_valid]\ncases:\n{cases}\n')
    result = cli("run", "s.yaml", "-o", "out", "--no-baseline")
    rows = {
        r["case_id"]: r for r in map(json.loads, (workdir / "out" / "results.jsonl").read_text().splitlines())
    }
    assert len(rows) == 20, result.output
    summary = json.loads((workdir / "out" / "summary.json").read_text())
    assert result.exit_code == summary["exit_code"] == 0  # 1 error of 20 is within the error budget
    error = rows["c0"]["error"]
    expected = {"exit4": "SystemExit(4)", "exit0": "SystemExit(0)", "interrupt": "KeyboardInterrupt"}
    assert expected.get(order, "a Opaque is not a JSON value") in error
    assert rows["c1"]["error"] is None and rows["c1"]["steps"][0]["output"] == [7]
    assert sum(r["error"] is not None for r in rows.values()) == 1
