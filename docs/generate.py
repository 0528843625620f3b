"""Write the reference sections of the docs from the code, so they cannot drift from it.

    python docs/generate.py          rewrite every generated section in place
    python docs/generate.py --check  exit 1 if a page is not what the code says (the tests do this)

A generated section sits between two HTML comments in a page (invisible once built):

    <!-- BEGIN GENERATED: cli -->
    ...
    <!-- END GENERATED: cli -->

and everything else on the page is written by hand. The sources: the typer app (every command,
argument and option), the provider and scorer registries (built-ins, with their install extras
and settings models), the pydantic models of `evalkit.yaml` and suite files (their JSON Schema),
`evalkit.errors.EXIT_CODES`, `evalkit.rundir.dir.PURPOSE` and the schema versions in
`evalkit.rundir.migrations.CURRENT`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
SECTION = re.compile(r"(<!-- BEGIN GENERATED: ([\w-]+) -->\n)(.*?)(<!-- END GENERATED: \2 -->)", re.S)


def md(text: str | None) -> str:
    """Text for a Markdown table cell or paragraph: code spans kept, markup characters escaped."""
    parts = re.split(r"(`[^`]*`)", " ".join((text or "").split()))
    return "".join(p if p.startswith("`") else re.sub(r"([\\|<>*\[\]_#])", r"\\\1", p) for p in parts)


def code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    # a pipe inside a cell, even in a code span, must be escaped for the table to keep its columns
    for row in rows:
        lines.append("| " + " | ".join(re.sub(r"(?<!\\)\|", r"\\|", cell) or " " for cell in row) + " |")
    return "\n".join(lines)


# --- the command line ---------------------------------------------------------------------------


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name in command.list_commands(None) if hasattr(command, "list_commands") else []:
        yield from _commands(command.commands[name], (*path, name))


def _param_row(param: Any) -> list[str]:
    is_argument = type(param).__name__ == "TyperArgument"
    names = [param.metavar or param.name.upper()] if is_argument else [*param.opts, *param.secondary_opts]
    value = "" if is_argument else (param.metavar or "")
    if is_argument:
        value = str(param.display_type_rich(None) or "")
    notes = []
    if param.required:
        notes.append("required")
    repeatable = getattr(param, "multiple", False) or (is_argument and param.nargs != 1)
    if repeatable and "repeatable" not in (param.help or ""):
        notes.append("repeatable")
    default = param.default
    if default not in (None, False, (), []) and not callable(default) and param.show_default is not False:
        notes.append(f"default: {code(str(getattr(default, 'value', default)))}")
    help_text = md(param.help) + (f" ({'; '.join(notes)})" if notes else "")
    return [", ".join(code(n) for n in names), code(value) if value else "", help_text]


def cli_reference() -> str:
    import typer.main

    from evalkit.cli.app import app
    from evalkit.cli.helptext import tidy

    root = typer.main.get_command(app)
    ctx = root.context_class(root)
    tidy(root, ctx)
    out = []
    for path, command in _commands(root):
        if not path:
            rows = [_param_row(p) for p in command.params]
            out.append("## `evalkit`\n\n" + md(command.help) + "\n")
            out.append(table(["option", "value", "what it does"], rows) + "\n")
            continue
        name = " ".join(("evalkit", *path))
        out.append(f"## {code(name)}\n")
        paragraphs = (command.help or "").split("\n\n")
        out += [md(p) + "\n" for p in paragraphs if p.strip()]
        if hasattr(command, "list_commands"):
            subs = [f"{code(name + ' ' + sub)}" for sub in command.list_commands(None)]
            out.append("Commands: " + ", ".join(subs) + ".\n")
            if not getattr(command, "invoke_without_command", False):
                continue
        sub_ctx = command.context_class(command, info_name=name)
        usage = " ".join(command.collect_usage_pieces(sub_ctx))
        out.append(f"```text\n{name} {usage}\n```\n")
        rows = [_param_row(p) for p in command.params if not getattr(p, "hidden", False)]
        if rows:
            out.append(table(["argument or option", "value", "what it does"], rows) + "\n")
    return "\n".join(out)


# --- registries ---------------------------------------------------------------------------------


def _extra(name: str | None) -> str:
    return code(f"pip install 'evalkit[{name}]'") if name else "included"


def scorer_reference() -> str:
    from evalkit import plugins

    rows = []
    for entry in plugins.scorers.entries():
        if entry.source != "builtin":
            continue
        factory = plugins.scorers.get(entry.name)
        info = plugins.declared_info(factory)
        assert info is not None, f"built-in scorer {entry.name} is not declared with @scorer"
        kind = {"pass_fail": "pass/fail", "continuous": "score", "judge": "judge"}.get(info.kind, info.kind)
        direction = "higher" if info.higher_is_better else "lower"
        rows.append(
            [
                code(entry.name),
                md(info.description),
                kind,
                direction,
                "yes" if info.needs_reference else "",
                _extra(plugins.install_extra(factory)),
            ]
        )
    header = ["scorer", "what it measures", "kind", "better", "needs a reference", "install"]
    return table(header, rows) + "\n"


def provider_reference() -> str:
    from evalkit import plugins

    out = []
    for entry in plugins.providers.entries():
        if entry.source != "builtin":
            continue
        cls = plugins.providers.get(entry.name)
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        out.append(f"## {code(entry.name)}\n")
        out.append(md(doc) + "\n")
        out.append(f"Install: {_extra(getattr(cls, 'extra', None))}.\n")
        model = getattr(cls, "settings_model", None)
        if model is not None and model.model_fields:
            from evalkit.spec.schema import describe

            settings = model.model_json_schema()
            describe(settings, model)
            out.append(model_table(settings, {}) + "\n")
    return "\n".join(out)


# --- schemas ------------------------------------------------------------------------------------


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})" if name in defs else name
    if "anyOf" in prop:
        kinds = [_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds))
    if "const" in prop:
        return code(json.dumps(prop["const"]))
    if "enum" in prop:
        return " | ".join(code(json.dumps(v)) for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return f"mapping of name → {_type(extra, defs)}" if isinstance(extra, dict) and extra else "mapping"
    signs = (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))
    limits = [f"{sign} {prop[key]}" for key, sign in signs if key in prop]
    names = {"string": "text", "integer": "integer", "number": "number", "boolean": "true/false"}
    return names.get(kind, str(kind)) + (f" ({', '.join(limits)})" if limits else "")


def model_table(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    required = set(schema.get("required", []))
    rows = []
    for key, prop in schema.get("properties", {}).items():
        default = "required" if key in required else ""
        if "default" in prop and prop["default"] not in (None, [], {}):
            default = code(json.dumps(prop["default"], ensure_ascii=False))
        rows.append([code(key), _type(prop, defs), default, md(prop.get("description", ""))])
    return table(["key", "value", "default", "what it is"], rows)


def schema_reference(kind: str) -> str:
    from evalkit.spec.schema import json_schema

    schema = json_schema(kind)
    defs = schema.get("$defs", {})
    out = [md(schema.get("description", "")) + "\n"] if schema.get("description") else []
    out.append(model_table(schema, defs) + "\n")
    for name in sorted(defs):
        if kind == "config" and name == "ProviderConfig":
            out.append(f"### {name}\n")
            out.append(
                "`type:` picks the provider; the other keys are its settings: see "
                "[Providers and scorers](providers-and-scorers.md).\n"
            )
            out.append(model_table(defs[name], defs) + "\n")
            continue
        out.append(f"### {name}\n")
        if defs[name].get("description"):
            out.append(md(defs[name]["description"]) + "\n")
        if "properties" in defs[name]:
            out.append(model_table(defs[name], defs) + "\n")
    return "\n".join(out)


# --- exit codes, run directory ------------------------------------------------------------------


def exit_code_reference() -> str:
    from evalkit.errors import EXIT_CODES

    return table(["code", "meaning"], [[f"**{c}**", md(text)] for c, text in EXIT_CODES.items()]) + "\n"


SCHEMA_FILES = {
    "run_info": "`run.json`",
    "result": "each line of `results.jsonl`",
    "baseline_meta": "`baselines/<suite>/<variant>.meta.json`",
    "cache_entry": "each response-cache entry",
    "summary": "`summary.json`",
}


def run_files_reference() -> str:
    from evalkit.rundir.dir import PURPOSE, RUN_FILES

    return table(["file", "what it holds"], [[code(name), md(PURPOSE[name])] for name in RUN_FILES]) + "\n"


def schema_versions_reference() -> str:
    from evalkit.rundir.migrations import CURRENT

    rows = [[SCHEMA_FILES[kind], code(kind), str(version)] for kind, version in CURRENT.items()]
    return table(["record", "kind", "current schema_version"], rows) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "cli": cli_reference,
    "scorers": scorer_reference,
    "providers": provider_reference,
    "config-schema": lambda: schema_reference("config"),
    "suite-schema": lambda: schema_reference("suite"),
    "exit-codes": exit_code_reference,
    "run-files": run_files_reference,
    "schema-versions": schema_versions_reference,
}


def render(text: str) -> str:
    """The page with every generated section rewritten."""

    def fill(m: re.Match[str]) -> str:
        return m.group(1) + GENERATORS[m.group(2)]().rstrip("\n") + "\n" + m.group(4)

    return SECTION.sub(fill, text)


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts and SECTION.search(p.read_text()))


def main(argv: list[str]) -> int:
    stale = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            stale.append(page)
            if "--check" not in argv:
                page.write_text(new, encoding="utf-8")
    for page in stale:
        print(f"{'stale' if '--check' in argv else 'rewrote'}: {page.relative_to(DOCS.parent)}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
