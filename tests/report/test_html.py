"""report.html: one self-contained file, checked in a real browser (Debian chromium + Playwright)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.fake_openai import FakeOpenAI

CHROMIUM = "/usr/bin/chromium"
EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned2 = 1"></script>'
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


N = 30
FLIPS = [n for n in range(N) if n % 3 and n != 7]  # what 'good' gets wrong once it behaves like 'bad'


def answer(body: dict[str, Any]) -> str:
    n = int(body["messages"][-1]["content"].split()[-1])
    if n == 7:
        return f"Sure. {EVIL}"
    if body["model"] == "bad" and n in FLIPS:
        return "I do not know"
    return f"answer {n}"


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from typer.testing import CliRunner

    from evalkit.cli.app import app

    root = tmp_path_factory.mktemp("report")
    cwd = Path.cwd()
    os.chdir(root)
    try:
        with FakeOpenAI(responder=answer) as server:
            cases = "\n".join(
                f"  - {{id: c{i}, vars: {{n: {i}}}, reference: 'answer {i}', tags: [t{i % 2}]}}"
                for i in range(N)
            )
            write(
                root / "s.yaml",
                f'name: rep\nprompt: "number {{{{ n }}}}"\nscorers: [exact, chrf]\ncases:\n{cases}\n',
            )
            write(
                root / "evalkit.yaml",
                f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: good, pricing: {{input_per_mtok: 1.0, output_per_mtok: 3.0}}}}\n"
                "variants:\n  good: {provider: api}\n  bad: {provider: api, model: bad}\n",
            )
            runner = CliRunner()
            assert runner.invoke(app, ["run", "s.yaml", "-o", "a", "--no-baseline"]).exit_code == 0
            assert (
                runner.invoke(
                    app, ["baseline", "save", "a", "--variant", "good", "--variant", "bad"]
                ).exit_code
                == 0
            )
            write(
                root / "evalkit.yaml",
                (root / "evalkit.yaml").read_text().replace("model: good,", "model: bad,"),
            )
            result = runner.invoke(app, ["run", "s.yaml", "-o", "b", "--no-cache"])
            assert result.exit_code == 1, result.output  # 'good' now answers like 'bad': regressed
    finally:
        os.chdir(cwd)
    return {"a": root / "a", "b": root / "b"}


def test_report_is_self_contained(run_dirs: dict[str, Path]) -> None:
    html = (run_dirs["b"] / "report.html").read_text()
    assert "default-src 'none'" in html and "Content-Security-Policy" in html
    assert not re.search(r"https?://", html.replace('http-equiv="Content-Security-Policy"', ""))
    assert not re.search(
        r"""(src|href)\s*=\s*["']?(?!#|data:)[a-z]""", html.split('id="evalkit-data"')[0], re.I
    )
    assert "<script>window.__pwned" not in html  # the untrusted text never appears as markup


def test_rebuilding_gives_the_same_report(run_dirs: dict[str, Path], cli) -> None:
    original = (run_dirs["b"] / "report.html").read_text()
    assert cli("report", str(run_dirs["b"])).exit_code == 0
    assert (run_dirs["b"] / "report.html").read_text() == original
    assert cli("report", str(run_dirs["b"])).exit_code == 0
    assert (run_dirs["b"] / "report.html").read_text() == original


def browser() -> Any:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it with apt")
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    return playwright


def test_report_in_a_real_browser(run_dirs: dict[str, Path], tmp_path: Path) -> None:
    sync_api = browser()
    report = run_dirs["b"] / "report.html"
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        chrome = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        page = chrome.new_page(viewport={"width": 1280, "height": 1600})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=10_000)

        # overview: the right verdict, in words and not by colour alone
        assert "Regressed against the baseline" in page.inner_text("#banner")
        assert "✗" in page.inner_text("#banner .icon")
        assert "rep · good · exact" in page.inner_text("#banner")
        assert page.locator("svg.chart").count() == 4  # exact, chrf, latency, cost vs quality

        # regressions and pass→fail flips come first
        first = page.locator("#case-table tbody tr.case").first.inner_text()
        assert "pass → fail" in first or "regressed" in first
        assert page.inner_text("#count") == f"{2 * N} of {2 * N} shown"

        # filtering
        page.select_option("#f-variant", "good")
        page.select_option("#f-verdict", "flip")
        assert page.inner_text("#count") == f"{len(FLIPS)} of {len(FLIPS)} shown"
        page.select_option("#f-verdict", "")
        page.fill("#f-text", "pwned")
        assert page.inner_text("#count") == "1 of 1 shown"

        # expanding the case with hostile markup: shown as text, nothing runs
        page.click("#case-table tbody tr.case")
        detail = page.inner_text("tr.detail")
        assert "<script>window.__pwned = 1</script>" in detail and 'onerror="window.__pwned2 = 1"' in detail
        assert page.evaluate("() => window.__pwned === undefined && window.__pwned2 === undefined")
        assert page.locator("tr.detail img").count() == 0

        # a regressed case shows the word-level diff against the baseline, and the other variant
        page.fill("#f-text", "")
        page.select_option("#f-verdict", "flip")
        page.click("#case-table tbody tr.case")
        detail = page.inner_text("tr.detail")
        assert "output vs baseline" in detail and "other variants on this case" in detail
        assert page.locator("tr.detail .ins").count() >= 1 and page.locator("tr.detail .del").count() >= 1

        ARTIFACTS.mkdir(exist_ok=True)
        page.select_option("#f-verdict", "")
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=str(ARTIFACTS / "report-dark.png"))
        chrome.close()
    assert errors == [], errors  # no CSP violation, no script error
    shutil.copy(report, ARTIFACTS / "report.html")
