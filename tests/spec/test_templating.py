"""Prompt templates: a plain template (text and variables) is rendered without jinja2's context,
to the very text jinja2 renders; anything else is left to jinja2."""

from __future__ import annotations

from typing import Any

import pytest

from evalkit.spec.templating import TemplateError, compile_template, plain_pieces, render, render_plain

VALUES: list[Any] = ["text", "", "  ", "ünï ✓ 😀", 3, -2.5, 1e20, True, None, [1, "a"], {"k": [1]}, "{{ q }}"]


@pytest.mark.parametrize(
    "template",
    [
        "{{ q }}",
        "Q: {{ q }}\n",
        "{{q}}{{ q }}!",
        "a\r\nb {{ q }}  \n\n",
        "",
        "plain text",
        "{{ q }} & {{ range }}",
    ],
)
@pytest.mark.parametrize("value", VALUES)
def test_a_plain_template_renders_as_jinja2_renders_it(template: str, value: Any) -> None:
    variables = {"q": value, "range": "a variable named like a jinja2 global"}
    assert plain_pieces(template) is not None
    assert render_plain(template, variables) == render(compile_template(template), variables)


@pytest.mark.parametrize(
    "template",
    [
        "{{ q.x }}",
        "{{ q[0] }}",
        "{{ q | upper }}",
        '{{ "c" }}',
        "{% if q %}x{% endif %}",
        "{{ q + 1 }}",
        "{{ self }}",
        "{{ loop }}",
        "{{ q",
    ],
)
def test_anything_else_is_left_to_jinja2(template: str) -> None:
    assert plain_pieces(template) is None
    assert render_plain(template, {"q": "v", "self": "s", "loop": "l"}) is None


def test_a_missing_variable_is_left_to_jinja2_which_names_it() -> None:
    assert render_plain("Q: {{ question }}", {"q": 1}) is None
    with pytest.raises(TemplateError, match="question"):
        render(compile_template("Q: {{ question }}"), {"q": 1})
