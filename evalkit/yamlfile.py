"""YAML loading that remembers where every value came from, so errors can name a line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from evalkit.errors import UserInputError, did_you_mean

Loc = tuple[str | int, ...]


@dataclass
class YamlDoc:
    """Parsed YAML data plus the 1-based line of each key/item path."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of the deepest known prefix of `loc`."""
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)


def _index_lines(node: yaml.Node, loc: Loc, out: dict[Loc, int]) -> None:
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                child = (*loc, key_node.value)
                out[child] = key_node.start_mark.line + 1
                _index_lines(value_node, child, out)
                out[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*loc, i), out)


def load_yaml(path: Path) -> YamlDoc:
    """Read a YAML file; syntax errors become a UserInputError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError("file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"cannot read file: {exc}", path=path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise UserInputError(f"YAML syntax error: {problem}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise UserInputError(f"YAML error: {exc}", path=path) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return YamlDoc(path=path, data=data, lines=lines)


def _allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names of the model found by walking `loc` (best effort, for did-you-mean)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        info = current.model_fields.get(str(part))
        if info is None:
            continue  # a key of a mapping (a variant's name, say): the model stays the same
        annotation = info.annotation
        for candidate in getattr(annotation, "__args__", ()) or (annotation,):
            inner = getattr(candidate, "__args__", ())
            for sub in (candidate, *inner):
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    current = sub
                    break
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def format_validation_error(
    exc: ValidationError,
    *,
    path: Path | str,
    line_of: Any = None,
    model: type[BaseModel] | None = None,
    prefix: Sequence[str | int] = (),
) -> UserInputError:
    """The first pydantic error as one readable line with file, line and key path."""
    err = exc.errors(include_url=False)[0]
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    full = [*prefix, *loc]
    dotted = ".".join(str(p) for p in full) or "(top level)"
    message = err["msg"]
    if err["type"] == "extra_forbidden" and loc:
        key = str(loc[-1])
        hint = did_you_mean(key, _allowed_keys(model, loc[:-1])) if model is not None else ""
        message = f"unknown key '{key}'{hint}"
    line = line_of(full) if line_of is not None else None
    if len(exc.errors()) > 1:
        message += f" (and {len(exc.errors()) - 1} more problem(s))"
    return UserInputError(f"{dotted}: {message}", path=path, line=line)
