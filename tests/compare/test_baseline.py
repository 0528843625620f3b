"""Baseline files: one per suite × variant, never shared by two names, never outside the folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from evalkit.compare import baseline as bl
from evalkit.compare.groups import groups_from_run
from evalkit.errors import UserInputError
from tests.conftest import write


@pytest.fixture
def run(workdir: Path, cli) -> Path:
    write(
        workdir / "evalkit.yaml",
        "providers:\n  api: {type: scripted, default: ok}\n  api2: {type: scripted, default: nope}\n"
        "variants:\n  'a b': {provider: api}\n  a_b: {provider: api2}\n  x/y: {provider: api}\n  x_y: {provider: api2}\n",
    )
    write(workdir / "s.yaml", 'name: s\nprompt: "q"\nscorers: [exact]\ncases:\n  - {id: c, reference: ok}\n')
    result = cli("run", "s.yaml", "-o", "run", "--no-baseline")
    assert result.exit_code == 0, result.output
    return workdir / "run"


def test_two_names_never_share_a_baseline_file(workdir: Path, run: Path, cli) -> None:
    """`a b` and `a_b` (or `x/y` and `x_y`) mapped to one file: the second overwrote the first
    and the next run gated one against the other."""
    saved = cli("baseline", "save", str(run), "--to", "bl")
    assert saved.exit_code == 0, saved.output
    assert len(list((workdir / "bl").rglob("*.jsonl"))) == 4
    for variant, output in (("a b", "ok"), ("a_b", "nope"), ("x/y", "ok"), ("x_y", "nope")):
        group = bl.load(workdir / "bl", "s", variant)
        assert group is not None and group.meta.variant == variant
        assert [r.output for r in group.records] == [output]
    again = cli("run", "s.yaml", "-o", "run2", "--baseline", "bl")
    assert again.exit_code == 0, again.output  # each gated against its own: nothing regressed
    assert "REGRESSED" not in again.output


def test_a_suite_named_dot_dot_stays_inside_the_folder(workdir: Path, run: Path) -> None:
    group = groups_from_run(run)[0]
    crafted = dataclasses.replace(group, suite="..")
    crafted.meta.suite = ".."
    data, meta = bl.save(crafted, workdir / "bl")
    root = (workdir / "bl").resolve()
    assert data.resolve().parent.parent == root and meta.resolve().is_relative_to(root)
    assert bl.load(workdir / "bl", "..", group.variant) is not None


def test_a_baseline_file_for_another_name_is_refused(workdir: Path, run: Path) -> None:
    group = groups_from_run(run)[0]
    data, meta = bl.save(group, workdir / "bl")
    other, other_meta = bl.baseline_paths(workdir / "bl", group.suite, "elsewhere")
    data.rename(other)
    meta.rename(other_meta)
    with pytest.raises(UserInputError, match="not s · elsewhere"):
        bl.load(workdir / "bl", group.suite, "elsewhere")


def test_a_baseline_saved_under_the_old_file_name_is_still_read(workdir: Path, run: Path) -> None:
    group = next(g for g in groups_from_run(run) if g.variant == "a b")
    data, meta = bl.save(group, workdir / "bl")
    old_data, old_meta = workdir / "bl" / "s" / "a_b.jsonl", workdir / "bl" / "s" / "a_b.meta.json"
    data.rename(old_data)
    meta.rename(old_meta)
    loaded = bl.load(workdir / "bl", "s", "a b")
    assert loaded is not None and loaded.meta.variant == "a b"
    with pytest.raises(UserInputError, match="not s · a_b"):  # a_b's own name: that file is not its
        bl.load(workdir / "bl", "s", "a_b")


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        ("cut", "a_b.jsonl:1: invalid JSON: Unterminated string starting at (column 19)"),
        ("foo", ".jsonl:2: case_id: Field required"),
        ("meta", ".meta.json:1: invalid JSON: "),
        ("empty", ".jsonl: this baseline holds no records"),
    ],
)
def test_a_damaged_baseline_names_its_file_and_line(
    workdir: Path, run: Path, cli, damage: str, says: str
) -> None:
    """A cut last line, a line that is no record, a garbled .meta.json or an empty file: exit 2,
    naming the file (and line), before any model call; an empty one never passed as 'inconclusive'."""
    assert cli("baseline", "save", str(run), "--to", "bl", "--variant", "a_b").exit_code == 0
    data, meta = bl.baseline_paths(workdir / "bl", "s", "a_b")
    if damage == "cut":
        data.write_text('{"cached": false, "case_hash')
    elif damage == "foo":
        data.write_text(data.read_text() + '{"foo": 1}\n')
    elif damage == "meta":
        meta.write_text("[1,2")
    else:
        data.write_bytes(b"")
    result = cli("run", "s.yaml", "-o", "run2", "--baseline", "bl", "--variant", "a_b")
    out = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in out and "validation error" not in out
    assert says in out, out
    assert not (workdir / "run2").exists()
