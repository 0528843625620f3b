"""The report's trace timeline in a real browser (Debian chromium + Playwright): each case's
steps with tool, arguments, result and latency, the step a scorer failed on highlighted, and a
per-step table in the group summary."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.rundir.files import read_results
from evalkit.tools.timeline import failing_steps, trace_rows
from tests.conftest import write
from tests.fake_openai import FakeOpenAI
from tests.helpers.agent import AGENT_SUITE, agent_responder, config
from tests.helpers.browser import CHROMIUM, browser


def agent_run(workdir: Path, cli) -> Path:
    with FakeOpenAI(responder=agent_responder) as server:
        write(workdir / "evalkit.yaml", config(server.url))
        result = cli("run", str(AGENT_SUITE), "--out", "out")
    assert result.exit_code == 0, result.output
    return workdir / "out"


def test_trace_timeline_in_a_real_browser(workdir: Path, cli) -> None:
    run_dir = agent_run(workdir, cli)
    results = {r.case_id: r for r in read_results(run_dir / "results.jsonl")}
    assert failing_steps(results["refund-clothing"]) == {"s2", "s4"}
    rows = trace_rows(results["refund-clothing"])
    assert rows is not None and [r[0] for r in rows if r[7]] == ["s2", "s4"]
    sync_api = browser()
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        chrome = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = chrome.new_page(viewport={"width": 1280, "height": 1600})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((run_dir / "report.html").as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=10_000)

        steps_table = page.locator("table.steps").first.inner_text()
        assert "lookup_order" in steps_table and "refund_policy" in steps_table and "P95 ms" in steps_table

        page.fill("#f-text", "A1004 be refunded")
        page.locator("#case-table tbody tr.case").first.click()
        trace = page.locator("table.trace")
        assert "5 steps · 2 flagged by a scorer" in page.inner_text("tr.detail")
        step_rows = trace.locator("tr.step")
        assert step_rows.count() == 5
        assert [step_rows.nth(i).get_attribute("data-step") for i in range(5)] == [
            "s1",
            "s2",
            "s3",
            "s4",
            "s5",
        ]
        flagged = trace.locator("tr.step-failed")
        assert [flagged.nth(i).get_attribute("data-step") for i in range(flagged.count())] == ["s2", "s4"]
        second = step_rows.nth(1).inner_text()
        assert (
            "refund_policy" in second
            and '{"category": "clothing"}' in second
            and '"window_days": 60' in second
        )
        background = flagged.first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert background != step_rows.first.evaluate("e => getComputedStyle(e).backgroundColor")

        # a tool error shows on its step
        page.fill("#f-text", "Z9999")
        page.locator("#case-table tbody tr.case").first.click()
        error_row = page.locator("table.trace tr.step-error").first
        assert error_row.get_attribute("data-step") == "s2" and "no order Z9999" in error_row.inner_text()
        chrome.close()
    assert errors == []
    summary = json.loads((run_dir / "summary.json").read_text())
    steps = summary["groups"][0]["steps"]
    assert steps["lookup_order"]["errors"] == 1 and steps["model"]["type"] == "llm"
