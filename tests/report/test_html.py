"""report.html: one self-contained file, checked in a real browser (Debian chromium + Playwright)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit._util.numbers import number, signed
from evalkit.rundir.dir import RunDir
from tests.conftest import scientific, write
from tests.fake_openai import FakeOpenAI
from tests.helpers.browser import CHROMIUM, EVIL, browser
from tests.report.conftest import settle

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


def make_runs(root: Path) -> dict[str, Path]:
    """Run a: variants good and bad (they disagree on FLIPS), blessed; run b: good answers like bad."""
    from typer.testing import CliRunner

    from evalkit.cli.app import app

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
            saved = runner.invoke(app, ["baseline", "save", "a", "--variant", "good", "--variant", "bad"])
            assert saved.exit_code == 0
            write(
                root / "evalkit.yaml",
                (root / "evalkit.yaml").read_text().replace("model: good,", "model: bad,"),
            )
            result = runner.invoke(app, ["run", "s.yaml", "-o", "b", "--no-cache"])
            assert result.exit_code == 1, result.output  # 'good' now answers like 'bad': regressed
    finally:
        os.chdir(cwd)
    return {"a": root / "a", "b": root / "b"}


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_runs(tmp_path_factory.mktemp("report"))


def test_report_is_self_contained(run_dirs: dict[str, Path]) -> None:
    html = (run_dirs["b"] / "report.html").read_text()
    assert "default-src 'none'" in html and "Content-Security-Policy" in html
    assert len(re.findall(r"'sha256-[A-Za-z0-9+/=]+'", html)) == 6  # two styles and four scripts
    assert not re.search(r"https?://", html.replace('http-equiv="Content-Security-Policy"', ""))
    assert not re.search(
        r"""(src|href)\s*=\s*["']?(?!#|data:)[a-z]""", html.split('id="evalkit-data"')[0], re.I
    )
    assert "<script>window.__pwned" not in html  # the untrusted text never appears as markup
    shown = html[html.index('<section id="overview">') : html.index('id="evalkit-data"')]
    text = re.sub(r"<[^>]+>", " ", shown)  # what a person reads (costs of $0.00001 included)
    assert "$0.0000" in text and not scientific(text), scientific(text)


def test_rebuilding_gives_the_same_report(run_dirs: dict[str, Path], cli) -> None:
    original = (run_dirs["b"] / "report.html").read_text()
    assert cli("report", str(run_dirs["b"])).exit_code == 0
    assert (run_dirs["b"] / "report.html").read_text() == original
    assert cli("report", str(run_dirs["b"])).exit_code == 0
    assert (run_dirs["b"] / "report.html").read_text() == original


