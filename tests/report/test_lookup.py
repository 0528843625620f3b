"""The report's on-disk lookups and its packed data blocks: the fast paths read as the plain ones did."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit._util import secrets
from evalkit._util.textsafe import clean_data
from evalkit.report import html
from evalkit.report import lookup as lookup_module
from evalkit.report.lookup import REPORTED, Lookup


def reference_vars(path: Path) -> dict[tuple[str, str], str]:
    """cases.jsonl's vars as json.loads reads them (the reader before the pydantic fast path;
    a lone surrogate, which SQLite cannot store, as U+FFFD)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            row = clean_data(json.loads(line))
            out[str(row["suite"]), str(row["id"])] = json.dumps(
                row.get("vars") or {}, sort_keys=True, ensure_ascii=False
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return out


@pytest.fixture(params=["in memory", "in SQLite"])
def held(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each lookup test twice: the tables held in dicts (a small run), and spilled to SQLite
    after their first row (a large one)."""
    if request.param == "in SQLite":
        monkeypatch.setattr(lookup_module, "MEMORY_BYTES", 0)
    return str(request.param)


def test_vars_read_as_json_loads_reads_them(tmp_path: Path, held: str) -> None:
    cases = tmp_path / "cases.jsonl"
    rows = [
        '{"suite": "s", "id": "plain", "vars": {"b": 1, "a": [1.5, "é"]}, "messages": null}',
        '{"suite": "s", "id": "no-vars"}',
        '{"suite": "s", "id": "empty", "vars": {}}',
        '{"suite": "s", "id": "surrogate", "vars": {"q": "\\ud800 lone"}}',  # pydantic refuses it
        '{"suite": "s", "id": "nan", "vars": {"x": NaN}}',
        '{"suite": 3, "id": 4, "vars": {"n": 12345678901234567890}}',
        '{"suite": "s", "id": "dup", "vars": {"a": 1}, "vars": {"a": 2}}',
        "not json",
        "[1, 2]",
        '{"id": "no-suite"}',
        "",
    ]
    cases.write_text("\n".join(rows) + "\n", encoding="utf-8")
    want = reference_vars(cases)
    assert len(want) == 7
    with Lookup(tmp_path / "baseline.jsonl", cases) as lookup:
        assert lookup.vars(want) == want
        assert lookup.baselines([("s", "v", "plain", 0)]) == {}  # no baseline: nothing asked of it


def reported(line: str) -> dict[str, Any]:
    """What a case's row shows of a baseline line, as json.loads reads it, keys in order."""
    record = json.loads(line)
    return json.loads(json.dumps({k: record[k] for k in REPORTED if k in record}, sort_keys=True))


def test_baselines_are_found_by_their_key_and_read_as_json_loads_reads_them(
    tmp_path: Path, held: str
) -> None:
    """Only the fields the report shows are kept, every object's keys in order (the page lists
    the baseline's scores in their order)."""
    base = tmp_path / "baseline.jsonl"
    lines = [
        '{"suite": "s", "variant": "v", "case_id": "c", "repeat": 1, "output": "o", "scores": {"b": 1, "a": 0},'
        ' "passed": {"b": true}, "error": null, "latency_ms": 3.5, "input_tokens": 7}',
        '{"suite": "s", "variant": "v", "case_id": "lone", "output": "\\ud800 x", "scores": {"a": NaN}}',
        '{"suite": "s", "variant": "v", "case_id": "dup", "output": "1", "output": "2"}',
        "   ",
    ]
    base.write_text("\n".join(lines) + "\n", encoding="utf-8")
    keys = [("s", "v", "c", 1), ("s", "v", "c", 0), ("s", "v", "lone", 0), ("s", "v", "dup", 0)]
    with Lookup(base, tmp_path / "cases.jsonl") as lookup:
        found = lookup.baselines(keys)
        assert lookup.vars([("s", "c")]) == {}
    want = {keys[0]: lines[0], keys[2]: lines[1], keys[3]: lines[2]}
    assert found.keys() == want.keys()
    for key, line in want.items():  # repr: NaN is not equal to itself; the order of keys shows
        assert repr(found[key]) == repr(reported(line))
    assert list(found[keys[0]]) == ["error", "output", "passed", "scores"]
    assert list(found[keys[0]]["scores"]) == ["a", "b"]


def test_a_key_sqlite_would_convert_is_found_as_sqlite_finds_it(tmp_path: Path, held: str) -> None:
    """A repeat written as text (or a whole number as a float) is the integer SQLite's INTEGER
    column makes it, in a small run as in a large one: such a table is never held in a dict."""
    base = tmp_path / "baseline.jsonl"
    lines = [
        '{"suite": "s", "variant": "v", "case_id": "a", "repeat": 0, "output": "plain"}',
        '{"suite": "s", "variant": "v", "case_id": "b", "repeat": "1", "output": "text"}',
        '{"suite": "s", "variant": "v", "case_id": "c", "repeat": 2.0, "output": "float"}',
    ]
    base.write_text("\n".join(lines) + "\n", encoding="utf-8")
    keys = [("s", "v", "a", 0), ("s", "v", "b", 1), ("s", "v", "c", 2)]
    with Lookup(base, tmp_path / "cases.jsonl") as lookup:
        assert {k: v["output"] for k, v in lookup.baselines(keys).items()} == dict(
            zip(keys, ["plain", "text", "float"], strict=True)
        )
        assert lookup._base is None  # in SQLite


def test_a_later_line_for_a_key_replaces_an_earlier_one(tmp_path: Path, held: str) -> None:
    base, cases = tmp_path / "baseline.jsonl", tmp_path / "cases.jsonl"
    base.write_text(
        '{"suite": "s", "variant": "v", "case_id": "c", "output": "first"}\n'
        '{"suite": "s", "variant": "v", "case_id": "d", "output": "other"}\n'
        '{"suite": "s", "variant": "v", "case_id": "c", "repeat": 0, "output": "second"}\n',
        encoding="utf-8",
    )
    cases.write_text(
        '{"suite": "s", "id": "c", "vars": {"x": 1}}\n{"suite": "s", "id": "d"}\n{"suite": "s", "id": "c", "vars": {"x": 2}}\n',
        encoding="utf-8",
    )
    with Lookup(base, cases) as lookup:
        assert lookup.baselines([("s", "v", "c", 0)])[("s", "v", "c", 0)]["output"] == "second"
        assert lookup.vars([("s", "c"), ("s", "d")]) == {("s", "c"): '{"x": 2}', ("s", "d"): "{}"}
        assert (lookup._base is None) == (held == "in SQLite")


def test_a_baseline_line_that_is_not_json_still_fails_as_before(tmp_path: Path) -> None:
    base = tmp_path / "baseline.jsonl"
    base.write_text('{"suite": "s", "variant": "v"}\n', encoding="utf-8")
    with pytest.raises(KeyError, match="case_id"):
        Lookup(base, tmp_path / "cases.jsonl")
    base.write_text("not json\n", encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):
        Lookup(base, tmp_path / "cases.jsonl")


def unpacked(text: str) -> Any:
    return json.loads(gzip.decompress(base64.b64decode(text)).decode("utf-8", "surrogatepass"))


@pytest.fixture
def forget_secrets() -> Iterator[None]:
    yield
    with secrets._lock:
        secrets._known.clear()
        secrets._refresh_needles()
    secrets.take_warnings()


def test_packed_blocks_hold_the_data_in_its_order() -> None:
    data = {"cases": [{"sc": {"a": [1.0, True, None], "b": [0.5, None, 0]}, "o": "é </script>", "x": 1e-07}]}
    text = html._packed(data)
    assert unpacked(text) == data and "<" not in text
    assert list(unpacked(text)["cases"][0]["sc"]) == ["a", "b"]


def test_a_lone_surrogate_is_packed_as_before() -> None:
    data = {"strings": ["ok", "\ud800 lone"]}  # pydantic-core cannot write it: json.dumps does
    assert unpacked(html._packed(data)) == data


def test_packed_blocks_are_scrubbed(forget_secrets: None) -> None:
    secrets.register("sk-canary-0123456789")
    data = {"strings": ["the key sk-canary-0123456789 leaked"], "n": 1}
    assert unpacked(html._packed(data)) == {"strings": [f"the key {secrets.REDACTED} leaked"], "n": 1}


def test_scores_are_in_name_order_in_the_page(tmp_path: Path) -> None:
    """The page lists a case's scores in its data's key order: by name, as sort_keys wrote them."""
    from evalkit.rundir.dir import RunDir

    line = {
        "suite": "s",
        "case_id": "c",
        "variant": "v",
        "repeat": 0,
        "provider": "p",
        "messages": [{"role": "user", "content": "q"}],
        "output": "o",
        "scores": {"zeta": {"value": 1.0}, "alpha": {"value": 0.0, "passed": False}},
    }
    (tmp_path / "results.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    data = html.build_data(RunDir.of(tmp_path))
    index, chunk = data["chunks"][0]
    case = dict(zip(chunk["keys"], chunk["cases"][0], strict=True))  # a case is a list: keys name it
    assert list(case["sc"]) == ["alpha", "zeta"]
    assert list(index["sc"]) == ["alpha", "zeta"]


def test_a_chunks_strings_are_freed_as_soon_as_it_is_written() -> None:
    """No reference cycle holds a chunk's string table (its outputs, prompts) until the
    collector's next full pass: memory stays flat across chunks."""
    import gc
    import weakref

    strings = html._Strings()
    intern = strings.intern
    assert [intern("a"), intern(None), intern("b"), intern("a")] == [0, None, 1, 0]
    assert strings.table == ["a", "b"]
    gone = weakref.ref(strings)
    del strings, intern
    gc.disable()
    try:
        assert gone() is None
    finally:
        gc.enable()


def test_blocks_spooled_to_a_scratch_file_give_the_same_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The packed blocks are held in memory while small (SPOOL_BYTES); past it they go to a
    scratch file: the page is the same either way, every chunk in its order."""
    from evalkit.rundir.dir import RunDir
    from tests.report.conftest import big_run

    run = RunDir.of(big_run(tmp_path, 5_000))  # three chunks
    in_memory = html.render(run)
    monkeypatch.setattr(html, "SPOOL_BYTES", 1)
    assert html.render(run) == in_memory
    assert in_memory.count('class="evalkit-index"') == in_memory.count('class="evalkit-cases"') == 3


def test_tables_loaded_a_few_rows_at_a_time_are_those_loaded_at_once(tmp_path: Path, held: str) -> None:
    """A run loads the lookup of its report a slice at a time while it goes
    (`evalkit.report.casefeed`): a pause after every row, the same tables, in a dict or in SQLite."""
    base, cases = tmp_path / "baseline.jsonl", tmp_path / "cases.jsonl"
    base.write_text(
        "".join(f'{{"suite": "s", "variant": "v", "case_id": "c{i}", "output": "o{i}"}}\n' for i in range(7)),
        encoding="utf-8",
    )
    cases.write_text("".join(f'{{"suite": "s", "id": "c{i}", "vars": {{"q": {i}}}}}\n' for i in range(7)))
    keys = [("s", "v", f"c{i}", 0) for i in range(8)]
    with Lookup(base, cases) as whole, Lookup() as stepped:
        pauses = sum(1 for _ in stepped.loading("vars", lookup_module.vars_rows(cases), 1))
        pauses += sum(1 for _ in stepped.loading("base", lookup_module.baseline_rows(base), 1))
        assert pauses >= 14
        assert stepped.baselines(keys) == whole.baselines(keys) and len(whole.baselines(keys)) == 7
        ids = [(s, c) for s, _v, c, _r in keys]
        assert stepped.vars(ids) == whole.vars(ids) and len(whole.vars(ids)) == 7
        assert (stepped._base is None) == (held == "in SQLite") == (stepped._vars is None)
