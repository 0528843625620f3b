"""Multiple choice by log-likelihood. On the embedded model, evalkit's per-choice log-probabilities,
greedy flags, acc, acc_norm and acc_bytes equal lm-evaluation-harness's own run (its HFLM model and
its multiple_choice task, on the same weights and the same items written for this test). Through
an OpenAI-compatible server, each choice's log-probability comes from /v1/completions with echo
(vLLM's server's wire format, served by a fake on 127.0.0.1). Bad input is refused before any
model call."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.fake_openai import FakeOpenAI, Fault

# Written for this test: a context with a trailing space (lm-eval moves it to the continuation),
# choices of different lengths and a non-ASCII one (acc_norm divides by characters, acc_bytes by
# UTF-8 bytes), a one-token and multi-token answers.
ITEMS = [
    {
        "id": "capital",
        "q": "What is the capital of France?",
        "choices": ["Paris", "London", "Berlin"],
        "gold": 0,
    },
    {
        "id": "spider",
        "q": "How many legs does a spider have?",
        "choices": ["six", "eight", "ten", "four"],
        "gold": 1,
    },
    {
        "id": "water",
        "q": "Water freezes at what temperature in Celsius?",
        "choices": ["0 degrees", "100 degrees", "-40 degrees"],
        "gold": 0,
    },
    {
        "id": "cafe",
        "q": "Which word is French for a coffee shop?",
        "choices": ["café", "bakery", "grocery store"],
        "gold": 0,
    },
    {
        "id": "sky",
        "q": "What colour is a clear daytime sky?",
        "choices": ["green", "blue", "a deep shade of purple"],
        "gold": 1,
    },
    {"id": "sum", "q": "What is two plus two?", "choices": ["three", "four", "twenty-two"], "gold": 1},
]
PROMPT = "Question: {{ q }}\nAnswer: "  # the trailing space is on purpose


def evalkit_results(workdir: Path, cli: Any) -> dict[str, dict[str, Any]]:
    cases = "\n".join(
        f"  - {json.dumps({'id': i['id'], 'vars': {'q': i['q']}, 'choices': i['choices'], 'gold': i['gold']})}"
        for i in ITEMS
    )
    write(
        workdir / "mc.yaml",
        f"name: mc\nprompt: {json.dumps(PROMPT)}\n"
        "scorers: [multiple_choice, {type: multiple_choice, norm: chars, informational: true},"
        " {type: multiple_choice, norm: bytes, informational: true}]\n"
        f"cases:\n{cases}\n",
    )
    write(
        workdir / "evalkit.yaml",
        "providers:\n  local: {type: transformers, batch_size: 4}\nvariants:\n  emb: {provider: local}\n",
    )
    result = cli("run", "mc.yaml", "--out", "reports/mc", "--no-cache")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in (workdir / "reports/mc/results.jsonl").read_text().splitlines()]
    return {line["case_id"]: line for line in lines}


def lm_eval_samples(workdir: Path, model_path: Path) -> dict[str, dict[str, Any]]:
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    data = workdir / "items.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in ITEMS), encoding="utf-8")
    task = {
        "task": "evalkit_mc",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": PROMPT.replace("{{ q }}", "{{q}}"),
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "{{gold}}",
        "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}, {"metric": "acc_bytes"}],
    }
    lm = HFLM(pretrained=str(model_path), batch_size=4, device="cpu", dtype="float32")
    out = simple_evaluate(model=lm, tasks=[task], log_samples=True, task_manager=TaskManager())
    assert out is not None
    return {s["doc"]["id"]: s for s in out["samples"]["evalkit_mc"]}


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_choices_score_as_lm_evaluation_harness_scores_them(
    workdir: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("lm_eval")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    ours = evalkit_results(workdir, cli)
    from evalkit.providers import embedded

    theirs = lm_eval_samples(workdir, embedded.ensure_converted()[0])
    assert set(ours) == set(theirs) == {i["id"] for i in ITEMS}
    for case_id, line in ours.items():
        sample = theirs[case_id]
        their_lls = [float(r[0]) for r in sample["filtered_resps"]]
        their_greedy = [bool(r[1]) for r in sample["filtered_resps"]]
        assert line["choice_logprobs"] == pytest.approx(their_lls, abs=1e-4), case_id
        assert line["choice_greedy"] == their_greedy, case_id
        for name in ("acc", "acc_norm", "acc_bytes"):
            assert line["scores"][name]["value"] == sample[name], (case_id, name)
    # the items tell the normalisations apart, so the comparison is not vacuous
    assert {tuple(line["scores"][n]["value"] for n in ("acc", "acc_norm")) for line in ours.values()} != {
        (1.0, 1.0)
    }


def _word_logprob(word: str) -> float:
    return -len(word.strip()) / 8.0


def echo_server_body(body: dict[str, Any]) -> dict[str, Any]:
    """vLLM's /v1/completions reply with echo and logprobs=1, over whitespace "tokens": each
    token's log-probability is minus its length / 8, a token is its own top one unless it holds
    an "x", and one generated token follows the prompt."""
    choices = []
    for index, prompt in enumerate(body["prompt"]):
        tokens = [*re.findall(r"\s*\S+", prompt), " <gen>"]
        offsets, at = [], 0
        for token in tokens:
            offsets.append(at)
            at += len(token)
        values = [None] + [_word_logprob(t) for t in tokens[1:]]
        tops = [None] + [{t if "x" not in t else " other": _word_logprob(t)} for t in tokens[1:]]
        choices.append(
            {
                "index": index,
                "text": prompt + " <gen>",
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": values,
                    "text_offset": offsets,
                    "top_logprobs": tops,
                },
                "finish_reason": "length",
            }
        )
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "model": body["model"],
        "choices": choices[::-1],
        "usage": {"prompt_tokens": 9, "completion_tokens": len(choices), "total_tokens": 9 + len(choices)},
    }


MC_SUITE = """
name: mc
prompt: "Q: {{ q }} A: "
scorers: [multiple_choice, {type: multiple_choice, norm: chars, informational: true}]
cases:
  - {id: one, vars: {q: "pick"}, choices: ["aa", "b", "cccc dd"], gold: 1}
  - {id: two, vars: {q: "again"}, choices: ["xylophone", "y"], gold: 0}