@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    playwright = browser()
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(
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
        yield launched
        launched.close()


class Opened:
    """A page with the report loaded, collecting console errors and CSP violations."""

    def __init__(self, chrome: Any, report: Path, width: int, height: int = 1600):
        self.errors: list[str] = []
        self.page = chrome.new_page(viewport={"width": width, "height": height})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(report.as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        settle(self.page, "#matrix")

    def close(self) -> None:
        self.page.close()
        assert self.errors == [], self.errors  # no CSP violation, no script error


def screenshot(page: Any, name: str, **kwargs: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), **kwargs)


def test_report_in_a_real_browser(run_dirs: dict[str, Path], chrome: Any) -> None:
    report = run_dirs["b"] / "report.html"
    opened = Opened(chrome, report, 1280)
    page = opened.page

    # overview: the right verdict, in words and not by colour alone
    assert "Regressed against the baseline" in page.inner_text("#banner")
    assert "✗" in page.inner_text("#banner .icon")
    assert "rep · good · exact" in page.inner_text("#banner")
    # the gate's words come from the one table (evalkit.types.VERDICTS / GROUP_VERDICTS)
    assert "✗ regressed · " in page.inner_text("#overview")  # the suite × variant outcome
    assert page.locator("figure.chart-fig").count() == 4  # exact, chrf, latency, cost vs quality
    for section in ("#overview", "#charts", "#matrix", "#cases"):  # not the header's hashes
        assert not scientific(page.inner_text(section)), section

    # regressions and pass→fail flips come first
    first = page.locator("#case-table tbody tr.case").first.inner_text()
    assert "pass → fail" in first or "regressed" in first
    assert page.inner_text("#count") == f"{2 * N} of {2 * N} shown"

    # filtering
    page.select_option("#f-variant", "good")
    settle(page, "#cases")
    page.select_option("#f-verdict", "flip")
    settle(page, "#cases")
    assert page.inner_text("#count") == f"{len(FLIPS)} of {len(FLIPS)} shown"
    page.select_option("#f-verdict", "")
    settle(page, "#cases")
    page.fill("#f-text", "pwned")
    settle(page, "#cases")
    assert page.inner_text("#count") == "1 of 1 shown"

    # expanding the case with hostile markup: shown as text, nothing runs
    page.click("#case-table tbody tr.case")
    detail = page.inner_text("tr.detail")
    assert "<script>window.__pwned = 1</script>" in detail and 'onerror="window.__pwned2 = 1"' in detail
    assert page.evaluate("() => window.__pwned === undefined && window.__pwned2 === undefined")
    assert page.locator("tr.detail img").count() == 0

    # a regressed case: the baseline's output and the candidate's, each labelled, and the word diff
    page.fill("#f-text", "")
    settle(page, "#cases")
    page.select_option("#f-verdict", "flip")
    settle(page, "#cases")
    page.click("#case-table tbody tr.case")
    panes = page.locator("tr.detail .versus .pane")
    assert panes.count() == 3
    baseline_run = run_dirs["a"].name
    heads = [panes.nth(k).locator("h4").inner_text() for k in range(3)]
    assert heads[0].startswith("baseline · good") and "run " in heads[0]
    assert heads[1].startswith("candidate · good") and heads[2].startswith("word diff")
    case_id = page.locator("#case-table tbody tr.case").first.locator("td").nth(3).inner_text()
    n = int(case_id.removeprefix("c"))
    assert panes.nth(0).locator("pre").inner_text() == f"answer {n}"  # the baseline, plainly
    assert panes.nth(1).locator("pre").inner_text() == "I do not know"  # the candidate, plainly
    assert panes.nth(2).locator(".ins").count() >= 1 and panes.nth(2).locator(".del").count() >= 1
    assert "other variants on this case" in page.inner_text("tr.detail") and baseline_run

    page.select_option("#f-verdict", "")
    settle(page, "#cases")
    screenshot(page, "report.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    screenshot(page, "report-dark.png")
    page.emulate_media(media="print", color_scheme="light")
    assert page.locator("#case-table").is_visible() and not page.locator(".controls").first.is_visible()
    opened.close()
    shutil.copy(report, ARTIFACTS / "report.html")


def test_output_matrix(run_dirs: dict[str, Path], chrome: Any) -> None:
    """Run a: cases as rows, good and bad as columns; they disagree exactly on FLIPS."""
    opened = Opened(chrome, run_dirs["a"] / "report.html", 1280)
    page = opened.page
    heads = page.locator("#matrix-table thead th").all_inner_texts()
    assert [h.split()[0] for h in heads] == ["case", "good", "bad"]
    assert page.inner_text("#m-count") == f"25 of {N} cases shown"  # a page at a time
    page.click("#m-more")
    settle(page, "#matrix")
    assert page.inner_text("#m-count") == f"{N} of {N} cases shown"

    page.select_option("#m-filter", "disagree")
    settle(page, "#matrix")
    assert page.inner_text("#m-count") == f"{len(FLIPS)} of {len(FLIPS)} cases shown"
    rows = page.locator("#matrix-table tbody tr")
    ids = {int(t.split()[0].removeprefix("c")) for t in rows.locator("th").all_inner_texts()}
    assert ids == set(FLIPS)
    row = rows.first
    good, bad = row.locator("td.cell").nth(0), row.locator("td.cell").nth(1)
    n = int(row.locator("th").inner_text().split()[0].removeprefix("c"))
    assert good.locator("pre").inner_text() == f"answer {n}" and "✓ pass" in good.inner_text()
    assert bad.locator("pre").inner_text() == "I do not know" and "✗ fail" in bad.inner_text()
    assert "exact 0.000" in bad.inner_text() and "exact 1.000" in good.inner_text()
    assert "differs" in (bad.get_attribute("class") or "") and bad.locator(".ins").count() >= 1
    # issue 29.7: each row shows the case's vars and reference beside its id
    head = row.locator("th")
    assert head.locator(".case-vars").inner_text() == f'{{"n": {n}}}'
    assert head.locator(".case-ref").inner_text() == f"reference: answer {n}"

    # sorted by the score delta (bad − good), most negative first: every flip leads, at -1.000
    page.select_option("#m-filter", "")
    settle(page, "#matrix")
    page.select_option("#m-sort", "delta:exact")
    settle(page, "#matrix")
    assert page.inner_text("#m-count") == f"25 of {N} cases shown"
    leading = rows.locator("th").all_inner_texts()[: len(FLIPS)]
    assert all(f"Δ exact {signed(-1.0)}" in t for t in leading), leading
    assert {int(t.split()[0].removeprefix("c")) for t in leading} == set(FLIPS)
    page.select_option("#m-sort", "spread:chrf")
    settle(page, "#matrix")
    spreads = [float(t.split("spread ")[1]) for t in rows.locator("th").all_inner_texts() if "spread" in t]
    assert spreads == sorted(spreads, reverse=True) and spreads[0] > 0

    # hostile output in a cell: text, nothing runs
    page.fill("#m-text", "pwned")
    settle(page, "#matrix")
    assert page.inner_text("#m-count") == "1 of 1 cases shown"
    assert "<script>window.__pwned = 1</script>" in page.inner_text("#matrix-table tbody")
    assert page.locator("#matrix-table img").count() == 0
    assert page.evaluate("() => window.__pwned === undefined && window.__pwned2 === undefined")
    page.fill("#m-text", "")
    settle(page, "#matrix")
    page.select_option("#m-filter", "disagree")
    settle(page, "#matrix")
    screenshot(page, "report-matrix.png", full_page=True)
    opened.close()


def test_matrix_beside_the_baseline(run_dirs: dict[str, Path], chrome: Any) -> None:
    """Run b against its baseline: each variant's column beside the baseline's outputs."""
    opened = Opened(chrome, run_dirs["b"] / "report.html", 1280)
    page = opened.page
    page.check("#m-baseline")
    settle(page, "#matrix")
    heads = [h.split("\n")[0].strip() for h in page.locator("#matrix-table thead th").all_inner_texts()]
    assert [h.split(" ")[0] + (" b" if "baseline" in h else "") for h in heads] == [
        "case",
        "good b",
        "good",
        "bad b",
        "bad",
    ], heads
    page.select_option("#m-filter", "disagree")  # 'good' now fails where its baseline passed
    settle(page, "#matrix")
    assert page.inner_text("#m-count") == f"{len(FLIPS)} of {len(FLIPS)} cases shown"
    row = page.locator("#matrix-table tbody tr").first
    n = int(row.locator("th").inner_text().split()[0].removeprefix("c"))
    base, cand = row.locator("td.cell").nth(0), row.locator("td.cell").nth(1)
    assert base.locator("pre").inner_text() == f"answer {n}" and "✓ pass" in base.inner_text()
    assert cand.locator("pre").inner_text() == "I do not know" and "differs" in (
        cand.get_attribute("class") or ""
    )
    opened.close()


def test_numbers_in_the_browser_match_python(run_dirs: dict[str, Path], chrome: Any) -> None:
    opened = Opened(chrome, run_dirs["a"] / "report.html", 800, 600)
    values = [66_330.4, 4.68, 0.8126, 53.94, 12_345.6, 12.345, 0.5, 1.12e-5, -3.7e-7, 0.0, -0.00001, 1e9]
    kinds = ["ms", "rate", "score", "cost", "count"]
    browser = opened.page.evaluate(
        "([vs, ks]) => ks.map((k) => vs.map((v) => [EvalkitNumbers.number(v, k), EvalkitNumbers.signed(v, k)]))",
        [values, kinds],
    )
    python = [[[number(v, k), signed(v, k)] for v in values] for k in kinds]  # type: ignore[arg-type]
    assert browser == python
    opened.close()


def test_narrow_screen_keeps_verdicts_in_view(run_dirs: dict[str, Path], chrome: Any) -> None:
    """At 420 px the page does not scroll sideways, and every verdict is on screen."""
    opened = Opened(chrome, run_dirs["b"] / "report.html", 420, 900)
    page = opened.page
    assert page.evaluate("document.documentElement.scrollWidth") <= 420
    boxes = [page.locator("table.metrics td.verdict").nth(k).bounding_box() for k in range(4)]
    assert all(b and b["x"] >= 0 and b["x"] + b["width"] <= 420 for b in boxes), boxes
    assert "regressed" in page.locator("table.metrics td.verdict").first.inner_text()
    verdict = page.locator("#case-table tbody tr.case td").first.bounding_box()
    assert verdict and verdict["x"] + verdict["width"] <= 420
    cells = page.locator("#matrix-table td.cell")  # the matrix stacks its variants
    for k in range(2):
        box = cells.nth(k).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 420, box
    for figure in page.locator("figure.chart-fig").all():
        box = figure.bounding_box()
        assert box and box["x"] + box["width"] <= 420
    screenshot(page, "report-420.png", full_page=True)
    opened.close()


def test_cases_in_many_chunks_read_as_one_table(
    run_dirs: dict[str, Path], chrome: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's cases are written in chunks (memory flat at any size), each its index and
    its cases with their own string table, gzipped and in base64: split into chunks of 7, every
    case reads back the same as from one chunk, the blocks hold nothing but base64, and the page
    shows, counts, searches and opens all of them."""
    from evalkit.report import html

    def resolved(data: dict[str, Any]) -> list[tuple[Any, ...]]:
        out = []
        for index, chunk in data["chunks"]:
            s, cases = chunk["strings"], [dict(zip(chunk["keys"], c, strict=True)) for c in chunk["cases"]]
            assert [c["id"] for c in cases] == index["id"] and index["n"] == len(index["id"])
            for c in cases:
                output = s[c["o"]] if c["o"] is not None else None
                out.append((s[c["s"]], s[c["v"]], c["id"], [s[i] for _, i in c["m"]], output, c["vd"]))
        return out

    whole, split = html.build_data(run_dirs["b"]), html.build_data(run_dirs["b"], chunk=7)
    assert len(whole["chunks"]) == 1 and len(split["chunks"]) == -(-2 * N // 7)
    assert resolved(split) == resolved(whole) and len(resolved(whole)) == 2 * N
    monkeypatch.setattr(html, "CHUNK", 7)
    copy = tmp_path / "b"
    shutil.copytree(run_dirs["b"], copy)
    with RunDir(copy).lock("a test"):  # every writer of a run directory holds its lock
        html.write(RunDir(copy))
    text = (copy / "report.html").read_text()
    blocks = re.findall(
        r'<script type="text/plain" class="evalkit-(index|cases)"[^>]*>([^<]*)</script>', text
    )
    assert [k for k, _ in blocks] == ["index"] * 9 + ["cases"] * 9
    assert all(re.fullmatch(r"[A-Za-z0-9+/]+=*", b) for _, b in blocks)  # nothing can close the element
    assert "pwned" not in text  # the hostile output travels compressed, never as markup
    opened = Opened(chrome, copy / "report.html", 1280)
    page = opened.page
    assert page.inner_text("#count") == f"{2 * N} of {2 * N} shown"
    page.fill("#f-text", "c29")  # in the last chunk
    settle(page)
    assert page.inner_text("#count") == "2 of 2 shown"
    assert "c29" in page.inner_text("#case-table tbody")
    page.click("#case-table tbody tr.case")  # its text decoded from the last chunk
    assert "number 29" in page.inner_text("tr.detail") and "other variants on this case" in page.inner_text(
        "tr.detail"
    )
    page.fill("#f-text", "pwned")
    settle(page)
    assert page.inner_text("#count") == "2 of 2 shown"  # both variants said it: c7
    page.click("#case-table tbody tr.case")
    assert "<script>window.__pwned = 1</script>" in page.inner_text("tr.detail")
    assert page.evaluate("() => window.__pwned === undefined && window.__pwned2 === undefined")
    opened.close()


def test_the_page_carries_the_gate_without_its_long_case_lists() -> None:
    """A gated run of a million cases lists hundreds of thousands of ids in diff.json: the page's
    data block keeps each list's first 20 (the overview's words say how many), the rest as is."""
    from evalkit.report import html

    ids = [f"c{i}" for i in range(1_000)]
    group = {
        "suite": "s",
        "variant": "v",
        "baseline_run": "r0",
        "pass_to_fail": ids,
        "still_failing": ids[:5],
    }
    diff = {"schema_version": 1, "groups": [group]}
    page = html.page_diff(diff)
    assert page is not None and page["groups"][0]["pass_to_fail"] == ids[:20]
    assert page["groups"][0]["still_failing"] == ids[:5] and page["groups"][0]["baseline_run"] == "r0"
    assert (
        diff["groups"][0]["pass_to_fail"] == ids and html.page_diff(None) is None
    )  # diff.json's own: untouched


@pytest.mark.parametrize(
    "value",
    ["plain", "a lone \ud800 surrogate", "a secret sk-live-0123456789abcdef in it", 1.5e-7, None],
)
def test_json_a_slice_at_a_time_is_the_json_of_the_whole(
    value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run serializes its report's chunks a slice at a time while it goes: the same bytes
    as `_json` of the whole, through the fallback (a lone surrogate) and the scrubbing too."""
    from evalkit._util import secrets
    from evalkit.report import html

    monkeypatch.setattr(secrets, "_known", set())
    monkeypatch.setattr(secrets, "_needles", ())
    secrets.register("sk-live-0123456789abcdef")
    data = {
        "n": 3,
        "strings": [f"s{i}" for i in range(html.JSON_SLICE * 2 + 1)] + [value],
        "keys": ["a", "b"],
        "cases": [[i, value, {"x": [value]}] for i in range(html.JSON_SLICE + 3)],
        "empty": [],
        "sc": {"exact": [1.0, None, False]},
    }
    parts = list(html.json_sliced(data))
    assert parts[:-1] == [None] * (len(parts) - 1) and len(parts) >= 3  # a pause after each slice
    assert parts[-1] == html._json(data)


@pytest.mark.parametrize("value", ["plain", "a lone \ud800 surrogate", 'ü€ \n"quoted"'])
def test_json_of_long_strings_a_slice_at_a_time_is_the_json_of_the_whole(value: str) -> None:
    """Long outputs (a chunk's strings table) are sliced by their length, not only their count,
    and the slices joined are still `_json` of the whole."""
    from evalkit.report import html

    long = value * (html.JSON_SLICE_BYTES // len(value) + 7)
    data = {
        "strings": [long, "s", *(f"{value}{i}" * 3000 for i in range(40)), long, long],
        "few": [long[:1000]] * 3,
        "tags": [[i, i + 1, 0.5, None, True] for i in range(300)],
        "cases": [[i, long[: i * 1000], {"x": [long[:5000]]}] for i in range(90)],
    }
    parts = list(html.json_sliced(data))
    if "\ud800" not in value:  # a lone surrogate: `_json` at the first slice pydantic refuses
        assert len(parts) > 2 + 3 + 3 + 2  # the long strings alone, the others by their length
    assert parts[:-1] == [None] * (len(parts) - 1)
    assert parts[-1] == html._json(data)


def test_a_json_slice_stays_under_its_byte_budget() -> None:
    """One slice of `json_sliced` is serialized in one go on a run's event loop: its JSON is
    at most `JSON_SLICE_BYTES` unless it is a single item longer than that, and at most
    `JSON_SLICE` items; the slices are the list, in order."""
    import random

    import pydantic_core

    from evalkit.report import html

    rng = random.Random(7)
    budget = html.JSON_SLICE_BYTES
    sizes = [0, 1, 10, 1000, 30_000, 100_000, budget - 2, budget - 3, budget, budget * 3]
    items: list[object] = ["x" * rng.choice(sizes) for _ in range(600)]
    items += [i for i in range(400)]  # numbers: JSON_SLICE at a time
    items += [["t" * 50_000, {"k": "v" * 50_000}] for _ in range(20)]
    slices = list(html.json_slices(items))
    tags = [[i, 2.5, None, False] for i in range(300)]  # lists of numbers: JSON_SLICE at a time
    assert list(html.json_slices(tags)) == [tags[:125], tags[125:250], tags[250:]]
    assert [item for part in slices for item in part] == items
    for part in slices:
        size = len(pydantic_core.to_json(part)) - 2  # as it sits in the whole list
        assert len(part) <= html.JSON_SLICE
        assert size <= budget or len(part) == 1, (len(part), size)
    assert max(len(part) for part in slices[-30:]) == html.JSON_SLICE  # the numbers
    assert sum(len(part) == 1 for part in slices) >= 50  # the longest alone
    assert list(html.json_slices([])) == []
    text = [str(item) for item in items]  # text alone (a chunk's strings table) the same way
    slices = list(html.json_slices(text))
    assert [item for part in slices for item in part] == text
    for part in slices:
        size = len(pydantic_core.to_json(part)) - 2
        assert len(part) <= html.JSON_SLICE and (size <= budget or len(part) == 1), (len(part), size)
    assert sum(len(part) == 1 for part in slices) >= 50
