from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from evalkit.errors import UserInputError
from evalkit.spec.config import Variant
from evalkit.spec.suite import load_suite
from tests.conftest import write

CASE_HEADER = 'name: s\nprompt: "Q: {{ question }}"\nscorers: [exact]\n'


def test_inline_cases_and_rendering(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.yaml",
        """
        name: s
        system: "Be brief about {{ topic }}."
        prompt: "Q: {{ question }}{% if hint %} (hint: {{ hint }}){% endif %}"
        cases:
          - {id: 1, vars: {question: "a?", topic: maths, hint: ""}, reference: 2, tags: [x]}
          - {id: b, vars: {question: "b?", topic: art, hint: "colour"}, references: [r1, r2]}
        """,
    )
    suite = load_suite(path)
    assert [c.id for c in suite.cases] == ["1", "b"]
    assert suite.cases[0].references == ("2",) and suite.cases[1].references == ("r1", "r2")
    assert suite.cases[0].origin == f"{path}:5"
    msgs = suite.render_messages(suite.cases[1], Variant(name="v"), None)
    assert [(m.role, m.content) for m in msgs] == [
        ("system", "Be brief about art."),
        ("user", "Q: b? (hint: colour)"),
    ]
    # a variant's own system prompt and prompt template replace the suite's
    msgs = suite.render_messages(suite.cases[0], Variant(name="v", system="Sys."), "Please: {{ question }}")
    assert [(m.role, m.content) for m in msgs] == [("system", "Sys."), ("user", "Please: a?")]


def test_a_plain_template_is_not_compiled_on_loading_and_the_others_are(tmp_path: Path) -> None:
    """Text and variables cannot fail to compile, and render without jinja2: loading skips their
    compile (a ms of every run); a template with a filter or a block is compiled on loading, so
    its mistakes surface with the suite's line before any model call."""
    plain = load_suite(write(tmp_path / "p.yaml", CASE_HEADER + "cases:\n  - {id: a, vars: {question: x}}\n"))
    assert plain._compiled == {}
    (msg,) = plain.render_messages(plain.cases[0], Variant(name="v"), None)
    assert msg.content == "Q: x" and plain._compiled == {}
    with pytest.raises(UserInputError, match=r"undefined|missing"):  # jinja2 names what is missing
        plain.render_messages(plain.cases[0], Variant(name="v"), "Q: {{ other }}")
    body = 'name: s\nprompt: "Q: {{ question | nosuchfilter }}"\ncases:\n  - {id: a, vars: {question: x}}\n'
    with pytest.raises(UserInputError, match="No filter named 'nosuchfilter'") as bad:
        load_suite(write(tmp_path / "f.yaml", body))
    assert "f.yaml:2" in str(bad.value)
    blocky = 'name: s\nprompt: "{% if question %}Q: {{ question }}{% endif %}"\ncases:\n  - {id: a, vars: {question: x}}\n'
    assert list(load_suite(write(tmp_path / "b.yaml", blocky))._compiled) == [
        "{% if question %}Q: {{ question }}{% endif %}"
    ]


def test_multi_turn_messages(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.yaml",
        """
        name: chat
        messages:
          - {role: system, content: "You are {{ persona }}."}
          - {role: user, content: "Hi"}
          - {role: assistant, content: "Hello!"}
          - {role: user, content: "{{ question }}"}
        cases:
          - {id: a, vars: {persona: a pirate, question: "Where is the gold?"}}
          - id: own
            vars: {name: Ann}
            messages:
              - {role: user, content: "My name is {{ name }}."}
              - {role: assistant, content: "Nice to meet you."}
              - {role: user, content: "What is my name?"}
        """,
    )
    suite = load_suite(path)
    first = suite.render_messages(suite.cases[0], Variant(name="v"), None)
    assert [m.role for m in first] == ["system", "user", "assistant", "user"]
    assert first[0].content == "You are a pirate." and first[-1].content == "Where is the gold?"
    own = suite.render_messages(suite.cases[1], Variant(name="v"), None)
    assert [m.content for m in own] == ["My name is Ann.", "Nice to meet you.", "What is my name?"]


def test_jsonl_csv_and_yaml_case_files(tmp_path: Path) -> None:
    write(
        tmp_path / "c.jsonl",
        '{"id": "j1", "vars": {"question": "x"}, "reference": "y", "tags": ["t"]}\n\n{"id": "j2", "vars": {"question": "z"}, "reference": "w"}\n',
    )
    write(tmp_path / "c.csv", 'id,question,reference,tags\nc1,what?,that,"a, b"\nc2,who?,me,\n')
    write(tmp_path / "c.yaml", "- {id: y1, vars: {question: q}, reference: r}\n")
    jsonl = load_suite(write(tmp_path / "a.yaml", CASE_HEADER + "cases: c.jsonl\n"))
    assert [c.id for c in jsonl.cases] == ["j1", "j2"] and jsonl.cases[1].origin.endswith("c.jsonl:3")
    csv_suite = load_suite(write(tmp_path / "b.yaml", CASE_HEADER + "cases: c.csv\n"))
    assert csv_suite.cases[0].vars == {"question": "what?"} and csv_suite.cases[0].tags == ("a", "b")
    assert csv_suite.cases[1].origin.endswith("c.csv:3")
    limited = load_suite(write(tmp_path / "d.yaml", CASE_HEADER + "cases: {path: c.csv, limit: 1}\n"))
    assert [c.id for c in limited.cases] == ["c1"]
    assert load_suite(write(tmp_path / "e.yaml", CASE_HEADER + "cases: c.yaml\n")).cases[0].id == "y1"


