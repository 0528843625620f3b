"""report.html of 100,000 cases in a real browser (Debian chromium + Playwright): it opens, its
first paint, DOMContentLoaded and JS heap are measured and printed, the filters count every
failing case, a search finds a case in the last chunk, and the table pages."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from evalkit.report import html
from evalkit.rundir.dir import RunDir
from tests.helpers.browser import CHROMIUM, browser
from tests.report.conftest import big_run, failing, haystack, settle

N = 100_000


@pytest.mark.slow
def test_a_report_of_100000_cases(tmp_path: Path) -> None:
    sync_api = browser()
    run = big_run(tmp_path, N)
    started = time.perf_counter()
    with RunDir(run).lock("a test"):
        html.write(RunDir(run))
    written = time.perf_counter() - started
    text = (run / "report.html").read_text()
    # the overview, charts and gate tables are drawn by the writer, ahead of any case data
    assert (
        text.index('<section id="overview">')
        < text.index('<section id="charts">')
        < text.index("evalkit-index")
    )
    assert text.count('class="evalkit-cases"') == -(-N // html.CHUNK)
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        chrome = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = chrome.new_page(viewport={"width": 1280, "height": 1000})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        cdp = page.context.new_cdp_session(page)
        started = time.perf_counter()
        page.goto((run / "report.html").as_uri(), wait_until="domcontentloaded", timeout=120_000)
        assert "big · a" in page.inner_text("#overview")  # there before the cases are read
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        ready = time.perf_counter() - started
        loaded, painted = page.evaluate(
            "() => [performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,"
            " performance.getEntriesByName('first-contentful-paint')[0].startTime]"
        )
        cdp.send("HeapProfiler.collectGarbage")
        heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
        print(
            f"\n{N:,} cases: report.html {len(text) / 2**20:.1f} MB written in {written:.1f} s; "
            f"DOMContentLoaded {loaded:.0f} ms, first contentful paint {painted:.0f} ms, "
            f"table ready {ready:.1f} s, JS heap {heap:.0f} MB"
        )
        settle(page)
        assert page.inner_text("#count") == f"200 of {N:,} shown"

        # filters count every case, read from the index
        page.select_option("#f-verdict", "fail")
        settle(page)
        assert page.inner_text("#count") == f"200 of {sum(map(failing, range(N))):,} shown"
        page.select_option("#f-variant", "a")
        settle(page)
        fails_a = sum(1 for i in range(0, N, 2) if failing(i))
        assert page.inner_text("#count") == f"200 of {fails_a:,} shown"
        assert set(page.locator("#case-table tbody tr.case td:nth-child(3)").all_inner_texts()) == {"a"}
        page.select_option("#f-variant", "")
        page.select_option("#f-verdict", "")
        settle(page)

        # paging
        page.click("#more")
        settle(page)
        assert page.inner_text("#count") == f"400 of {N:,} shown"
        assert page.locator("#case-table tbody tr.case").count() == 400

        # a search reads every chunk: the last case, in the last chunk, is found and opens
        started = time.perf_counter()
        page.fill("#f-text", f"case-{N // 2 - 1}")
        settle(page)
        searched = time.perf_counter() - started
        assert page.inner_text("#count") == "2 of 2 shown"
        page.locator("#case-table tbody tr.case").first.click()
        detail = page.inner_text("tr.detail")
        assert re.search(rf"question {N - 2}|question {N - 1}", detail), detail
        assert "other variants on this case" in detail
        # and a search matching cases in every chunk counts them all
        started = time.perf_counter()
        page.fill("#f-text", "River 88")
        settle(page)
        broad = time.perf_counter() - started
        expected = sum(1 for i in range(N) if "river 88" in haystack(i).lower())
        assert page.inner_text("#count") == f"200 of {expected:,} shown"
        print(f"{N:,} cases: search for the last case {searched:.1f} s, for {expected:,} cases {broad:.1f} s")
        chrome.close()
    assert errors == []
