"""The registry mechanism behind evalkit/plugins.py (where the registries and decorators are).

Built-ins and third-party plugins register the same way: an entry point in the registry's group
naming "module:attr". Code may also register at import time with a decorator (e.g. a module
listed under `plugins:` in evalkit.yaml). Nothing is imported until it is asked for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import EntryPoints, entry_points
from typing import Any, Generic, TypeVar, cast

from evalkit.errors import UserInputError, did_you_mean

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    target: T | str  # the object, or "module:attr" still to import
    source: str  # "builtin", a distribution name, or "code"


class Registry(Generic[T]):
    def __init__(self, kind: str, group: str):
        self.kind = kind
        self.group = group
        self._entries: dict[str, Entry[T]] = {}
        self._scanned = False

    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        names: dict[int, str] = {}  # each distribution's name read once (it parses METADATA)
        for ep in _installed().select(group=self.group):
            if ep.dist is not None and id(ep.dist) not in names:
                names[id(ep.dist)] = ep.dist.name
            dist = "unknown" if ep.dist is None else names[id(ep.dist)]
            source = "builtin" if dist == "evalkit" else dist
            self._entries.setdefault(ep.name, Entry(ep.name, ep.value, source))

    def register(self, name: str, target: T | str, *, source: str | None = None) -> None:
        self._scan()  # so a decorated built-in keeps the source its entry point declares
        previous = self._entries.get(name)
        self._entries[name] = Entry(name, target, source or (previous.source if previous else "code"))

    def names(self) -> list[str]:
        self._scan()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        self._scan()
        return [self._entries[n] for n in sorted(self._entries)]

    def source(self, name: str) -> str | None:
        """Where `name` comes from ("builtin", a distribution, "code"), None when unknown."""
        self._scan()
        entry = self._entries.get(name)
        return entry.source if entry is not None else None

    def get(self, name: str) -> T:
        self._scan()
        entry = self._entries.get(name)
        if entry is None:
            raise UserInputError(f"unknown {self.kind} '{name}'{did_you_mean(name, self._entries)}")
        if isinstance(entry.target, str):
            obj: T = _import_target(entry.target)
            self._entries[name] = Entry(name, obj, entry.source)
            return obj
        return entry.target


@functools.cache
def _installed() -> EntryPoints:
    """Every installed entry point, read once per process for all the registries (each read
    walks every distribution on the path)."""
    # Python 3.11 types it SelectableGroups (by group); its .select(group=...) is EntryPoints, as on 3.12
    return cast(EntryPoints, entry_points())


def _import_target(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    module = import_module(module_name)
    obj: Any = module
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def import_object(spec: str, *, what: str) -> Any:
    """Import "module:attr" named by a user, with a clear error when it is not there."""
    if ":" not in spec:
        raise UserInputError(f"{what} '{spec}' must look like 'module:attribute'")
    try:
        return _import_target(spec)
    except (ImportError, AttributeError) as exc:
        raise UserInputError(f"cannot import {what} '{spec}': {exc}") from None
