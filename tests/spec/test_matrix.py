"""`matrix:` builds variants from lists (models × prompts × params), each a normal variant with a
predictable name; `--variant` picks cells by glob."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.spec.config import Config
from tests.conftest import write
from tests.fake_openai import FakeOpenAI

MATRIX = {
    "provider": "api",
    "model": ["small-v1", "large-v2"],
    "prompt": {"v1": "prompts/v1.j2", "v2": "prompts/v2.j2"},
    "params": {"temperature": [0, 0.7], "max_tokens": 16},
}


def test_cells_are_named_predictably_and_are_normal_variants() -> None:
    config = Config.model_validate(
        {
            "providers": {"api": {"type": "openai", "model": "m"}},
            "matrix": MATRIX,
            "variants": {"base": {"provider": "api"}},
        }
    )
    names = list(config.variants)
    assert names[0] == "base" and len(names) == 1 + 2 * 2 * 2
    assert names[1:3] == ["small-v1.v1.temperature=0", "small-v1.v1.temperature=0.7"]
    cell = config.variants["large-v2.v2.temperature=0.7"]
    assert (cell.name, cell.provider, cell.model, cell.prompt) == (
        "large-v2.v2.temperature=0.7",
        "api",
        "large-v2",
        "prompts/v2.j2",
    )
    assert cell.params.temperature == 0.7 and cell.params.max_tokens == 16
    again = Config.model_validate(config.model_dump(mode="json"))  # as run.json stores it
    assert list(again.variants) == names


@pytest.mark.parametrize(
    ("matrix", "words"),
    [
        ({"provider": "api", "model": []}, "matrix.model is an empty list"),
        ({"provider": "api", "model": ["a/x.j2", "b/x.j2"]}, "two cells are both named 'x'"),
        ({"provider": "api", "model": ["base"]}, "variant 'base' is also defined"),
        ({"provider": "api", "colour": ["red"]}, "colour"),
    ],
)
def test_bad_matrices_are_clear_errors(matrix: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Config.model_validate(
            {
                "providers": {"api": {"type": "openai", "model": "m"}},
                "matrix": matrix,
                "variants": {"base": {"provider": "api"}},
            }
        )


def test_a_matrix_run_and_glob_selection(workdir: Path, cli: Any) -> None:
    def answer(body: dict[str, Any]) -> str:
        return f"{body['model']} says {body['messages'][-1]['content']}"

    with FakeOpenAI(responder=answer) as server:
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m}}\n"
            "history: {enabled: false}\ncache: {enabled: false}\n"
            "matrix:\n  provider: api\n  model: [small-v1, large-v1, large-v2]\n"
            "  prompt: {terse: prompts/terse.j2, polite: prompts/polite.j2}\n",
        )
        write(workdir / "prompts" / "terse.j2", "Q: {{ q }}")
        write(workdir / "prompts" / "polite.j2", "Please answer: {{ q }}")
        write(
            workdir / "s.yaml",
            "name: s\nprompt: '{{ q }}'\nscorers: [contains]\ncases:\n  - {id: c1, vars: {q: hi}, reference: says}\n",
        )
        result = cli("run", "s.yaml", "-o", "out", "--no-baseline", "--variant", "large-*")
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in (workdir / "out" / "results.jsonl").read_text().splitlines()]
        got = {r["variant"]: r["output"] for r in rows}
        assert got == {
            "large-v1.terse": "large-v1 says Q: hi",
            "large-v1.polite": "large-v1 says Please answer: hi",
            "large-v2.terse": "large-v2 says Q: hi",
            "large-v2.polite": "large-v2 says Please answer: hi",
        }
        none = cli("run", "s.yaml", "-o", "out2", "--no-baseline", "--variant", "huge-*")
        assert none.exit_code == 2 and "matches no variant" in none.output
