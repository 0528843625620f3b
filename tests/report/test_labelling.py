"""Labelling in report.html, in a real browser: label three outputs, reload (labels persist),
export, `evalkit labels import`, `evalkit calibrate`, and the agreement it reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import cohen_kappa_score

from tests.conftest import write
from tests.fake_openai import FakeOpenAI
from tests.helpers.browser import CHROMIUM, EVIL, browser

ANSWERS = {"q0": "Paris.", "q1": "Paris!", "q2": "Paris, surely.", "q3": f"Lyon {EVIL}"}


def respond(body: dict[str, Any]) -> str:
    text = body["messages"][-1]["content"]
    if body["model"] != "judge":
        return ANSWERS.get(text, "?")
    ok = "Paris" in text.split("RESPONSE:")[1]
    return json.dumps({"verdict": "pass" if ok else "fail"})


@pytest.fixture
def run_dir(workdir: Path, cli) -> Any:
    with FakeOpenAI(responder=respond) as server:
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m}}\n"
            f"  grader: {{type: openai, base_url: '{server.url}', model: judge}}\n",
        )
        cases = "".join(f"  - {{id: c{i}, vars: {{q: q{i}}}}}\n" for i in range(4))
        write(
            workdir / "s.yaml",
            'name: lab\nprompt: "{{ q }}"\nscorers:\n'
            "  - {type: judge, provider: grader, mode: pass_fail, name: correct, criteria: Names Paris.}\n"
            f"cases:\n{cases}",
        )
        assert cli("run", "s.yaml", "-o", "out", "--no-baseline").exit_code == 0
    return workdir / "out"


def launch(p: Any) -> Any:
    return p.chromium.launch(
        executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    )


def label(page: Any, case: str, verdict: str, rating: str | None = None, note: str | None = None) -> None:
    row = page.locator(f"#lb-table tbody tr[data-case='{case}']")
    row.locator("select.lb-verdict").select_option(verdict)
    if rating is not None:
        row.locator("select.lb-rating").select_option(rating)
    if note is not None:
        row.locator("input.lb-note").fill(note)
        row.locator("input.lb-note").press("Tab")


def test_label_export_import_calibrate(run_dir: Path, workdir: Path, cli) -> None:
    sync_api = browser()
    report = run_dir / "report.html"
    exported = workdir / "labels.jsonl"
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        chrome = launch(p)
        context = chrome.new_context(accept_downloads=True)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-labels-ready='1']", timeout=10_000)
        assert page.locator("#lb-table tbody tr").count() == 4
        # hostile output: shown as text in the labelling table, nothing runs
        assert "<script>window.__pwned" in page.inner_text("#lb-table tbody tr[data-case='c3']")
        assert page.evaluate("() => window.__pwned === undefined && window.__pwned2 === undefined")
        # issue 29.7: blind by default, the automatic verdicts hidden until asked for
        auto = page.locator("#lb-table tbody tr[data-case='c0'] td.lb-auto")
        assert not auto.is_visible() and not page.locator("#lb-table th.lb-auto").is_visible()
        page.check("#lb-show-auto")
        assert auto.is_visible() and auto.inner_text() == "correct ✓"
        page.uncheck("#lb-show-auto")
        assert not auto.is_visible()

        page.fill("#lb-labeller", "ana")
        page.locator("#lb-labeller").press("Tab")
        label(page, "c0", "pass", "5")
        note = page.locator("tr[data-case='c1'] input.lb-note")
        note.fill('too short <b>"x"</b>')  # a note first: kept, but not yet a label
        note.press("Tab")
        assert page.inner_text("#lb-count") == "1 labelled"  # c0 only
        label(page, "c1", "fail")  # the judge said pass
        label(page, "c3", "pass")  # the judge said fail
        assert page.inner_text("#lb-count") == "3 labelled"

        page.reload()  # labels and the labeller's name persist in the browser
        page.wait_for_selector("body[data-labels-ready='1']")
        assert page.inner_text("#lb-count") == "3 labelled"
        assert page.input_value("#lb-labeller") == "ana"
        assert page.locator("tr[data-case='c1'] select.lb-verdict").input_value() == "fail"

        with page.expect_download() as download:
            page.click("#lb-export")
        download.value.save_as(exported)
        assert errors == []
        chrome.close()

    lines = [json.loads(x) for x in exported.read_text().splitlines()]
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"]
    assert len(lines) == 3 and {x["case"] for x in lines} == {"c0", "c1", "c3"}
    for x in lines:
        assert (x["run"], x["suite"], x["variant"], x["repeat"], x["labeller"]) == (
            run_id,
            "lab",
            "default",
            0,
            "ana",
        )
        assert x["time"].endswith("Z")
    assert next(x for x in lines if x["case"] == "c0")["rating"] == 5
    assert next(x for x in lines if x["case"] == "c1")["note"] == 'too short <b>"x"</b>'

    assert cli("labels", "import", str(exported), str(run_dir)).exit_code == 0
    result = cli("calibrate", str(run_dir), "--resamples", "200")
    assert result.exit_code == 0, result.output
    (a,) = json.loads((run_dir / "calibration.json").read_text())["agreements"]
    people, judge = [1, 0, 1], [1, 1, 0]  # c0, c1, c3
    assert a["score"] == "correct" and a["labels"] == 3 and a["labellers"] == ["ana"]
    assert a["accuracy"]["value"] == pytest.approx(1 / 3)
    assert a["kappa"]["value"] == pytest.approx(cohen_kappa_score(people, judge))
    assert a["confusion"] == [[0, 1], [1, 1]]

    with sync_api.sync_playwright() as p:  # the rebuilt report shows the calibration
        chrome = launch(p)
        page = chrome.new_page()
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-labels-ready='1']")
        text = page.inner_text("#calibration")
        assert "correct vs people" in text and "0.333" in text and "Cohen's κ" in text
        chrome.close()
