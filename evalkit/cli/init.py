"""`evalkit init`: scaffold a project - evalkit.yaml for one provider, a first suite, baselines/
and a GitHub workflow - without ever overwriting a file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from evalkit.errors import UserInputError
from evalkit.spec.scaffold import PRESETS, scaffold

ProviderName = StrEnum("ProviderName", {name: name for name in PRESETS})  # type: ignore[misc]
EMBEDDED = ProviderName("embedded")


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    provider: Annotated[
        ProviderName,
        typer.Option("--provider", "-p", help="The model to evaluate first."),
    ] = EMBEDDED,
) -> None:
    """Create evalkit.yaml, a first suite, baselines/ and a GitHub workflow in DIRECTORY (default:
    here). Never overwrites a file: if one exists, nothing is written (exit 2)."""
    from evalkit.cli._common import user_errors
    from evalkit.cli.render import console

    with user_errors():
        made = scaffold(str(provider.value))
        for rel in made.files:
            if (directory / rel).exists():
                raise UserInputError(
                    "already exists; evalkit init never overwrites a file, and wrote nothing",
                    path=directory / rel,
                )
        for rel, text in made.files.items():
            (directory / rel).parent.mkdir(parents=True, exist_ok=True)
            with open(directory / rel, "x", encoding="utf-8") as f:  # "x": never over a file
                f.write(text)
    preset = PRESETS[str(provider.value)]
    lines = [f"Created {len(made.files)} files for {preset.summary}:"]
    width = max(len(str(rel)) for rel in made.files) + 2
    lines += [f"  {rel!s:<{width}}{made.notes[rel]}" for rel in made.files]
    steps = [("evalkit run", "evaluate the starter suite")]
    steps.append(("evalkit baseline save reports/<run-id>", "bless it; commit baselines/"))
    if preset.key_env:
        steps.insert(0, (f"export {preset.key_env}=...", "and add it as a repository secret"))
    step_width = max(len(command) for command, _ in steps) + 3
    lines.append("Next:")
    lines += [f"  {command:<{step_width}}{note}" for command, note in steps]
    console.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)


SchemaKind = StrEnum("SchemaKind", {"config": "config", "suite": "suite"})


def schema(
    kind: Annotated[SchemaKind, typer.Argument(help="config (evalkit.yaml) or suite (a suite file).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write it here instead of printing it.")
    ] = None,
) -> None:
    """Print the JSON Schema of evalkit.yaml or of a suite file, for editors that validate YAML
    as you type (e.g. a `# yaml-language-server: $schema=suite.schema.json` first line)."""
    from evalkit.cli.render import console
    from evalkit.spec import schema as schemas

    text = schemas.shipped(str(kind.value))
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}", highlight=False, markup=False)
