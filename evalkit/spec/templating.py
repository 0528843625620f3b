"""Prompt templates: jinja2's sandbox with StrictUndefined, so a missing variable is an error."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
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
    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on template line {exc.lineno}: {exc.message}") from None


def render(template: jinja2.Template, variables: dict[str, Any]) -> str:
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
    from jinja2 import meta

    try:
        found = meta.find_undeclared_variables(environment().parse(source))
    except jinja2.TemplateSyntaxError:
        return False
    return bool(found & set(names))
