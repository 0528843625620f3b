"""Every code and YAML example in the docs (and the README) is run or validated: a YAML block is
a config or a suite (or a part of one), a JSON block a label line, a Python block runs, and
every `evalkit` command line in a bash block parses with today's CLI."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import shlex
from typing import Any

import pytest
import yaml

from evalkit.spec.config import Config
from evalkit.spec.suite import SuiteSpec
from tests.docs.conftest import ROOT, Block, blocks, parse_evalkit

CONFIG_KEYS = {"providers", "variants", "suites", "run", "cache", "pricing", "plugins", "history"}
SUITE_PART_KEYS = {"cases", "thresholds", "scorers", "tools", "agent"}


def _validate_workflow(data: dict[str, Any]) -> None:
    """A GitHub workflow: every step that uses evalkit's action passes only the inputs it has."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    steps = [step for job in data["jobs"].values() for step in job["steps"]]
    ours = [
        s for s in steps if str(s.get("uses", "")).split("@")[0].endswith("/evalkit") or s.get("uses") == "./"
    ]
    assert ours, "a workflow example that does not use the evalkit action"
    for step in ours:
        assert set(step.get("with") or {}) <= set(action["inputs"]), step["with"]


def _validate_yaml(data: dict[str, Any]) -> None:
    keys = set(data)
    if "jobs" in keys:
        _validate_workflow(data)
    elif "name" in keys:
        SuiteSpec.model_validate(data)
    elif keys & CONFIG_KEYS:
        Config.model_validate({"providers": {"local": {"type": "transformers"}}, **data})
    elif keys <= SUITE_PART_KEYS:
        SuiteSpec.model_validate({"name": "x", "prompt": "p", "cases": [], **data})
    else:
        pytest.fail(f"a YAML example this test cannot validate (top-level keys {sorted(keys)})")


@pytest.mark.parametrize("block", blocks("yaml"), ids=str)
def test_yaml_examples_validate(block: Block) -> None:
    data = yaml.safe_load(block.body)
    assert isinstance(data, dict), "a YAML example is a mapping"
    _validate_yaml(data)


@pytest.mark.parametrize("block", blocks("json"), ids=str)
def test_json_examples_are_label_lines(block: Block) -> None:
    from evalkit.human.labels import Label

    for line in block.body.splitlines():
        Label.model_validate(json.loads(line))


