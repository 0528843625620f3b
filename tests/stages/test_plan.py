"""The plan's checks of every case: the same errors and warnings whether a case is checked from
its vars alone (plain templates) or rendered whole, held in memory or spilled to scratch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import UserInputError
from evalkit.spec import cases as cases_module
from evalkit.spec.config import load_config
from evalkit.spec.suite import load_suite
from evalkit.stages.plan import Plan, build_plan
from tests.conftest import write

ROWS: list[dict[str, object]] = [
    {"id": "a", "vars": {"q": "one"}, "reference": "r"},
    {"id": "blank", "vars": {"q": "   "}, "reference": "r"},
    {"id": "own", "messages": [{"role": "user", "content": "{{ q }}"}], "vars": {"q": ""}, "reference": "r"},
    *({"id": f"n{i}", "vars": {"q": f"question {i}"}, "reference": f"r{i}"} for i in range(12)),
]
TOOLED = {
    "id": "tooled",
    "vars": {"q": "x"},
    "reference": "r",
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
}
VARIANTS = (
    "  v: {provider: p}\n"
    "  sys: {provider: p, system: 'be {{ q }}'}\n"
    "  own: {provider: p, prompt: own.txt}\n"
    "  filtered: {provider: p, system: '{{ q | upper }}'}\n"
)


MESSAGES = (  # a suite's own system turn first: a variant's system prompt is not added
    "messages:\n  - {role: system, content: 'S {{ q }}'}\n  - {role: user, content: '{{ q }}'}\n"
    "  - {role: assistant, content: ok}\n  - {role: user, content: '{{ q }} '}\n"
)


def plan_of(root: Path, rows: list[dict[str, object]], prompt: str = "Q: {{ q }}") -> Plan:
    write(root / "evalkit.yaml", f"providers:\n  p: {{type: scripted, default: ok}}\nvariants:\n{VARIANTS}")
    write(root / "own.txt", "{{ q }}")
    (root / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    prompting = MESSAGES if prompt == "messages" else f"prompt: {json.dumps(prompt)}\n"
    (root / "s.yaml").write_text(f"name: s\n{prompting}scorers: [exact]\ncases: s.jsonl\n")
    return build_plan(load_config(root / "evalkit.yaml"), [load_suite(root / "s.yaml")])


def outcome(root: Path, rows: list[dict[str, object]], prompt: str = "Q: {{ q }}") -> tuple[str, ...]:
    try:
        return plan_of(root, rows, prompt).warnings
    except UserInputError as exc:
        return (f"error: {exc}",)


@pytest.mark.parametrize("prompt", ["Q: {{ q }}", "{{ q }}", "{{ q | trim }}", "messages"])
def test_spilled_and_held_suites_plan_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prompt: str
) -> None:
    held = outcome(tmp_path / "held", ROWS, prompt)
    monkeypatch.setattr(cases_module, "SPILL_AT", 2)
    spilled = outcome(tmp_path / "spilled", ROWS, prompt)
    assert held == spilled
    if prompt == "Q: {{ q }}":  # never blank: the variant's own prompt and the case's own can be
        assert held == (
            "5 prompt(s) render to an empty user message: s/blank (own), s/own (filtered), "
            "s/own (own), s/own (sys), s/own (v)",
        )
    else:
        assert held == (
            "8 prompt(s) render to an empty user message: s/blank (filtered), s/blank (own), "
            "s/blank (sys), s/blank (v), s/own (filtered) and 3 more",
        )


@pytest.mark.parametrize("spill_at", [2, 4096])
@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (
            {"id": "late", "vars": {"other": 1}, "reference": "r"},
            r"case 'late' \(.*s\.jsonl:16\), variant 'v'",
        ),
        ({"id": "late", "vars": {"q": 1}}, r"case 'late' \(.*s\.jsonl:16\) has no reference"),
        (
            {
                "id": "late",
                "vars": {"q": 1},
                "reference": "r",
                "messages": [{"role": "user", "content": "{{ q.x() }}"}],
            },
            r"case 'late' \(.*s\.jsonl:16\), variant 'v': a case's own messages may only substitute",
        ),
    ],
)
def test_a_bad_case_anywhere_is_named_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_at: int, bad: dict[str, object], expected: str
) -> None:
    monkeypatch.setattr(cases_module, "SPILL_AT", spill_at)
    with pytest.raises(UserInputError, match=expected):
        plan_of(tmp_path, [*ROWS, bad])


@pytest.mark.parametrize("spill_at", [2, 4096])
def test_a_case_of_its_own_tools_is_checked_against_the_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_at: int
) -> None:
    monkeypatch.setattr(cases_module, "SPILL_AT", spill_at)
    with pytest.raises(
        UserInputError, match=r"variant 'v': provider 'p' \(scripted\) does not support tools"
    ):
        plan_of(tmp_path, [*ROWS, TOOLED])
