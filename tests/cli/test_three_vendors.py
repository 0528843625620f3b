"""One run compares GPT, Claude and Gemini (each through its own SDK or wire, against a fake of
its API on 127.0.0.1) with an LLM judge from a fourth vendor (Groq's OpenAI-compatible preset,
pointed at a fake): the paired gate against the baselines, the frontier, dollars from the price
database and tokens, the judge's own included, right in summary.json, on the terminal, in
summary.md and in report.html (read in Chromium)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import genai_prices
import pytest
import scipy.stats

from evalkit._util.numbers import number
from tests.conftest import write
from tests.fake_anthropic import FakeAnthropic
from tests.fake_openai import FakeOpenAI
from tests.helpers.browser import CHROMIUM, browser

N = 20
GROQ_KEY = "gsk_test_0123456789abcdefghijklmnop"
OPENAI_KEY = "sk-proj-test-0123456789abcdef"
WRONG = {"gpt": set(), "claude": {3}, "gemini": {5, 11}}  # the cases each model gets wrong
MODELS = {  # variant: (price database vendor, model)
    "gpt": ("openai", "gpt-5.1"),
    "claude": ("anthropic", "claude-sonnet-5-5"),
    "gemini": ("google", "gemini-2.5-flash"),
}
JUDGE = ("groq", "llama-3.3-70b-versatile")
CLAUDE_USAGE = {
    "input_tokens": 12,
    "cache_read_input_tokens": 100,
    "cache_creation_input_tokens": 20,
    "output_tokens": 3,
}
GEMINI_USAGE = {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13}


def number_of(text: str) -> int:
    return int(text.split()[-1])


def reply(variant: str, n: int) -> str:
    return "no idea" if n in WRONG[variant] else f"answer {n}"


def gpt(body: dict[str, Any]) -> str:
    return reply("gpt", number_of(body["messages"][-1]["content"]))


def claude(body: dict[str, Any]) -> dict[str, Any]:
    text = reply("claude", number_of(body["messages"][-1]["content"]))
    return {"content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "usage": CLAUDE_USAGE}


def gemini(body: dict[str, Any]) -> dict[str, Any]:
    text = reply("gemini", number_of(body["contents"][-1]["parts"][0]["text"]))
    return {"parts": [{"text": text}], "finishReason": "STOP", "usageMetadata": GEMINI_USAGE}


def judge(body: dict[str, Any]) -> str:
    verdict = "fail" if "no idea" in json.dumps(body["messages"]) else "pass"
    return json.dumps({"reasoning": "Compared with the reference.", "verdict": verdict})


def config(gpt_url: str, claude_url: str, gemini_url: str, judge_url: str) -> str:
    return f"""
providers:
  gpt: {{type: openai, preset: openai, base_url: "{gpt_url}", model: gpt-5.1}}
  claude: {{type: anthropic, base_url: "{claude_url}", model: claude-sonnet-5-5}}
  gemini: {{type: gemini, base_url: "{gemini_url}", model: gemini-2.5-flash}}
  judge: {{type: openai, preset: groq, base_url: "{judge_url}", model: llama-3.3-70b-versatile}}
variants:
  gpt: {{provider: gpt}}
  claude: {{provider: claude}}
  gemini: {{provider: gemini}}
"""


SUITE = (
    'name: num\nprompt: "number {{ n }}"\nscorers:\n  - exact\n'
    "  - {type: judge, provider: judge, mode: pass_fail, name: judged, criteria: Gives the reference answer.}\n"
    "cases:\n"
    + "\n".join(f"  - {{id: c{i}, vars: {{n: {i}}}, reference: 'answer {i}'}}" for i in range(N))
    + "\n"
)


def price(vendor: str, model: str, **tokens: int) -> float:
    return float(genai_prices.calc_price(genai_prices.Usage(**tokens), model, provider_id=vendor).total_price)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run a (blessed as the baselines), then run b, where Claude gets 10 more cases wrong."""
    import os

    from typer.testing import CliRunner

    from evalkit.cli.app import app
    from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY
    from tests.fake_gemini import FakeGemini

    root = tmp_path_factory.mktemp("vendors")
    env = {
        "OPENAI_API_KEY": OPENAI_KEY,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "GEMINI_API_KEY": GEMINI_KEY,
        "GROQ_API_KEY": GROQ_KEY,
        "COLUMNS": "100",
    }
    out: dict[str, Any] = {"root": root}
    with (
        FakeOpenAI(responder=gpt, api_key=OPENAI_KEY) as openai_fake,
        FakeAnthropic(responder=claude, api_key=ANTHROPIC_KEY) as anthropic_fake,
        FakeGemini(responder=gemini, api_key=GEMINI_KEY) as gemini_fake,
        FakeOpenAI(responder=judge, api_key=GROQ_KEY) as groq_fake,
    ):
        write(
            root / "evalkit.yaml", config(openai_fake.url, anthropic_fake.url, gemini_fake.url, groq_fake.url)
        )
        write(root / "suites" / "num.yaml", SUITE)
        cwd = Path.cwd()
        os.chdir(root)
        try:
            runner = CliRunner()
            first = runner.invoke(app, ["run", "suites/num.yaml", "-o", "a", "--no-baseline"], env=env)
            assert first.exit_code == 0, first.output
            saved = runner.invoke(app, ["baseline", "save", "a"], env=env)
            assert saved.exit_code == 0, saved.output
            WRONG["claude"] |= set(range(10, 20))
            try:
                second = runner.invoke(app, ["run", "suites/num.yaml", "-o", "b", "--no-cache"], env=env)
            finally:
                WRONG["claude"] = {3}
        finally:
            os.chdir(cwd)
        out["judge_requests"] = list(groq_fake.requests)
    out["a"], out["b"], out["output"], out["code"] = root / "a", root / "b", second.output, second.exit_code
    return out