def test_huggingface_dataset_from_local_path(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {"qid": ["a", "b", "c"], "q": ["1+1?", "2+2?", "3+3?"], "ans": ["2", "4", "6"], "extra": [1, 2, 3]}
    )
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "ds"))
    suite = load_suite(
        write(
            tmp_path / "s.yaml",
            'name: hf\nprompt: "{{ question }}"\ncases:\n  dataset: ds\n  split: test\n  fields: {id: qid, reference: ans}\n  vars: {q: question}\n  limit: 2\n',
        )
    )
    assert [(c.id, c.vars, c.references) for c in suite.cases] == [
        ("a", {"question": "1+1?"}, ("2",)),
        ("b", {"question": "2+2?"}, ("4",)),
    ]
    # data files (here JSON lines) load through datasets.load_dataset from a local folder
    write(tmp_path / "raw" / "data.jsonl", '{"question": "hi?", "answer": "yo"}\n')
    suite = load_suite(
        write(
            tmp_path / "t.yaml",
            'name: raw\nprompt: "{{ question }}"\ncases: {dataset: raw, split: train, fields: {reference: answer}}\n',
        )
    )
    assert suite.cases[0].id == "row-0" and suite.cases[0].vars == {"question": "hi?"}
    with pytest.raises(UserInputError, match="column 'nope' not in dataset"):
        load_suite(
            write(
                tmp_path / "u.yaml",
                'name: bad\nprompt: "x"\ncases: {dataset: ds, split: test, fields: {id: nope}}\n',
            )
        )


def test_content_hash_tracks_cases(tmp_path: Path) -> None:
    a = load_suite(
        write(tmp_path / "a.yaml", CASE_HEADER + "cases:\n  - {id: a, vars: {question: x}, reference: y}\n")
    )
    same = load_suite(
        write(tmp_path / "b.yaml", CASE_HEADER + "cases:\n  - {id: a, vars: {question: x}, reference: y}\n")
    )
    changed = load_suite(
        write(tmp_path / "c.yaml", CASE_HEADER + "cases:\n  - {id: a, vars: {question: x2}, reference: y}\n")
    )
    assert a.content_hash == same.content_hash != changed.content_hash


def test_keys_are_text_as_in_json_so_mixed_keys_load_hash_and_render(tmp_path: Path) -> None:
    """YAML reads `1:` as a number and `on:` as a boolean: a mapping mixing them with text keys
    could not be sorted for the suite's hash (a TypeError). Keys are text, as the file wrote them."""
    path = write(
        tmp_path / "s.yaml",
        """
        name: s
        prompt: "{{ meta['1'] }} {{ meta['10'] }} {{ meta.on }} {{ meta.two }} {{ meta.x }}"
        cases:
          - {id: a, vars: {base: &base {7: seven}, meta: {1: one, two: 2, 10: ten, on: yes, null: z, <<: *base, x: 1.5}}}
        """,
    )
    suite = load_suite(path)
    meta = suite.cases[0].vars["meta"]
    assert meta == {"7": "seven", "1": "one", "two": 2, "10": "ten", "on": True, "null": "z", "x": 1.5}
    assert suite.content_hash
    (msg,) = suite.render_messages(suite.cases[0], Variant(name="v"), None)
    assert msg.content == "one ten True 2 1.5"
    # the same data written with quoted keys is the same suite
    quoted = path.read_text().replace("{7: seven}", "{'7': seven}")
    quoted = quoted.replace(
        "{1: one, two: 2, 10: ten, on: yes, null: z,", "{'1': one, two: 2, '10': ten, 'on': yes, 'null': z,"
    )
    assert load_suite(write(tmp_path / "q.yaml", quoted)).content_hash == suite.content_hash


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name: s\nprompt: x\ncases:\n  - {id: a, vars: {m: {1: a, '1': b}}}\n", "duplicate key '1'"),
        (  # exact would compare with '1.5', which nobody wrote
            "name: s\nprompt: x\ncases:\n  - {id: a, reference: 1.50}\n",
            r"s.yaml:4: cases.0.reference: the number 1.5 is not kept as written .* quote it",
        ),
        ("name: s\nprompt: x\nprompt2: y\ncases: []\n", "unknown key 'prompt2'"),
        ("name: s\nprompt: x\ncases: []\n", "the suite has no cases"),
        ("name: s\ncases:\n  - {id: a}\n", "no 'prompt' or 'messages'"),
        (
            "name: s\nprompt: x\ncases:\n  - {id: a, reference: x, references: [y]}\n",
            "either 'reference' or 'references'",
        ),
        ("name: s\nprompt: x\ncases: missing.jsonl\n", "case file not found"),
        (
            "name: s\nprompt: x\nthresholds: {exact: {}}\ncases:\n  - {id: a}\n",
            "needs 'min', 'max', 'max_drop' or 'max_increase'",
        ),
        ("- just\n- a list\n", "a suite must be a mapping"),
    ],
)
def test_suite_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        load_suite(write(tmp_path / "s.yaml", body))


