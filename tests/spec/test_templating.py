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


# pieces of templates: the tags, whitespace, names jinja2 reads otherwise, text, its newlines
TOKENS = ["{{", "}}", " ", "\t", "\n", "\r", "q", "x1", "_a", "true", "None", "self", "and", "class"]
TOKENS += ["{", "}", "-", "+", "{%", "%}", "{#", "#}", "a", "é", ".", "|", "Q: ", "1", "[", "]"]


def test_the_simplest_templates_are_read_without_jinja2_as_jinja2_reads_them() -> None:
    """`_simple_pieces` (a plain template read without importing jinja2) says what jinja2's parser
    says, or nothing (then jinja2 reads it): 40,000 templates made of the pieces jinja2's lexer
    and parser treat apart, and the common ones."""
    import random

    from evalkit.spec.templating import _parsed_pieces, _simple_pieces

    rnd = random.Random(7)
    made = ["Q: {{ q }}", "{{q}}{{r}}", "{{ q }}\n\n", "x {{\tq\n}} y", "{{{ q }}}", "{{ q }}}", "", "\n"]
    made += ["".join(rnd.choice(TOKENS) for _ in range(rnd.randint(0, 9))) for _ in range(40_000)]
    read = 0
    for source in made:
        simple = _simple_pieces(source)
        if simple is not None:
            read += 1
            assert simple == _parsed_pieces(source), repr(source)
    assert read > 15_000  # most of them: the comparison covers the reading
    assert _simple_pieces("Q: {{ question }}\n") == (("Q: ", False), ("question", True))


def test_a_run_of_plain_prompts_never_imports_jinja2() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from evalkit.spec.templating import render_plain\n"
        "assert render_plain('Q: {{ q }}\\n', {'q': 1}) == 'Q: 1'\n"
        "assert 'jinja2' not in sys.modules\n"
        "assert render_plain('{{ q | upper }}', {'q': 'a'}) is None and 'jinja2' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
