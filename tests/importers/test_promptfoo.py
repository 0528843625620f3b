"""`evalkit import promptfoo`: configs in promptfoo's documented format become evalkit.yaml,
prompts and suites; the imported suites run against a fake OpenAI server and every mapped
assertion keeps promptfoo's verdict (contains is case-sensitive, icontains is not, ...)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fake_openai import FakeOpenAI
from tests.importers.conftest import promptfoo_responder

HERE = Path(__file__).parent / "promptfoo"


@pytest.fixture
def server() -> Any:
    fake = FakeOpenAI(responder=promptfoo_responder).start()
    yield fake
    fake.stop()


def _imported(workdir: Path, server: FakeOpenAI, cli: Any) -> Any:
    text = (HERE / "promptfooconfig.yaml").read_text().replace("BASE_URL", server.url)
    (workdir / "promptfooconfig.yaml").write_text(text)
    return cli("import", "promptfoo", "promptfooconfig.yaml", "--out", "ev")


def test_the_import_lists_what_it_cannot_map_and_exits_0(
    workdir: Path, server: FakeOpenAI, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # `evalkit validate` checks the key is set
    got = _imported(workdir, server, cli)
    assert got.exit_code == 0, got.output
    out = " ".join(got.output.split())
    for unmapped in (
        "promptfooconfig.yaml:13 providers[1] (https://example.com/generate): no evalkit provider",
        "promptfooconfig.yaml:27 evaluateOptions: 'evaluateOptions' is not mapped",
        "promptfooconfig.yaml:78 tests[9].assert[0]: 'javascript': no evalkit scorer does this",
        "promptfooconfig.yaml:80 tests[9].assert[1]: 'not-equals': evalkit has no negated form of 'equals'",
    ):
        assert f"not mapped: {unmapped}" in out
    assert "4 item(s) not mapped" in out and "10 test(s) converted" in out
    assert "note: latency → the suite's latency_p99_ms at most the threshold (promptfoo: every case)" in out
    config = yaml.safe_load((workdir / "ev" / "evalkit.yaml").read_text())
    assert config["providers"]["mini"] == {
        "type": "openai",
        "base_url": server.url,
        "model": "gpt-4o-mini",
        "api_key_env": "OPENAI_API_KEY",
    }
    assert config["variants"] == {
        "mini": {
            "provider": "mini",
            "prompt": "prompts/prompt-1.txt",
            "params": {"temperature": 0, "max_tokens": 64},
        }
    }
    assert config["providers"]["grader"]["model"] == "grader-model"
    assert (workdir / "ev" / "prompts" / "prompt-1.txt").read_text() == "Answer briefly: {{question}}"
    validated = cli("validate", "--config", "ev/evalkit.yaml")
    assert validated.exit_code == 0, validated.output


def test_the_imported_suites_keep_promptfoos_verdicts(
    workdir: Path, server: FakeOpenAI, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert _imported(workdir, server, cli).exit_code == 0
    ran = cli("run", "--config", "ev/evalkit.yaml", "--out", "run", "--no-baseline")
    results = [json.loads(line) for line in (workdir / "run" / "results.jsonl").read_text().splitlines()]
    verdicts = {r["case_id"]: {name: s["passed"] for name, s in r["scores"].items()} for r in results}
    assert ran.exit_code == 1, ran.output  # the case-sensitive `contains` fails, as in promptfoo
    assert verdicts == {
        "contains-is-case-sensitive-1": {"contains": False},  # "Paris" does not contain "paris"
        "icontains-ignores-case-2": {"icontains": True},
        "equals-3": {"equals": True},
        "regex-and-starts-with-4": {"regex": True, "starts_with": True, "not_contains": True},
        "is-json-5": {"is_json": True},
        "contains-json-6": {"contains_json": True},
        "model-graded-7": {"llm_rubric": True, "factuality": True},
        "overlap-8": {"rouge_n": True, "bleu": True},
        "templated-value-9": {"contains": True},
        "what-evalkit-cannot-do-10": {},
    }


def test_prompts_and_tests_from_files_and_other_providers(
    workdir: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")  # `evalkit validate` checks it is set
    shutil.copytree(HERE / "files", workdir / "pf")
    got = cli("import", "promptfoo", "pf/promptfooconfig.yaml", "--out", "ev")
    assert got.exit_code == 0, got.output
    out = " ".join(got.output.split())
    assert (
        "pf/promptfooconfig.yaml:5 prompts[1] (file://chat.json): chat or script prompts are not mapped"
        in out
    )
    assert "pf/promptfooconfig.yaml:11 tests[1]: tests from 'file://more.csv' are not read" in out
    config = yaml.safe_load((workdir / "ev" / "evalkit.yaml").read_text())
    assert config["providers"]["anthropic-claude-sonnet-4-5"] == {
        "type": "openai",
        "base_url": "https://api.anthropic.com/v1",
        "model": "claude-sonnet-4-5",
        "api_key_env": "ANTHROPIC_API_KEY",
    }
    assert config["providers"]["ollama-llama3-2"] == {
        "type": "openai",
        "base_url": "http://localhost:11434/v1",
        "model": "llama3.2",
    }
    suite = yaml.safe_load((workdir / "ev" / "suites" / "promptfooconfig.yaml").read_text())
    assert suite["scorers"] == [
        {"type": "cosine", "threshold": 0.8, "name": "similar"},
        {"type": "meteor", "threshold": 0.5, "name": "meteor"},
    ]
    assert [(c["vars"], c["reference"]) for c in suite["cases"]] == [
        ({"text": "Good morning"}, "Bonjour"),
        ({"text": "Thank you"}, "Merci"),
    ]
    validated = cli("validate", "--config", "ev/evalkit.yaml")
    assert validated.exit_code == 0, validated.output


def test_a_broken_config_is_exit_2_with_file_and_line(workdir: Path, cli: Any) -> None:
    (workdir / "bad.yaml").write_text("prompts:\n  - [unclosed\n")
    got = cli("import", "promptfoo", "bad.yaml")
    assert got.exit_code == 2 and "bad.yaml:3" in got.output and "Traceback" not in got.output
    (workdir / "evalkit.yaml").write_text("providers: {}\n")
    (workdir / "ok.yaml").write_text(
        "prompts: ['{{q}}']\nproviders: [openai:gpt-4o]\ntests: [{vars: {q: hi}}]\n"
    )
    refused = cli("import", "promptfoo", "ok.yaml")
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    assert cli("import", "promptfoo", "ok.yaml", "--overwrite").exit_code == 0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[{"vars": {"q": "hi"}},\n {"vars": ', "more.json:2: invalid JSON"),
        ('[{"vars": {"q": NaN}}]', "'NaN' is not a finite number"),
        ('[{"vars": {"q": "a", "q": "b"}}]', "duplicate key 'q'"),
        ('[{"vars": {"q": ' + "9" * 5000 + "}}]", "more than 4,300 digits"),
    ],
)
def test_a_bad_json_tests_file_is_exit_2_naming_it(workdir: Path, cli: Any, text: str, says: str) -> None:
    """A `file://*.json` list of tests was read with json.loads: a traceback on a typo."""
    (workdir / "more.json").write_text(text)
    (workdir / "p.yaml").write_text(
        "prompts: ['{{q}}']\nproviders: [openai:gpt-4o]\ntests: [file://more.json]\n"
    )
    got = cli("import", "promptfoo", "p.yaml")
    out = " ".join(got.output.split())
    assert got.exit_code == 2 and says in out and "more.json" in out and "Traceback" not in out, out


def test_a_folder_named_as_a_tests_file_says_so(workdir: Path, cli: Any) -> None:
    (workdir / "more.json").mkdir()
    (workdir / "p.yaml").write_text(
        "prompts: ['{{q}}']\nproviders: [openai:gpt-4o]\ntests: [file://more.json]\n"
    )
    got = cli("import", "promptfoo", "p.yaml")
    out = " ".join(got.output.split())
    assert got.exit_code == 2 and "file://more.json: is a directory, not a file" in out, out
