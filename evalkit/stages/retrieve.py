"""The retrieve stage: each RAG variant's chunks for every case, retrieved once (for all repeats),
after planning and before any model call, and rendered into the prompts (`context`, `documents`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalkit.errors import UserInputError
from evalkit.rag.context import rag_variables
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
    """Fill in every RAG request's retrieved context. A case whose retrieval finds nothing keeps
    `retrieval=()`: it is recorded as a retrieval failure, never sent to a model."""
    rag_variants = [v for v in plan.variants if v.rag is not None]
    if not rag_variants:
        return plan
    found: dict[tuple[str, str, str], tuple[str, list[RetrievedChunk]]] = {}
    for variant in rag_variants:
        retriever = build_retriever_for(plan.loaded, variant)
        plan.rag[variant.name] = retriever.describe()
        for suite in plan.suites:
            prompt = plan.prompts.get(variant.name)
            for case_id, retrieved in retrieve_for_variant(suite, variant, retriever, prompt).items():
                found[(suite.name, variant.name, case_id)] = retrieved
    suites = {s.name: s for s in plan.suites}
    variants = {v.name: v for v in plan.variants}
    cases = {(s.name, c.id): c for s in plan.suites for c in s.cases}
    requests = []
    for r in plan.requests:
        hit = found.get((r.suite, r.variant, r.case_id))
        if hit is None:
            requests.append(r)
            continue
        query, chunks = hit
        suite, variant = suites[r.suite], variants[r.variant]
        prompt = plan.prompts.get(r.variant)
        messages = suite.render_messages(cases[(r.suite, r.case_id)], variant, prompt, rag_variables(chunks))
        requests.append(
            r.model_copy(update={"messages": messages, "retrieval": tuple(chunks), "retrieval_query": query})
        )
    plan.requests = requests
    return plan