"""


def test_choices_through_an_openai_compatible_completions_endpoint(workdir: Path, cli: Any) -> None:
    server = FakeOpenAI(completions=echo_server_body).start()
    try:
        write(workdir / "mc.yaml", MC_SUITE)
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: {server.url}, model: m}}\nvariants:\n  v: {{provider: api}}\n",
        )
        result = cli("run", "mc.yaml", "--out", "reports/r", "--no-cache")
        sent = list(server.requests)
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert {r["echo"] for r in sent} == {True} and {r["logprobs"] for r in sent} == {1}
    # lm-eval's delimiter after lm-eval's context: the prompt's own trailing space stays
    assert sent[0]["prompt"] == ["Q: pick A:  aa", "Q: pick A:  b", "Q: pick A:  cccc dd"]
    lines = {
        json.loads(x)["case_id"]: json.loads(x)
        for x in (workdir / "reports/r/results.jsonl").read_text().splitlines()
    }
    one = lines["one"]
    # the continuation is the tokens after "A:" (its trailing space moved over), the generated one left out
    assert one["choice_logprobs"] == [
        _word_logprob("aa"),
        _word_logprob("b"),
        _word_logprob("cccc") + _word_logprob("dd"),
    ]
    assert one["output"] == "b" and one["scores"]["acc"]["value"] == 1.0
    two = lines["two"]
    assert two["choice_greedy"] == [False, True]  # "xylophone" was not the top token
    assert two["scores"]["acc"]["value"] == 0.0 and two["scores"]["acc"]["reason"].startswith("chose 1")


def test_a_server_without_echoed_logprobs_is_an_error_result_not_a_dead_run(workdir: Path, cli: Any) -> None:
    def no_logprobs(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "choices": [{"index": i, "text": "x", "logprobs": None} for i, _ in enumerate(body["prompt"])]
        }

    server = FakeOpenAI(completions=no_logprobs).start()
    try:
        write(workdir / "mc.yaml", MC_SUITE)
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: {server.url}, model: m, max_attempts: 1}}\nvariants:\n  v: {{provider: api}}\n",
        )
        result = cli("run", "mc.yaml", "--out", "reports/r", "--no-cache")
    finally:
        server.stop()
    lines = [json.loads(x) for x in (workdir / "reports/r/results.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all("no prompt log-probabilities" in (x["error"] or "") for x in lines)
    assert result.exit_code == 3, result.output  # every result an error: over the error budget


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("{id: c1, vars: {q: x}, choices: [a, b]}", "'choices' need a 'gold'"),
        ("{id: c1, vars: {q: x}, choices: [a, b], gold: 2}", "gold 2 is out of range: 2 choices, so 0 to 1"),
        ("{id: c1, vars: {q: x}, choices: [a, b], gold: -1}", "gold -1 is out of range"),
        ("{id: c1, vars: {q: x}, choices: [a, b], gold: true}", "gold"),
        ("{id: c1, vars: {q: x}, gold: 0}", "'gold' needs 'choices'"),
        ("{id: c1, vars: {q: x}, choices: [a], gold: 0}", "at least two choices"),
    ],
)
def test_bad_choices_are_exit_2_naming_the_case_before_any_call(
    workdir: Path, cli: Any, case: str, message: str
) -> None:
    server = FakeOpenAI(completions=echo_server_body).start()
    try:
        write(
            workdir / "mc.yaml",
            f"name: mc\nprompt: '{{{{ q }}}}'\nscorers: [multiple_choice]\ncases:\n  - {case}\n",
        )
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: {server.url}, model: m}}\nvariants:\n  v: {{provider: api}}\n",
        )
        result = cli("run", "mc.yaml", "--out", "reports/r")
    finally:
        server.stop()
    assert result.exit_code == 2, result.output
    assert "mc.yaml:5" in result.output and message in result.output, result.output
    assert "Traceback" not in result.output and server.requests == []


@pytest.mark.parametrize(
    ("provider", "context", "message"),
    [
        ("{type: scripted, answers: {}}", "plain", "cannot give log-probabilities"),
        ("{type: openai, base_url: URL, model: m}", "chat", "needs the model's chat template"),
    ],
)
def test_a_provider_without_log_probabilities_is_exit_2_naming_it(
    workdir: Path, cli: Any, provider: str, context: str, message: str
) -> None:
    server = FakeOpenAI(completions=echo_server_body).start()
    try:
        write(
            workdir / "mc.yaml",
            f"name: mc\nprompt: '{{{{ q }}}}'\nmultiple_choice: {{context: {context}}}\nscorers: [multiple_choice]\ncases:\n  - {{id: c1, vars: {{q: x}}, choices: [a, b], gold: 0}}\n",
        )
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  p: {provider.replace('URL', server.url)}\nvariants:\n  v: {{provider: p}}\n",
        )
        result = cli("run", "mc.yaml", "--out", "reports/r")
    finally:
        server.stop()
    assert result.exit_code == 2, result.output
    assert "provider 'p'" in result.output and message in result.output, result.output
    assert server.requests == []


def test_an_http_error_from_the_completions_endpoint_is_one_error_result(workdir: Path, cli: Any) -> None:
    server = FakeOpenAI(completions=echo_server_body).start()
    server.faults.append(Fault(status=400, match="again"))
    try:
        write(workdir / "mc.yaml", MC_SUITE)
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: {server.url}, model: m}}\nvariants:\n  v: {{provider: api}}\n",
        )
        cli("run", "mc.yaml", "--out", "reports/r", "--no-cache")
    finally:
        server.stop()
    lines = {
        json.loads(x)["case_id"]: json.loads(x)
        for x in (workdir / "reports/r/results.jsonl").read_text().splitlines()
    }
    assert lines["one"]["error"] is None and "HTTP 400" in lines["two"]["error"]
