"""The trend report: one self-contained page (CSP, no remote loads, no script, escaped text),
checked in a real browser (Debian chromium + Playwright): charts with CI bands and change
markers, the case × run heatmap, the newest run's alerts."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from evalkit.history import trend
from evalkit.history.check import check_run
from evalkit.history.store import Filters, HistoryStore
from evalkit.spec.history import AlertRules
from tests.helpers.browser import CHROMIUM, EVIL, browser
from tests.history.fabricate import Case, Group, make_run

RUNS = 8


@pytest.fixture(scope="module")
def page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trend")
    store = HistoryStore(f"sqlite:///{root / 'h.sqlite'}")
    store.migrate()
    rng = random.Random(5)
    levels = [rng.random() for _ in range(12)]
    for i in range(RUNS):
        last = i == RUNS - 1
        cases = [
            Case(f"case-{j}" if j else EVIL, {"quality": lv - (0.3 if last else 0) + rng.gauss(0, 0.02)},
                 passed=(lv > 0.5) != (last and j % 3 == 0), latency_ms=200 + 10 * j, cost_usd=0.001,
                 error="timeout" if j == 11 and i == 3 else None)
            for j, lv in enumerate(levels)
        ]  # fmt: skip
        version = "m-2" if i >= 5 else "m-1"
        make_run(
            root / "runs",
            i,
            [Group("suite<b>", "v", cases, model_version=version)],
            prompt="p2" if i >= 6 else "p1",
        )
        run = store.record(root / "runs" / f"run-{i:04d}", branch="main", tag="nightly")
        raised = check_run(store, run.run_id, AlertRules())  # as `evalkit run` does after recording
        store.record_alerts(run.run_id, [a.as_dict() for a in raised], None)
    path = trend.write(store, Filters(), AlertRules(), root / "trend.html")
    store.close()
    return path


def test_page_is_self_contained_and_escaped(page_path: Path) -> None:
    html = page_path.read_text()
    assert "default-src 'none'" in html and "script-src 'none'" in html
    assert "<script" not in html.lower()
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)
    tags = " ".join(re.findall(r"<[^>]+>", html))  # escaped text has no '<': only real tags
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!#|data:)[a-z]""", tags, re.I)
    assert "<script>window.__pwned" not in html and "suite<b>" not in html
    assert "e+" not in re.sub(r"<[^>]+>", "", html)  # no scientific notation in text


def test_trend_report_in_a_real_browser(page_path: Path) -> None:
    sync_api = browser()
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        chrome = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = chrome.new_page(viewport={"width": 1280, "height": 1600})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        assert errors == [] and requests == [page_path.as_uri()]

        alerts = page.inner_text("#alerts")
        assert "quality" in alerts and "below its trailing level" in alerts
        group = page.locator("section.group")
        assert group.count() == 1 and "suite<b> · v" in group.inner_text()
        # per-metric charts: quality, pass rate, latency, cost, error/retrieval rates
        assert page.locator("svg.trend").count() == 5
        assert page.locator("svg.trend polygon.band").count() >= 2  # CI bands (quality, pass rate)
        markers = page.inner_text("ul.markers")
        assert "model m-1 → m-2" in markers and "prompt changed" in markers
        assert page.locator("svg.trend line.marker").count() == 5 * 2
        # heatmap: every case × every run, flipping cases first, hostile case id shown as text
        cells = page.locator("svg.heatmap rect")
        assert cells.count() == 12 * RUNS
        assert page.locator("svg.heatmap rect.hm-error").count() == 1
        first = page.locator("svg.heatmap text.case").first.text_content() or ""
        assert first.startswith("<script>") or first.startswith("case-")
        assert page.evaluate("() => window.__pwned === undefined && window.__pwned2 === undefined")
        assert page.locator("#runs tbody tr").count() == RUNS
        chrome.close()
