"""Prompt templates: jinja2's sandbox with StrictUndefined, so a missing variable is an error."""

from __future__ import annotations

import keyword
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jinja2 loads with the first template that is more than text and variables
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class TemplateError(Exception):
    """A template failed to compile or render; the message says why."""


def compile_template(source: str) -> jinja2.Template:
    import jinja2

    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on template line {exc.lineno}: {exc.message}") from None


@lru_cache(maxsize=4096)
def check_substitution_only(source: str) -> None:
    """Refuse a data-supplied template that does more than substitute variables (`{{ name }}`,
    `{{ row.field }}`, `{{ items[0] }}`): no loops, operators, filters or calls, so rendering it
    takes time and memory in proportion to its input (`{{ 9**(9**9) }}` hung `validate`)."""
    import jinja2
    from jinja2 import nodes

    # what a case's own `messages` (data: a JSONL line, a dataset row) may do: put variables in
    substitution = (
        nodes.Template,
        nodes.Output,
        nodes.TemplateData,
        nodes.Name,
        nodes.Getattr,
        nodes.Getitem,
        nodes.Const,
    )
    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on template line {exc.lineno}: {exc.message}") from None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, substitution):
            raise TemplateError(
                f"a case's own messages may only substitute variables ({{{{ name }}}}): "
                f"found {type(node).__name__.lower()} on template line {node.lineno}"
            )


# names jinja2's compiler binds itself, whatever the variables say (`{{ self }}`, `{{ loop }}`)
_BOUND = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})


@lru_cache(maxsize=4096)
def plain_pieces(source: str) -> tuple[tuple[str, bool], ...] | None:
    """A template that is only text and plain variables (`Q: {{ question }}`), as its pieces:
    (text, False) or (variable name, True); None for anything else (a filter, an attribute, a
    block, a syntax error). jinja2 renders such a template as the text with `str(value)` of each
    variable in its place (autoescape is off), which `render_plain` does without a jinja2 context
    per render: a run renders every prompt twice (checked while planning, sent while executing).
    The simplest templates are read without jinja2 (`_simple_pieces`: what jinja2's parser
    makes of them), so a run of such prompts never imports it."""
    simple = _simple_pieces(source)
    return simple if simple is not None else _parsed_pieces(source)


def _parsed_pieces(source: str) -> tuple[tuple[str, bool], ...] | None:
    """`plain_pieces` as jinja2's parser reads the template."""
    import jinja2
    from jinja2 import nodes

    try:
        tree = environment().parse(source)
    except jinja2.TemplateSyntaxError:
        return None
    pieces: list[tuple[str, bool]] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                pieces.append((child.data, False))
            elif isinstance(child, nodes.Name) and child.ctx == "load" and child.name not in _BOUND:
                pieces.append((child.name, True))
            else:
                return None
    return tuple(pieces)


# `{{ name }}` with spaces, tabs or newlines around an ASCII name: what `_simple_pieces` reads
_VARIABLE = re.compile(r"\{\{[ \t\n]*([A-Za-z_][A-Za-z0-9_]*)[ \t\n]*\}\}")
# names jinja2's parser may read as more than a variable (`true`, `none`, an operator word)
_NOT_SIMPLE = frozenset({"true", "false", "none", "and", "or", "not", "in", "is", "if", "else"}) | _BOUND


def _simple_pieces(source: str) -> tuple[tuple[str, bool], ...] | None:
    """`plain_pieces` of a template of text and `{{ name }}` only, read as jinja2's lexer and
    parser read it (the text up to each `{{`, one trailing newline dropped); None for anything
    else, which jinja2 reads (a carriage return, a block or comment tag, a variable tag that is
    more than an ASCII name, a name jinja2 may read otherwise). A test compares the two."""
    if "\r" in source or "{%" in source or "{#" in source:
        return None
    text = source[:-1] if source.endswith("\n") else source  # keep_trailing_newline=False
    pieces: list[tuple[str, bool]] = []
    at = 0
    for match in _VARIABLE.finditer(text):
        name = match.group(1)
        before = text[at : match.start()]
        if name in _NOT_SIMPLE or keyword.iskeyword(name) or "{{" in before or before.endswith("{"):
            return None  # (a `{` before `{{`: jinja2's tag starts one character earlier)
        if text[at : match.start()]:
            pieces.append((text[at : match.start()], False))
        pieces.append((name, True))
        at = match.end()
    if "{{" in text[at:]:
        return None
    if text[at:]:
        pieces.append((text[at:], False))
    return tuple(pieces)


def render_plain(source: str, variables: dict[str, Any]) -> str | None:
    """`source` rendered with `variables` when it is plain (see `plain_pieces`) and every
    variable it names is given; None otherwise (jinja2 renders it, or says what is wrong)."""
    pieces = plain_pieces(source)
    if pieces is None:
        return None
    try:
        return "".join(str(variables[text]) if name else text for text, name in pieces)
    except Exception:  # a missing variable, or a value whose str() fails: jinja2 says which
        return None


def render(template: jinja2.Template, variables: dict[str, Any]) -> str:
    import jinja2

    try:
        return template.render(**variables)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template variable missing: {exc.message}") from None
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"template tried something unsafe: {exc}") from None
    except Exception as exc:  # any other render failure is still the user's template
        raise TemplateError(f"template failed to render: {type(exc).__name__}: {exc}") from None


def uses_variables(source: str, names: tuple[str, ...]) -> bool:
    """Whether a template refers to any of `names` (a syntax error counts as no)."""
    import jinja2
    from jinja2 import meta

    try:
        found = meta.find_undeclared_variables(environment().parse(source))
    except jinja2.TemplateSyntaxError:
        return False
    return bool(found & set(names))
