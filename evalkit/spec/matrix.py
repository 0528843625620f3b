"""`matrix:` in evalkit.yaml: variants built from lists (models × prompts × params), each cell a
normal variant with a predictable name.

    matrix:
      provider: api                       # one value: the same in every cell, not in the name
      model: [gpt-4o-mini, gpt-4o]        # a list: one cell per value, named by the value
      prompt: {v1: prompts/v1.j2, v2: prompts/v2.j2}   # a mapping: named values
      params: {temperature: [0, 0.7]}     # a param list: one cell per value, named key=value

builds `gpt-4o-mini.v1.temperature=0`, `gpt-4o-mini.v1.temperature=0.7`, … (the swept parts in
the order model, prompt, system, provider, fallback, params; a path's file name without its
extension). Select cells with globs: `evalkit run --variant 'gpt-4o.*'`."""

from __future__ import annotations

import itertools
from pathlib import PurePosixPath
from typing import Any

SWEPT_ORDER = ("model", "prompt", "system", "provider", "fallback")


def _label(value: Any) -> str:
    text = str(value).strip()
    if "/" in text or text.endswith((".j2", ".jinja", ".txt", ".md")):
        return PurePosixPath(text).stem
    return text


def _axis(key: str, value: Any) -> list[tuple[str, Any]] | None:
    """The (name part, value) choices of one swept key; None for a fixed value."""
    if isinstance(value, list):
        if not value:
            raise ValueError(f"matrix.{key} is an empty list")
        return [(_label(v), v) for v in value]
    if isinstance(value, dict) and key != "params":
        return [(str(name), v) for name, v in value.items()]
    return None


def expand_matrix(matrix: Any) -> dict[str, dict[str, Any]]:
    """The raw variant specs of a `matrix:` block, by name."""
    if not isinstance(matrix, dict):
        raise ValueError("matrix: expected a mapping of variant keys to values or lists of values")
    fixed: dict[str, Any] = {}
    axes: list[tuple[str, list[tuple[str, Any]]]] = []
    keys = [k for k in SWEPT_ORDER if k in matrix] + [k for k in matrix if k not in SWEPT_ORDER]
    for key in keys:
        if key == "params":
            continue
        choices = _axis(key, matrix[key])
        if choices is None:
            fixed[key] = matrix[key]
        else:
            axes.append((key, choices))
    params = matrix.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError("matrix.params: expected a mapping of param names to values or lists")
    fixed_params = {k: v for k, v in params.items() if not isinstance(v, list)}
    for name, values in params.items():
        if isinstance(values, list):
            if not values:
                raise ValueError(f"matrix.params.{name} is an empty list")
            axes.append((f"params.{name}", [(f"{name}={_label(v)}", v) for v in values]))
    out: dict[str, dict[str, Any]] = {}
    for cell in itertools.product(*(choices for _, choices in axes)):
        spec: dict[str, Any] = {**fixed, "params": dict(fixed_params)}
        for (key, _), (_, value) in zip(axes, cell, strict=True):
            if key.startswith("params."):
                spec["params"][key.removeprefix("params.")] = value
            else:
                spec[key] = value
        name = ".".join(label for label, _ in cell) or "matrix"
        if name in out:
            raise ValueError(f"matrix: two cells are both named '{name}': give the values names (a mapping)")
        out[name] = spec
    return out
