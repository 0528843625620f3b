"""The plan's check that every case's prompt renders, without a `Case` or a `Message` per case
where that changes nothing: a suite × variant whose templates are plain (text and `{{ name }}`
only, `evalkit.spec.templating.plain_pieces`) renders a case that has no messages or tools of
its own from its vars alone, exactly as `Suite.render_messages` would (which renders plain
templates the same way). A spilled suite's cases are read as their JSON rows. Whatever the
quick check cannot say (a missing variable, a case's own messages or tools, a non-plain
template) goes through the full render, so every error and warning is the one it was."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.spec.cases import Case, CaseList, case_from_row
from evalkit.spec.config import Variant
from evalkit.spec.suite import MessageTemplate, Suite
from evalkit.spec.templating import plain_pieces, render_plain


@dataclass(frozen=True)
class PlainPrompt:
    """What a suite × variant renders for a case with no messages of its own, when plain."""

    sources: tuple[tuple[str, bool], ...]  # every template rendered (system included), and
    # whether it is a user turn's (one of those must not be blank)

    @classmethod
    def of(cls, suite: Suite, variant: Variant, variant_prompt: str | None) -> PlainPrompt | None:
        templates: Sequence[MessageTemplate] = (
            (MessageTemplate(role="user", content=variant_prompt),)
            if variant_prompt is not None
            else suite.messages
        )
        system = variant.system if variant.system is not None else suite.system
        sources = [(t.content, t.role == "user") for t in templates]
        if system is not None and (not templates or templates[0].role != "system"):
            sources.append((system, False))
        if any(plain_pieces(s) is None for s, _ in sources):
            return None
        return cls(tuple(sources))

    def blank(self, variables: dict[str, Any]) -> bool | None:
        """Whether the user turns render blank with `variables`; None when a template does not
        render plainly (the full render says why)."""
        blank = True
        for source, user in self.sources:
            text = render_plain(source, variables)
            if text is None:
                return None
            if blank and user and text.strip():
                blank = False
        return blank


Light = tuple[str, dict[str, Any], bool, "Case | dict[str, Any]"]  # id, vars, plain, case or row


def light_cases(cases: Sequence[Case]) -> Iterator[Light]:
    """A suite's cases for the quick check, as (id, vars, whether it has no messages, tools or
    choices of its own, the case or its row): a spilled list's rows as they are read, no Case made."""
    if isinstance(cases, CaseList) and cases.spilled:
        for row in cases.rows():
            own = row.get("messages") is None and row.get("tools") is None and row.get("choices") is None
            yield row["id"], row.get("vars") or {}, own, row
        return
    for case in cases:
        yield case.id, case.vars, case.messages is None and case.tools is None and case.choices is None, case


def whole(item: Case | dict[str, Any]) -> Case:
    """The whole case of a `Light`'s last member."""
    return item if isinstance(item, Case) else case_from_row(item, "")
