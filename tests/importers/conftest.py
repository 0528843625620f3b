"""BFCL's own AST checker (from the bfcl-eval package) and its data, for the agreement tests."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

CHECKER_MODEL = "evalkit"  # the name BFCL's checker is told the outputs came from


@dataclass
class _ModelConfig:
    underscore_to_dot: bool


@pytest.fixture(scope="session")
def bfcl_checker() -> Callable[[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], str], bool]:
    """`bfcl_eval.eval_checker.ast_eval.ast_checker` itself. Its module imports BFCL's model
    registry (every vendor SDK) only to ask whether a model's names had their dots replaced;
    that one module is replaced by a registry holding the outputs' model, which keeps dots
    (evalkit maps `spotify_play` back to `spotify.play` before scoring). The checker's code runs
    unchanged."""
    pytest.importorskip(
        "bfcl_eval", reason="pip install --no-deps bfcl-eval (the README's test command does)"
    )
    registry = types.ModuleType("bfcl_eval.constants.model_config")
    registry.MODEL_CONFIG_MAPPING = {CHECKER_MODEL: _ModelConfig(underscore_to_dot=False)}  # type: ignore[attr-defined]
    saved = sys.modules.get(registry.__name__)
    sys.modules[registry.__name__] = registry
    try:
        from bfcl_eval.constants.enums import Language
        from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    finally:
        if saved is not None:
            sys.modules[registry.__name__] = saved
        else:
            del sys.modules[registry.__name__]

    def check(
        functions: list[dict[str, Any]],
        output: list[dict[str, Any]],
        answer: list[dict[str, Any]],
        category: str,
    ) -> bool:
        return bool(ast_checker(functions, output, answer, Language.PYTHON, category, CHECKER_MODEL)["valid"])

    return check


PROMPTFOO_ANSWERS = {
    "capital of France": "Paris",
    "city as JSON": '{"city": "Paris"}',
    "city in a sentence with JSON": 'Here it is: {"city": "Paris"} - done.',
}


def promptfoo_responder(body: dict[str, Any]) -> str:
    """The model under test answers from PROMPTFOO_ANSWERS; the grader model always passes."""
    if body.get("model") == "grader-model":
        return '{"verdict": "pass", "reason": "consistent with the reference"}'
    question = body["messages"][-1]["content"].split(": ", 1)[-1]
    return PROMPTFOO_ANSWERS.get(question, "I do not know.")
