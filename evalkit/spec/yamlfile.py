"""YAML loading that remembers where every value came from, so errors can name a line."""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

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


MAX_DEPTH = 64  # nesting levels a user file may use
MAX_ALIAS_EXPANSION = 1_000_000  # values aliases may add (a 537-byte 'billion laughs' file: 10⁹)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses what would otherwise pass silently: a key given twice (the last
    one used to win: `min: 0.99` became `min: 0.0`), not-a-number or infinite floats and integers
    longer than Python converts (4,300 digits: a ValueError traceback)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *defaults` overrides on purpose
            key = self._key(key_node)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: refused below
            if first is not key_node:  # block or flow style (`{a: 1, a: 2}` on one line) alike
                line = first.start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first given on line {line})", key_node.start_mark
                )
        self.flatten_mapping(node)  # `<<` merged in: its keys first, so the mapping's own win
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def _key(self, key_node: yaml.Node) -> Any:
        """Keys are text, as in JSON: one that YAML reads as a number, a boolean, null or a date is
        the text the file wrote (`{1: one, on: x}` reads as `{"1": "one", "on": "x"}`), so every
        mapping can be hashed, sorted and written as JSON, and `1` and `'1'` are one key."""
        key = self.construct_object(key_node, deep=True)
        if isinstance(key, str) or not isinstance(key_node, yaml.ScalarNode):
            return key
        return str(key_node.value)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise yaml.constructor.ConstructorError(
                None, None, f"'{node.value}' is not a finite number", node.start_mark
            )
        return value

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # int() of over sys.get_int_max_str_digits() digits
            limit = sys.get_int_max_str_digits()
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of more than {limit:,} digits", node.start_mark
            ) from None


_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)


def _expanded_size(root: yaml.Node, path: Path) -> None:
    """Refuse documents nested too deeply, or whose aliases expand to a huge tree (a few
    hundred bytes can stand for billions of values): counted without expanding anything."""
    sizes: dict[int, int] = {}
    unique = 0
    # iterative post-order walk over the node graph; each node once
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        children = _children(node)
        if not done:
            if depth > MAX_DEPTH:
                raise UserInputError(
                    f"nested more than {MAX_DEPTH} levels deep", path=path, line=node.start_mark.line + 1
                )
            stack.append((node, depth, True))
            stack += [(c, depth + 1, False) for c in children if id(c) not in sizes]
            continue
        if id(node) in sizes:
            continue  # reached twice through aliases before it was finished
        unique += 1
        sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in children)
    if sizes[id(root)] - unique > MAX_ALIAS_EXPANSION:
        raise UserInputError(
            f"its aliases expand to more than {MAX_ALIAS_EXPANSION:,} values: refused (an alias 'bomb'?)",
            path=path,
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _compose(text: str, path: Path) -> tuple[Any, Any]:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _expanded_size(node, path)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: Path) -> YamlDoc:
    """Read a YAML file; syntax errors, duplicate keys, non-finite numbers, too deep nesting
    and alias bombs become a UserInputError with the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserInputError("file not found", path=path) from None
    except IsADirectoryError:
        raise UserInputError("is a directory, not a file", path=path) from None
    except UnicodeDecodeError as exc:
        bad_line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UserInputError(f"not valid UTF-8 (byte {exc.start + 1})", path=path, line=bad_line) from None
    except OSError as exc:
        raise UserInputError(f"cannot read file: {exc}", path=path) from None
    try:
        node, data = _compose(text, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise UserInputError(f"{kind}: {problem}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise UserInputError(f"YAML error: {exc}", path=path) from None
    except RecursionError:
        raise UserInputError(f"nested more than {MAX_DEPTH} levels deep", path=path) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return YamlDoc(path=path, data=data, lines=lines)


def _allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names of the model found by walking `loc` (best effort, for did-you-mean). In a union
    the member that fits the next step is taken: a list's items when the path goes on by index
    (`cases.0.tools` is a case's key, not one of the dataset source's)."""
    current: Any = model
    for i, part in enumerate(loc):
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        info = current.model_fields.get(str(part))
        if info is None:
            continue  # a key of a mapping (a variant's name, say): the model stays the same
        by_index = i + 1 < len(loc) and isinstance(loc[i + 1], int)
        current = _member(info.annotation, by_index) or current
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _member(annotation: Any, by_index: bool) -> type[BaseModel] | None:
    """The model a value of `annotation` holds: a list's item model when the path goes on by
    index, else a model (or a mapping's value model) of the union."""
    fallback = None
    for candidate in get_args(annotation) or (annotation,):
        is_list = get_origin(candidate) in (list, tuple)
        for sub in (candidate, *get_args(candidate)):
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                if is_list == by_index:
                    return sub
                fallback = fallback or sub
    return fallback


def user_loc(loc: Sequence[str | int]) -> list[str | int]:
    """A pydantic error's path as the user's keys: pydantic also names union members and
    validators in it (list[...], function-after[...]), which are no keys of the user's file."""
    return [p for p in loc if not (isinstance(p, str) and (p.startswith("function-") or "[" in p))]


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
    loc = user_loc(err["loc"])
    full = [*prefix, *loc]
    dotted = ".".join(str(p) for p in full) or "(top level)"
    message = err["msg"].removeprefix("Value error, ")  # a check of evalkit's: its own words
    if err["type"] == "extra_forbidden" and loc:
        key = str(loc[-1])
        hint = did_you_mean(key, _allowed_keys(model, loc[:-1])) if model is not None else ""
        message = f"unknown key '{key}'{hint}"
    line = line_of(full) if line_of is not None else None
    if len(exc.errors()) > 1:
        message += f" (and {len(exc.errors()) - 1} more problem(s))"
    return UserInputError(f"{dotted}: {message}", path=path, line=line)
