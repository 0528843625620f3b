"""evalkit.cli.lazy: each command is imported and built when it is used, and the root group still
lists, suggests and documents every command."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import typer.main

from evalkit.cli.app import EvalkitGroup, app

ORDER = ["init", "run", "score", "merge", "report", "calibrate", "diff", "validate", "list", "export"]
ORDER += ["schema", "labels", "baseline", "cache", "history", "import", "github"]


def test_the_root_group_lists_every_command_in_help_order_without_building_one() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, EvalkitGroup)
    assert root.list_commands(None) == ORDER == list(root.commands)
    assert root.commands._built == {}  # type: ignore[attr-defined]
    run = root.get_command(None, "run")  # type: ignore[arg-type]
    assert run is not None and run.name == "run" and "--no-history" in {o for p in run.params for o in p.opts}
    assert list(root.commands._built) == ["run"]  # type: ignore[attr-defined]
    assert root.get_command(None, "no-such-command") is None  # type: ignore[arg-type]
    history = root.commands["history"]
    assert sorted(history.commands) == ["check", "import", "report"]  # type: ignore[attr-defined]


def test_a_built_command_is_tidied_like_the_rest_of_the_help() -> None:
    root = typer.main.get_command(app)
    diff = root.commands["diff"]  # type: ignore[attr-defined]
    arguments = [p for p in diff.params if type(p).__name__ == "TyperArgument"]
    assert [a.metavar for a in arguments] == ["RUN_A", "RUN_B"]  # not typer's {RUN_A}


def test_help_imports_every_command_and_run_imports_only_its_own() -> None:
    probe = (
        "import sys, runpy; sys.argv = ['evalkit', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('evalkit', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('evalkit.cli.')))\n"
    )

    def cli_modules(*args: str) -> str:
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True)
        return out.stdout.splitlines()[-1]

    everything = cli_modules("--help")
    assert "'evalkit.cli.init'" in everything and "'evalkit.cli.github'" in everything
    assert "'evalkit.cli.history'" in everything and "'evalkit.cli.imports'" in everything
    run_help = cli_modules("run", "--help")
    assert "'evalkit.cli.run'" in run_help
    assert "'evalkit.cli.init'" not in run_help and "'evalkit.cli.history'" not in run_help


def test_a_mistyped_command_is_still_suggested(cli: Any) -> None:
    result = cli("rn")
    assert result.exit_code == 2 and "Did you mean 'run'?" in result.output
