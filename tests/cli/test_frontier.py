"""The cost–quality frontier through `evalkit run` against a fake OpenAI server: summary.json,
the terminal at 80 columns, summary.md and report.html in real Chromium show the same figures,
and a hostile variant name is text on every surface."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import scipy.stats
from rich.console import Console

from evalkit._util.numbers import number
from evalkit.cli import render
from evalkit.compare.aggregate import Summary
from tests.conftest import write
from tests.fake_openai import FakeOpenAI
from tests.helpers.browser import CHROMIUM, browser

N = 30
HOSTILE = "<b>tiny</b>|*x*"
WRONG = {"big": set(), "mid": {3}, "tiny": set(range(0, N, 3)) | set(range(1, N, 3))}


def answer(body: dict[str, Any]) -> str:
    n = int(body["messages"][-1]["content"].split()[-1])
    return "no idea" if n in WRONG[body["model"]] else f"answer {n}"


def config(url: str) -> str:
    def provider(name: str, price: float) -> str:
        return (
            f"  {name}: {{type: openai, base_url: '{url}', model: {name}, "
            f"pricing: {{input_per_mtok: {price}, output_per_mtok: {price}}}}}\n"
        )

    return (
        "providers:\n"
        + provider("big", 10.0)
        + provider("mid", 1.0)
        + provider("tiny", 0.1)
        + f"variants:\n  big: {{provider: big}}\n  mid: {{provider: mid}}\n  '{HOSTILE}': {{provider: tiny}}\n"
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from typer.testing import CliRunner

    from evalkit.cli.app import app

    root = tmp_path_factory.mktemp("frontier")
    cases = "\n".join(f"  - {{id: c{i}, vars: {{n: {i}}}, reference: 'answer {i}'}}" for i in range(N))
    write(root / "s.yaml", f'name: num\nprompt: "number {{{{ n }}}}"\nscorers: [exact]\ncases:\n{cases}\n')
    with FakeOpenAI(responder=answer) as server:
        write(root / "evalkit.yaml", config(server.url))
        import os

        cwd = Path.cwd()
        os.chdir(root)
        try:
            result = CliRunner().invoke(
                app, ["run", "s.yaml", "-o", "out", "--no-baseline"], env={"COLUMNS": "80"}
            )
        finally:
            os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return root / "out", result.output


def test_summary_json_names_the_cheapest_variant_not_significantly_worse(run: tuple[Path, str]) -> None:
    out, _ = run
    raw = json.loads((out / "summary.json").read_text())
    assert raw["schema_version"] == 2
    (f,) = raw["frontier"]
    by = {v["variant"]: v for v in f["variants"]}
    groups = {g["variant"]: g for g in raw["groups"]}
    assert (f["suite"], f["metric"], f["best"], f["pick"], f["alpha"]) == ("num", "exact", "big", "mid", 0.05)
    for name, v in by.items():  # the frontier's figures are the summary's own
        g = groups[name]
        assert v["pass_rate"] == g["pass_rate"] and v["cost_per_case_usd"] == g["cost_per_case_usd"]
        assert v["latency_p95_ms"] == g["latency"]["p95_ms"] and v["quality"] == g["metrics"]["exact"]["mean"]
    # McNemar's exact test on the discordant cases, Holm over the two comparisons with the best
    p_mid = scipy.stats.binomtest(0, 1, 0.5).pvalue
    p_tiny = scipy.stats.binomtest(0, len(WRONG["tiny"]), 0.5).pvalue
    assert by["mid"]["test"] == by[HOSTILE]["test"] == "mcnemar"
    assert by["mid"]["p_value"] == pytest.approx(p_mid) and by[HOSTILE]["p_value"] == pytest.approx(p_tiny)
    assert by[HOSTILE]["p_adjusted"] == pytest.approx(min(1.0, 2 * p_tiny))
    assert by["mid"]["worse_than_best"] is False and by[HOSTILE]["worse_than_best"] is True
    assert (
        by["big"]["cost_per_case_usd"] > by["mid"]["cost_per_case_usd"] > by[HOSTILE]["cost_per_case_usd"] > 0
    )
    # dominance as defined: another variant at least as good on every figure, better on one
    for v in f["variants"]:
        for other in v["dominated_by"]:
            o = by[other]
            assert o["pass_rate"] >= v["pass_rate"] and o["cost_per_case_usd"] <= v["cost_per_case_usd"]
            assert o["latency_p95_ms"] <= v["latency_p95_ms"]
    assert Summary.model_validate(raw).frontier[0].pick == "mid"


def test_the_terminal_shows_the_frontier_within_80_columns(run: tuple[Path, str], monkeypatch) -> None:
    out, output = run
    assert (
        "cost–quality frontier: suite num" in output
        and "pick: mid: not significantly worse than big" in " ".join(output.split())
    )
    summary = Summary.model_validate(json.loads((out / "summary.json").read_text()))
    for width in (80, 120):
        console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
        monkeypatch.setattr(render, "console", console)
        for item in render.frontier_tables(summary, width):
            console.print(item, highlight=False)
        text = console.export_text()
        assert max(len(line.rstrip()) for line in text.splitlines()) <= width
        rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.startswith("│ ")}
        f = summary.frontier[0]
        for v in f.variants[:2]:
            assert number(v.cost_per_case_usd, "cost") in rows[v.variant]
        assert HOSTILE in rows  # the name whole, as written (rich markup escaped)
    assert "worse (p_adj" in output and "best" in output


def test_summary_md_escapes_the_names_and_shows_the_pick(run: tuple[Path, str]) -> None:
    out, _ = run
    md = (out / "summary.md").read_text()
    section = md[md.index("### Cost–quality frontier: num") :]
    assert "| **mid** |" in section and "**pick: mid: not significantly worse than big" in section
    assert HOSTILE not in md and r"\<b\>tiny\</b\>\|\*x\*" in md  # literal text, no HTML, no cell break
    summary = json.loads((out / "summary.json").read_text())
    mid = next(v for v in summary["frontier"][0]["variants"] if v["variant"] == "mid")
    assert f"| **mid** | {number(mid['pass_rate'], 'rate')} | {number(mid['quality'])} | " in section


def test_the_report_shows_the_frontier_in_chromium(run: tuple[Path, str]) -> None:
    out, _ = run
    playwright = browser()
    with playwright.sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = chrome.new_page(viewport={"width": 800, "height": 1200})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((out / "report.html").as_uri())
        section = page.locator("#frontier")
        assert section.is_visible()
        rows = section.locator("table.frontier tbody tr")
        assert rows.count() == 3
        names = [rows.nth(i).locator("th").inner_text() for i in range(3)]
        assert names == ["big", "mid", HOSTILE]  # text, not markup
        assert section.locator("b").count() == 0
        assert "pick" in rows.nth(1).get_attribute("class")
        assert re.search(r"not worse \(p_adj 1\.000\) · pick", rows.nth(1).inner_text())
        assert "worse (p_adj" in rows.nth(2).inner_text()
        assert "pick: mid: not significantly worse than big" in section.locator(".frontier-pick").inner_text()
        # the table fits an 800-pixel window: no horizontal scroll inside it
        assert page.evaluate(
            "document.querySelector('#frontier .scroll').scrollWidth <= document.querySelector('#frontier .scroll').clientWidth"
        )
        assert errors == []
        chrome.close()
