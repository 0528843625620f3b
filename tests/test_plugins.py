"""The extension surface (evalkit/plugins.py): what a plugin registers is found by name, exactly
as the built-ins are, and figures a plugin adds (corpus metrics, agreement) are aggregated
from run.json's MetricInfo without importing any scorer module."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import evalkit
from evalkit import plugins
from evalkit.compare.aggregate import summarize_group
from evalkit.errors import UserInputError
from evalkit.scorers.base import Scorer, metric_infos
from evalkit.spec.rag import RagSettings
from evalkit.spec.suite import ScorerSpec
from evalkit.types import CaseResult, Message, Score, ScoreInput, StoredScore

ROOT = Path(__file__).resolve().parents[1]
REGISTRIES = (
    plugins.providers,
    plugins.scorers,
    plugins.corpus_metrics,
    plugins.agreement_measures,
    plugins.retrievers,
)


@pytest.fixture(autouse=True)
def _registries_as_they_were() -> Iterator[None]:
    """What a test registers is gone after it (`evalkit list` in later tests shows built-ins)."""
    for registry in REGISTRIES:
        registry.names()  # scanned
    saved = [dict(registry._entries) for registry in REGISTRIES]
    yield
    for registry, entries in zip(REGISTRIES, saved, strict=True):
        registry._entries = entries


class Longest:
    """A corpus metric no built-in knows: the longest output of the corpus, in characters."""

    def __init__(self, options: Mapping[str, Any]):
        self.unit = int(options.get("unit", 1))
        self.longest: int | None = None

    def add(self, output: str, references: Sequence[str]) -> None:
        self.longest = max(self.longest or 0, len(output) // self.unit)

    def score(self) -> float | None:
        return None if self.longest is None else float(self.longest)


class _Length(Scorer):
    names = ("test_length_c",)

    def score_one(self, item: ScoreInput) -> list[Score]:
        return [Score(name="test_length_c", value=float(len(item.output or "")))]


@pytest.fixture
def plugin_scorer() -> Iterator[None]:
    plugins.corpus_metric("test_longest")(Longest)

    @plugins.scorer("test_length_c", corpus="test_longest")
    def factory(unit: int = 1) -> Scorer:
        return _Length()

    yield


def result(case: int, output: str) -> CaseResult:
    return CaseResult(
        suite="s",
        case_id=f"c{case}",
        variant="v",
        repeat=0,
        provider="p",
        messages=[Message(role="user", content="x")],
        references=["r"],
        output=output,
        scores={"test_length_c": StoredScore(value=float(len(output)))},
    )


def test_a_plugin_corpus_metric_is_aggregated_by_name(plugin_scorer: None) -> None:
    metrics = metric_infos([ScorerSpec(type="test_length_c", unit=2)])
    assert [(m.corpus, m.options) for m in metrics] == [("test_longest", {"unit": 2})]
    group = summarize_group(iter([result(0, "abcd"), result(1, "abcdefghij")]), metrics, {})
    assert group.corpus == {"corpus_test_length_c": 5.0}  # 10 characters, in units of 2


def test_an_unknown_corpus_metric_is_a_clear_error() -> None:
    with pytest.raises(UserInputError, match="unknown corpus metric 'nope'"):
        plugins.corpus_metrics.get("nope")


def test_built_ins_register_through_their_entry_points() -> None:
    for registry, names in (
        (plugins.corpus_metrics, {"bleu", "chrf", "evaluate"}),
        (plugins.agreement_measures, {"cosine"}),
        (plugins.retrievers, {"bm25", "dense", "hybrid"}),
    ):
        assert names <= set(registry.names())
        assert {registry.source(n) for n in names} == {"builtin"}
    assert isinstance(plugins.retrievers.get("hybrid"), plugins.CorpusIndex)
    assert plugins.retrievers.get("dense").mode == "dense"  # type: ignore[union-attr]


def test_a_built_in_retriever_without_a_corpus_is_refused_before_any_model_call() -> None:
    from evalkit.rag.retrievers import build_retriever

    with pytest.raises(UserInputError, match="retriever 'bm25' needs a 'corpus' folder"):
        build_retriever(RagSettings(retriever="bm25"), Path)


def test_a_plugin_retriever_is_built_from_the_same_registry() -> None:
    from evalkit.rag.retrievers import build_retriever

    @evalkit.retriever("test_echo_retriever")
    def echo(query: str, top_k: int, **options: Any) -> list[dict[str, Any]]:
        return [{"id": f"d#{i}", "text": f"{query} {options['suffix']}"} for i in range(top_k)]

    found = build_retriever(RagSettings(retriever="test_echo_retriever", options={"suffix": "!"}), Path)
    chunks = found.retrieve(["q"], 2)
    assert [[(c.id, c.doc_id, c.text) for c in row] for row in chunks] == [
        [("d#0", "d", "q !"), ("d#1", "d", "q !")]
    ]


def test_a_scorers_declaration_is_typed_not_function_attributes() -> None:
    factory = plugins.scorers.get("bleu")
    info = plugins.declared_info(factory)
    assert info is not None and info.corpus == "bleu" and info.type == "bleu"
    assert plugins.install_extra(plugins.scorers.get("meteor")) is not None
    assert not hasattr(factory, "scorer_info")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_the_scorer_contract_and_aggregation_import_no_scorer_plugin() -> None:
    """The scorers/base <-> overlap/hf_evaluate cycle is cut: the corpus figures are looked up
    by name, and compare/ imports no scorer at all."""
    assert not {m for m in _imports(ROOT / "evalkit/scorers/base.py") if m.startswith("evalkit.scorers.")}
    for module in (ROOT / "evalkit/compare").glob("*.py"):
        assert not {m for m in _imports(module) if m.startswith("evalkit.scorers")}, module


def test_the_plugin_page_names_every_entry_point_group_in_pyproject() -> None:
    import tomllib

    declared_in_pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    groups = {g for g in declared_in_pyproject if g.startswith("evalkit.")}
    declared = {
        plugins.PROVIDERS,
        plugins.SCORERS,
        plugins.CORPUS_METRICS,
        plugins.AGREEMENT_MEASURES,
        plugins.RETRIEVERS,
    }
    assert groups == declared
    page = (ROOT / "evalkit/plugins.py").read_text()
    assert all(f"`{group}`" in page for group in declared)