def lines(run: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]


def test_every_dollar_and_token_is_the_price_databases_for_the_fixtures_counts(runs: dict[str, Any]) -> None:
    fixture_usage = {
        "gpt": {"input_tokens": 2, "output_tokens": 2},  # the fake counts words: "number n", "answer n"
        "claude": {
            "input_tokens": 132,
            "cache_read_tokens": 100,
            "cache_write_tokens": 20,
            "output_tokens": 3,
        },
        "gemini": {"input_tokens": 9, "output_tokens": 4},
    }
    judge_input = judge_output = 0
    for line in lines(runs["a"]):
        variant, u = line["variant"], line["usage"]
        expected = fixture_usage[variant]
        assert (u["input_tokens"], u["output_tokens"]) == (
            expected["input_tokens"],
            expected["output_tokens"],
        )
        if variant == "gpt":  # each answer two words long, whether right or wrong
            assert line["output"] in (f"answer {line['case_id'][1:]}", "no idea")
        generation = price(*MODELS[variant], **expected)
        j = line["judges"]["judged"]
        assert (j["provider"], j["model"], j["calls"]) == ("judge", JUDGE[1], 1)
        assert j["cost_usd"] == pytest.approx(
            price(*JUDGE, input_tokens=j["input_tokens"], output_tokens=j["output_tokens"])
        )
        assert (
            line["cost_usd"] == pytest.approx(generation + j["cost_usd"])
            and generation > 0
            and j["cost_usd"] > 0
        )
        judge_input += j["input_tokens"]
        judge_output += j["output_tokens"]
    # the judge's tokens are the fake Groq server's own count of what it read and wrote
    requests = [r for r in runs["judge_requests"]][: 3 * N]  # run a's calls come first
    read = sum(sum(len(str(m.get("content", "")).split()) for m in r["messages"]) for r in requests)
    assert judge_input == read and judge_output > 0
    summary = json.loads((runs["a"] / "summary.json").read_text())
    for g in summary["groups"]:
        mine = [x for x in lines(runs["a"]) if x["variant"] == g["variant"]]
        assert g["cost_usd"] == pytest.approx(math.fsum(x["cost_usd"] for x in mine))
        assert g["tokens"]["judge_input"] == sum(x["judges"]["judged"]["input_tokens"] for x in mine)
        assert g["judges"]["judged"]["cost_usd"] == pytest.approx(
            sum(x["judges"]["judged"]["cost_usd"] for x in mine)
        )
    prices = json.loads((runs["a"] / "run.json").read_text())["plan"]["prices"]
    sources = {k: v["source"] for k, v in prices.items()}
    assert sources == {k: f"genai-prices {genai_prices.__version__}" for k in (
        "gpt/gpt-5.1", "claude/claude-sonnet-5-5", "gemini/gemini-2.5-flash", "judge/llama-3.3-70b-versatile")}  # fmt: skip


def test_the_paired_gate_against_the_baselines(runs: dict[str, Any]) -> None:
    assert runs["code"] == 1, runs["output"]  # Claude regressed
    summary = json.loads((runs["b"] / "summary.json").read_text())
    assert summary["status"] == "regressed" and "num · claude · exact" in summary["regressions"]
    diff = json.loads((runs["b"] / "diff.json").read_text())
    verdicts = {g["variant"]: g["verdict"] for g in diff["groups"]}
    assert verdicts == {"gpt": "ok", "claude": "regressed", "gemini": "ok"}
    claude_exact = next(
        m for g in diff["groups"] if g["variant"] == "claude" for m in g["metrics"] if m["metric"] == "exact"
    )
    assert claude_exact["kind"] == "pass_fail" and claude_exact["pass_to_fail"] == 10
    assert claude_exact["p_value"] == pytest.approx(scipy.stats.binomtest(0, 10, 0.5).pvalue)
    text = " ".join(runs["output"].split())
    assert "REGRESSED" in text and "num · claude" in text and "10 cases pass → fail" in text
    md = (runs["b"] / "summary.md").read_text()
    assert "- ❌ num · claude: ✗ regressed (20 paired cases)" in md and "## evalkit: ❌ REGRESSED" in md
    assert "Regressed: num · claude · exact" in (runs["b"] / "report.html").read_text()