def _check_extras(words: list[str]) -> None:
    """`pip install ... '.[a,b]'` or `'evalkit[a]'`: each extra is one evalkit declares."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for word in words[2:]:
        wheel = re.fullmatch(r"dist/evalkit-([\w.]+)-py3-none-any\.whl(\[[\w,]+\])?", word)
        if wheel:  # the wheel `python -m build` writes for today's version
            assert wheel.group(1) == project["version"], word
            word = f"evalkit{wheel.group(2) or ''}"
        for group in re.findall(r"^(?:\.|evalkit)\[([\w,]+)\]$", word):
            assert set(group.split(",")) <= set(extras), word


def _command_lines(block: Block) -> list[list[str]]:
    lines = [shlex.split(line, comments=True) for line in block.body.replace("\\\n", " ").splitlines()]
    return [words for words in lines if words]


def _commands(block: Block) -> list[list[str]]:
    """Each command of the block: `a && b` is two; a virtual environment's `.venv/bin/pip` or
    `~/evalkit-env/bin/pip` is `pip`."""
    out: list[list[str]] = []
    for words in _command_lines(block):
        current: list[str] = []
        for word in [*words, "&&"]:
            if word != "&&":
                current.append(word)
                continue
            while current and "=" in current[0] and not current[0].startswith("-"):
                current = current[1:]  # VAR=value before the command
            if current:
                out.append([re.sub(r"^(?:\.venv|~/[\w-]+)/bin/", "", current[0]), *current[1:]])
            current = []
    return out


@pytest.mark.parametrize("block", blocks("bash"), ids=str)
def test_bash_examples_parse(block: Block) -> None:
    for words in _commands(block):
        if words[0] == "source":
            assert words[1].endswith("/bin/activate"), words
        elif words[0] == "evalkit":
            parse_evalkit(words[1:])
        elif words[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(words[2]) is not None, words[2]
        elif words[:2] == ["pip", "install"]:
            _check_extras(words)
        elif words[0] == "python":
            assert (ROOT / words[1]).is_file(), words[1]
        elif words[0] == "pytest":
            _parse_pytest(words[1:])
        elif words[0] == "export":
            assert all("=" in w for w in words[1:])
        elif words[0] == "python3":
            assert block.page.name in ("README.md", "getting-started.md")  # the set-up commands
        else:
            pytest.fail(f"a command this test cannot check: {' '.join(words)}")


def _parse_pytest(args: list[str]) -> None:
    """A pytest command line parsed by pytest itself, with its plugins (evalkit's, xdist) loaded."""
    from _pytest.config import _prepareconfig

    config = _prepareconfig(args)
    config._ensure_unconfigure()


def test_a_mistyped_command_is_caught() -> None:
    """The checker itself can fail: an unknown option or command is refused."""
    with pytest.raises(Exception, match="No such option"):
        parse_evalkit(["run", "--no-such-option"])
    with pytest.raises(Exception, match="No such command"):
        parse_evalkit(["no-such-command"])
    with pytest.raises(Exception, match="No such option"):
        parse_evalkit(["history", "report", "--no-such-option"])
    with pytest.raises(pytest.UsageError, match="unrecognized arguments: --evalkit-nope"):
        _parse_pytest(["--evalkit-nope"])


def _python_blocks(marker: str) -> list[Block]:
    return [b for b in blocks("python") if marker in b.body]


def test_every_python_example_is_run() -> None:
    markers = ("@evalkit.scorer", '@provider("echo")', '{"output":', '@provider("quota")', "evalkit.run(")
    for block in blocks("python"):
        assert sum(m in block.body for m in markers) == 1, f"{block}: a Python example no test runs"


def test_the_provider_example_answers() -> None:
    from evalkit.types import Message, Request

    (block,) = _python_blocks('@provider("echo")')
    namespace: dict[str, Any] = {"__name__": "docs_provider_example"}
    exec(compile(block.body, str(block), "exec", dont_inherit=True), namespace)
    echo = namespace["Echo"]("echo", namespace["EchoSettings"](suffix="?"))
    request = Request.model_validate(
        {
            "key": "s/c/v/0",
            "suite": "s",
            "case_id": "c",
            "variant": "v",
            "repeat": 0,
            "messages": [Message(role="user", content="hi")],
            "params": {},
        }
    )
    completion = asyncio.run(echo.complete(request))
    assert completion.text == "hi?"


def test_the_rate_limit_example_backs_off_through_the_framework() -> None:
    """The provider raises RateLimited; the framework halves the limit, waits and retries."""
    from evalkit.providers.service import Connected, ProviderService, ProviderSpec, build_providers
    from evalkit.types import Message, Request

    (block,) = _python_blocks('@provider("quota")')
    namespace: dict[str, Any] = {"__name__": "docs_quota_example"}
    exec(compile(block.body, str(block), "exec", dont_inherit=True), namespace)
    spec = ProviderSpec("q", "quota", namespace["Quota"], namespace["QuotaSettings"](), limit=4)
    provider = build_providers({"q": spec})["q"]
    assert isinstance(provider, Connected)
    batch = [
        Request(
            key=f"s/c{i}/v/0",
            suite="s",
            case_id=f"c{i}",
            variant="v",
            repeat=0,
            messages=(Message(role="user", content="hi"),),
            params={},  # type: ignore[arg-type]
        )
        for i in range(6)
    ]
    out = asyncio.run(ProviderService({"q": provider}).complete("q", batch, "generate"))
    assert [c.text for c in out] == ["ok"] * 6
    assert sorted(c.attempts for c in out) == [1, 1, 1, 1, 1, 2]
    assert provider.limiter.decreases == 1 and 2 <= provider.limiter.limit < 4  # halved, growing back
    assert provider.plugin.sent == 7


def test_the_trace_example_is_a_valid_trace() -> None:
    from evalkit.tools.trace import is_trace, trace_completion

    (block,) = _python_blocks('{"output":')
    trace = eval(compile(block.body, str(block), "eval", dont_inherit=True), {})
    trace = json.loads(json.dumps(trace, default=lambda _: None))  # `[...]` / `{...}`: any value
    assert is_trace(trace)
    completion = trace_completion(trace, "c", 10.0)
    assert completion.error is None and completion.text == "It shipped on Monday."
    assert [s.name for s in completion.steps or ()] == ["search", "lookup_order", "answer"]


def test_the_scorer_example_registers_and_scores() -> None:
    """The plugin example in "Writing a scorer" works as written, with the transforms."""
    from evalkit.scorers.base import build_scorer
    from evalkit.types import ScoreInput

    (block,) = _python_blocks("@evalkit.scorer")
    exec(compile(block.body, str(block), "exec", dont_inherit=True), {"__name__": "docs_scorer_example"})
    spec = SuiteSpec.model_validate(
        {
            "name": "x",
            "prompt": "p",
            "cases": [],
            "scorers": [{"type": "length", "unit": "words", "threshold": 3}],
        }
    )
    configured = build_scorer(spec.scorers[0], "docs")
    rows = configured.score([ScoreInput(output="one two three four", references=(), vars={}, case_id="c")])
    assert [(s.name, s.value, s.passed) for s in rows[0]] == [("length", 4.0, False)]  # lower is better
    assert configured.info.higher_is_better is False and configured.info.description == "output length"


def test_the_python_api_example_runs(workdir: Any) -> None:
    """The `evalkit.run` example in "pytest and Python", run in a project whose model answers
    right (the assertions it makes hold)."""
    from tests.integrations.conftest import scripted_config, suite_yaml

    (block,) = _python_blocks("evalkit.run(")
    (workdir / "suites").mkdir()
    (workdir / "suites" / "qa.yaml").write_text(suite_yaml())
    (workdir / "evalkit.yaml").write_text(scripted_config())
    namespace: dict[str, Any] = {"__name__": "docs_api_example"}
    exec(compile(block.body, str(block), "exec", dont_inherit=True), namespace)
    assert namespace["run"].status == "passed" and len(namespace["frame"]) == 24
    assert (workdir / "reports" / "notebook" / "report.html").exists()
