"""Commands built when they are used: `evalkit run` imports and builds `run` alone, not the other
commands' modules and typer parameters (part of a run's fixed cost), while `--help`, a mistyped
command's suggestion and the docs generator still see every command, in order."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar

import typer
import typer.core
import typer.main

from evalkit.cli import started
from evalkit.cli.helptext import tidy, tidy_own

if TYPE_CHECKING:
    from typer._click import Command


class LazyCommands(MutableMapping[str, "Command"]):
    """A group's commands by name: each one imported, built and tidied on first access."""

    def __init__(self, group: LazyGroup, targets: dict[str, str]) -> None:
        self._group = group
        self._targets = dict(targets)  # name: "module:attribute", not built yet
        self._built: dict[str, Command] = {}
        self._order = list(targets)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            target = self._targets.pop(name)  # KeyError for a name that is not a command
            self._built[name] = self._group.build(name, target)
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._targets.pop(name, None)
        self._built[name] = command
        if name not in self._order:
            self._order.append(name)

    def __delitem__(self, name: str) -> None:
        if name not in self._order:
            raise KeyError(name)
        self._targets.pop(name, None)
        self._built.pop(name, None)
        self._order.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)


class LazyGroup(typer.core.TyperGroup):
    """A command group whose `targets` name each command's function or sub-app
    ("module:attribute") in the order `--help` lists them. Each is built, on first use, as
    `app.command(name=...)` or `app.add_typer(..., name=...)` would have built it, and its help
    tidied (helptext.py) before it is parsed."""

    targets: ClassVar[dict[str, str]] = {}
    # commands that call evalkit.cli.started() themselves, at the start of their own work; every
    # other command calls it when it is built, before its arguments are parsed
    starts_itself: ClassVar[frozenset[str]] = frozenset()
    pretty_exceptions_short: ClassVar[bool] = True  # typer.Typer's default, as the app keeps it

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self, self.targets)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names alone: nothing is imported

    def main(self, *args: Any, **kwargs: Any) -> Any:
        tidy_own(self, self.context_class(self))
        return super().main(*args, **kwargs)

    def build(self, name: str, target: str) -> Command:
        if name not in self.starts_itself:
            started()
        module, _, attribute = target.partition(":")
        obj = getattr(import_module(module), attribute)
        registrar = typer.Typer()  # registers with the defaults the app's own registration had
        command: Command
        if isinstance(obj, typer.Typer):
            registrar.add_typer(obj, name=name)
            command = typer.main.get_group_from_info(
                registrar.registered_groups[0],
                pretty_exceptions_short=self.pretty_exceptions_short,
                rich_markup_mode=self.rich_markup_mode,
                suggest_commands=self.suggest_commands,
            )
        else:
            registrar.command(name=name)(obj)
            command = typer.main.get_command_from_info(
                registrar.registered_commands[0],
                pretty_exceptions_short=self.pretty_exceptions_short,
                rich_markup_mode=self.rich_markup_mode,
            )
        tidy(command, self.context_class(self))
        return command