def test_the_frontier_names_gemini_and_every_surface_agrees(runs: dict[str, Any]) -> None:
    summary = json.loads((runs["a"] / "summary.json").read_text())
    (f,) = summary["frontier"]
    by = {v["variant"]: v for v in f["variants"]}
    assert (f["metric"], f["best"], f["pick"]) == ("exact", "gpt", "gemini")
    # McNemar on the discordant cases against GPT, Holm over the two comparisons
    p = {v: scipy.stats.binomtest(0, len(WRONG[v]), 0.5).pvalue for v in ("claude", "gemini")}
    assert by["claude"]["p_value"] == pytest.approx(p["claude"]) and by["gemini"]["p_value"] == pytest.approx(
        p["gemini"]
    )
    assert by["gemini"]["p_adjusted"] == pytest.approx(min(1.0, 2 * min(p.values())))
    assert by["gemini"]["worse_than_best"] is False and by["claude"]["worse_than_best"] is False
    costs = {g["variant"]: g["cost_per_case_usd"] for g in summary["groups"]}
    assert {v: by[v]["cost_per_case_usd"] for v in by} == costs
    assert costs["gemini"] < costs["gpt"] < costs["claude"]  # gemini: cheapest, not significantly worse
    assert "claude" not in by["gemini"]["dominated_by"]
    # run b: Claude is now significantly worse than GPT; Gemini is still the pick
    (fb,) = json.loads((runs["b"] / "summary.json").read_text())["frontier"]
    assert fb["pick"] == "gemini" and {v["variant"]: v["worse_than_best"] for v in fb["variants"]} == {
        "gpt": None, "claude": True, "gemini": False}  # fmt: skip
    text = " ".join(runs["output"].split())
    assert (
        "cost–quality frontier: suite num" in text
        and "pick: gemini: not significantly worse than gpt" in text
    )
    md = (runs["b"] / "summary.md").read_text()
    assert "| **gemini** |" in md and "**pick: gemini: not significantly worse than gpt" in md


def test_judge_tokens_and_costs_on_the_terminal_markdown_and_report(runs: dict[str, Any]) -> None:
    summary = json.loads((runs["b"] / "summary.json").read_text())
    text = " ".join(runs["output"].split())
    md = (runs["b"] / "summary.md").read_text()
    for g in summary["groups"]:
        j = g["judges"]["judged"]
        assert number(g["cost_usd"], "cost") in text
        assert (
            f"{number(g['tokens']['judge_input'], 'count')} / {number(g['tokens']['judge_output'], 'count')}"
            in text
        )
        assert number(j["cost_usd"], "cost") in text
        line = (  # literal Markdown: the dollar sign escaped
            f"- num · {g['variant']}: judged (judge/llama-3.3-70b-versatile): 20 calls · "
            f"{number(j['input_tokens'], 'count')} / {number(j['output_tokens'], 'count')} tokens · "
            f"\\{number(j['cost_usd'], 'cost')}"
        )
        assert line in md, md
        assert f"| {g['variant']} |" in md or f"| **{g['variant']}** |" in md


def test_the_report_in_chromium(runs: dict[str, Any]) -> None:
    summary = json.loads((runs["b"] / "summary.json").read_text())
    playwright = browser()
    with playwright.sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = chrome.new_page(viewport={"width": 1000, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((runs["b"] / "report.html").as_uri())
        assert "Regressed: num · claude · exact" in page.locator("#verdict").locator("..").inner_text()
        frontier = page.locator("#frontier")
        assert "pick: gemini" in frontier.locator(".frontier-pick").inner_text()
        rows = frontier.locator("tbody tr")
        assert [rows.nth(i).locator("th").inner_text() for i in range(3)] == ["gpt", "claude", "gemini"]
        overview = page.locator("#overview").inner_text()
        for g in summary["groups"]:
            j = g["judges"]["judged"]
            assert (
                f"{number(j['input_tokens'], 'count')} / {number(j['output_tokens'], 'count')} tokens"
                in overview
            )
            assert number(g["cost_usd"], "cost") in overview
            cell = rows.nth(["gpt", "claude", "gemini"].index(g["variant"])).inner_text()
            assert number(g["cost_per_case_usd"], "cost") in cell
        assert errors == []
        chrome.close()
