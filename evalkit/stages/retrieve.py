"""The retrieve stage: each RAG variant's chunks for every case, retrieved once (for all repeats),
after planning and before any model call; the plan renders them into the prompts (`context`,
`documents`) as each request is asked for."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from evalkit.errors import UserInputError
from evalkit.spec.config import LoadedConfig, Variant
from evalkit.spec.suite import Suite
from evalkit.spec.templating import TemplateError, compile_template, render, uses_variables
from evalkit.types import (
    RetrievedChunk,
)

if TYPE_CHECKING:
    from evalkit.rag.retrievers import Retriever
    from evalkit.stages.plan import Plan


def build_retriever_for(loaded: LoadedConfig, variant: Variant) -> Retriever:
    from evalkit.rag.retrievers import build_retriever

    assert variant.rag is not None
    try:
        return build_retriever(variant.rag, loaded.resolve)
    except UserInputError as exc:
        raise UserInputError(f"variants.{variant.name}.rag: {exc}", path=loaded.path) from None


def retrieve_for_variant(
    suite: Suite, variant: Variant, retriever: Retriever, variant_prompt: str | None
) -> dict[str, tuple[str, list[RetrievedChunk]]]:
    """Each case's chunks for a RAG variant, retrieved once for all its repeats."""
    assert variant.rag is not None
    sources = suite.templates_for(suite.cases[0], variant, variant_prompt) if suite.cases else []
    if sources and not any(uses_variables(src, ("context", "documents")) for src in sources):
        raise UserInputError(
            f"variant '{variant.name}' retrieves context, but the prompt of suite '{suite.name}' uses "
            "neither {{ context }} nor {{ documents }}: give the variant a `prompt:` template that does",
            path=suite.source_path,
        )
    try:
        query_template = compile_template(variant.rag.query)
    except TemplateError as exc:
        raise UserInputError(f"variants.{variant.name}.rag.query: {exc}") from None
    queries = []
    for case in suite.cases:
        try:
            queries.append(render(query_template, case.vars))
        except TemplateError as exc:
            raise UserInputError(
                f"case '{case.id}' ({case.origin}), variant '{variant.name}': rag.query: {exc}"
            ) from None
    found = retriever.retrieve(queries, variant.rag.top_k)
    return {case.id: (query, chunks) for case, query, chunks in zip(suite.cases, queries, found, strict=True)}


def retrieve(plan: Plan) -> Plan:
    """A new plan with every RAG case's retrieved context (rendered into its prompts as each request
    is asked for). A case whose retrieval finds nothing gets `retrieval=()`: it is recorded as a
    retrieval failure, never sent to a model."""
    rag_variants = [v for v in plan.variants if v.rag is not None]
    if not rag_variants:
        return plan
    found: dict[tuple[str, str, str], tuple[str, list[RetrievedChunk]]] = {}
    described = dict(plan.rag)
    for variant in rag_variants:
        retriever = build_retriever_for(plan.loaded, variant)
        described[variant.name] = retriever.describe()
        for suite in plan.suites:
            prompt = plan.prompts.get(variant.name)
            for case_id, retrieved in retrieve_for_variant(suite, variant, retriever, prompt).items():
                found[(suite.name, variant.name, case_id)] = retrieved
    return replace(plan, rag=described, retrieved=found)