def test_sandbox_blocks_unsafe_templates(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path / "s.yaml",
            'name: s\nprompt: "{{ x.__class__.__mro__[1].__subclasses__() }}"\ncases:\n  - {id: a, vars: {x: 1}}\n',
        )
    )
    with pytest.raises(UserInputError, match=r"unsafe|undefined"):
        suite.render_messages(suite.cases[0], Variant(name="v"), None)


def test_a_bad_inline_case_field_names_its_key_path_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "name: s\nprompt: x\ncases:\n  - id: a\n    tags: notalist\n")
    with pytest.raises(UserInputError) as info:
        load_suite(path)
    # not pydantic's union tags (cases.list[function-after[...]].0.tags) nor the list's line
    assert str(info.value).startswith(f"{path}:5: cases.0.tags: Input should be a valid list")


# at the edges of what a PlainCase takes: each must read exactly as its CaseSpec does
PLAIN_EDGES: list[dict[str, Any]] = [
    {"id": "a", "vars": {"q": "one", "n": 1.5, "deep": {"x": [1, None, True]}}, "reference": "r"},
    {"id": "b", "vars": {"q": "lone \ud800 surrogate"}, "references": ["x", "y"], "tags": ["t"]},
    {"id": "c", "reference": None, "references": None, "metadata": {"m": [1]}, "relevant_ids": ["g.md"]},
    {"id": "d", "references": [], "vars": {}, "tags": [], "metadata": {}, "relevant_ids": []},
    {"id": "e\ud800"},
    {"id": 7, "reference": 1.5},  # numbers: CaseSpec's own validators (a whole one as its digits)
    {"id": "f", "reference": 3},
    {"id": True},
    {"id": "  "},
    {"id": ""},
    {"id": "g", "reference": "r", "references": ["r"]},
    {"id": "h", "reference": None, "references": ["r"]},
    {"id": "i", "unknown": 1},
    {"id": "j", "vars": []},
    {"id": "k", "tags": "t"},
    {"id": "l", "tags": [1]},
    {"id": "m", "references": ["x", None]},
    {"id": "n", "vars": {"q": float("nan")}, "reference": "inf"},
    {"id": "o", "messages": [{"role": "user", "content": "hi"}]},
    {"id": "p", "choices": ["a", "b"], "gold": 1},
    {"id": "q", "expected_tools": ["f"]},
    {"id": "r", "forbidden_tools": []},
    {"vars": {}},
]


def test_a_plain_case_reads_exactly_as_its_casespec() -> None:
    from evalkit.spec.cases import case_from_row
    from evalkit.spec.suite import CaseSpec, _case_from_spec, _row_from_plain, _row_from_spec, plain_case

    taken = []
    for i, data in enumerate(PLAIN_EDGES):
        plain = plain_case(data)
        try:
            spec = CaseSpec.model_validate(data)
        except ValidationError:
            assert plain is None, data  # CaseSpec's error is what the user sees
            continue
        if plain is None:
            continue
        taken.append(data["id"])
        row, expected = _row_from_plain(plain, f"f:{i}"), _row_from_spec(spec, f"f:{i}")
        assert row == expected and list(row) == list(expected), data
        assert json.dumps(row) == json.dumps(expected)
        assert case_from_row(row, f"f:{i}") == _case_from_spec(spec, f"f:{i}")
    assert taken == ["a", "b", "c", "d", "e\ud800", "h", "n"]


def test_plain_case_types_each_field_as_casespec_does() -> None:
    from typing import get_type_hints

    from evalkit.spec.suite import CaseSpec, PlainCase, plain_case

    hints = get_type_hints(PlainCase)
    assert hints and all(CaseSpec.model_fields[name].annotation == hint for name, hint in hints.items())
    assert plain_case({"id": "x"}) == {"id": "x"}  # every other field may be left out ...
    assert all(not CaseSpec.model_fields[name].is_required() for name in hints if name != "id")  # ... as here


def test_a_case_file_of_plain_cases_makes_no_casespec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.spec import suite as suite_module

    made = []
    real = suite_module.CaseSpec.model_validate

    def counted(data: Any) -> Any:
        made.append(data)
        return real(data)

    monkeypatch.setattr(suite_module.CaseSpec, "model_validate", counted)
    rows = [{"id": f"c{i}", "vars": {"q": i}, "reference": "r"} for i in range(5)] + [
        {"id": 9, "reference": 2}
    ]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = load_suite(write(tmp_path / "s.yaml", 'name: s\nprompt: "{{ q }}"\ncases: c.jsonl\n'))
    assert [c.id for c in suite.cases] == [*(f"c{i}" for i in range(5)), "9"]
    assert made == [{"id": 9, "reference": 2}]  # only the case that needs CaseSpec's own validators
