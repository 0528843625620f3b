"""The registry mechanism behind evalkit/plugins.py (where the registries and decorators are).

Built-ins and third-party plugins register the same way: an entry point in the registry's group
naming "module:attr". Code may also register at import time with a decorator (e.g. a module
listed under `plugins:` in evalkit.yaml). Nothing is imported until it is asked for.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import (
    Distribution,
    EntryPoint,
    EntryPoints,
    PackageNotFoundError,
    distribution,
    distributions,
)
from typing import Any, Generic, TypeVar

from evalkit.errors import UserInputError, did_you_mean

T = TypeVar("T")
GROUP_PREFIX = "evalkit."  # every registry's entry-point group starts so (evalkit/plugins.py)


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    target: T | str  # the object, or "module:attr" still to import
    origin: Distribution | str | None  # the distribution whose entry point declares it, or "code"

    @property
    def source(self) -> str:
        """ "builtin", a distribution's name, or "code". A distribution's name is read when asked
        (`evalkit list`), not on scanning: reading it parses the distribution's whole METADATA
        (evalkit's holds its README), a few ms of every run that only looks a name up."""
        if isinstance(self.origin, str):
            return self.origin
        name = "unknown" if self.origin is None else _name(self.origin)
        return "builtin" if name == "evalkit" else name


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
        for ep in _installed().select(group=self.group):
            self._entries.setdefault(ep.name, Entry(ep.name, ep.value, ep.dist))

    def register(self, name: str, target: T | str, *, source: str | None = None) -> None:
        self._scan()  # so a decorated built-in keeps the source its entry point declares
        previous = self._entries.get(name)
        self._entries[name] = Entry(name, target, source or (previous.origin if previous else "code"))

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
            self._entries[name] = Entry(name, obj, entry.origin)
            return obj
        return entry.target


@functools.cache
def _name(dist: Distribution) -> str:
    """A distribution's name, read once per process (it parses the distribution's METADATA)."""
    return str(dist.name)


@functools.cache
def _installed() -> EntryPoints:
    """evalkit's entry points (its `evalkit.*` groups) of every installed distribution, read once
    per process for all the registries: those `entry_points()` finds, one distribution per name
    (the first on the path), but parsed only for the distributions whose entry_points.txt names
    an evalkit group (`entry_points()` parses every group of all of them: 6 ms of every run with
    200 installed)."""
    found: list[EntryPoint] = []
    names: set[str] = set()
    for dist in distributions():
        text = dist.read_text("entry_points.txt")
        if not text or f"[{GROUP_PREFIX}" not in text:
            continue
        name = _header_name(dist)
        if name is None or name in names:
            continue
        names.add(name)
        try:
            first = distribution(name)  # the copy of that name found first, as entry_points() keeps
        except PackageNotFoundError:
            first = dist
        found += [ep for ep in first.entry_points if ep.group.startswith(GROUP_PREFIX)]
    return EntryPoints(found)


def _header_name(dist: Distribution) -> str | None:
    """A distribution's normalized name from its METADATA's headers alone (not its description)."""
    from email.parser import HeaderParser  # once a registry is used (not for `evalkit --help`)

    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = HeaderParser().parsestr(text.partition("\n\n")[0])["Name"]
    return None if name is None else re.sub(r"[-_.]+", "-", str(name)).lower()


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
