"""`evalkit import promptfoo promptfooconfig.yaml`: a promptfoo config as evalkit.yaml, prompt
templates and suites.

- providers (`openai:chat:M`, `openai:M`, `anthropic:messages:M`, `ollama:chat:M`, `ollama:M`,
  as strings or `{id, label, config}`) become OpenAI-compatible providers (Anthropic's and
  Ollama's OpenAI-compatible endpoints); `config.temperature` / `max_tokens` become variant params;
- prompts (inline, `file://*.txt`) become template files; every provider × prompt is a variant;
- tests (inline or `file://*.yaml|json`) become cases with `defaultTest.vars` under their own
  vars; `defaultTest.assert` runs before each test's own;
- assertions map through `promptfoo_asserts`; tests with the same scorers share a suite.

Everything that is not mapped is listed with its file, line and path, never dropped silently;
the import still succeeds. Reading the config is reading data: nothing in it is run."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalkit._util import strictjson
from evalkit._util.paths import not_a_file
from evalkit.errors import UserInputError
from evalkit.importers.promptfoo_asserts import Mapped, map_assertion
from evalkit.spec.templating import TemplateError, compile_template, render
from evalkit.spec.yamlfile import YamlDoc, load_yaml

ENDPOINTS = {  # OpenAI-compatible endpoints of the providers promptfoo names
    "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "anthropic": ("https://api.anthropic.com/v1", "ANTHROPIC_API_KEY"),
    "ollama": ("http://localhost:11434/v1", None),
}


@dataclass
class Report:
    """What the import wrote, what it could not map (file:line path: why) and how evalkit's
    figures differ from promptfoo's where they do."""

    written: list[Path] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cases: int = 0

    def note(self, text: str | None) -> None:
        if text and text not in self.notes:
            self.notes.append(text)


@dataclass
class _Source:
    doc: YamlDoc

    def where(self, loc: tuple[str | int, ...]) -> str:
        line = self.doc.line_of(loc)
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        return f"{self.doc.path}:{line or 1} {path}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower()[:60] or "x"


def _provider(
    entry: Any, src: _Source, loc: tuple[str | int, ...], report: Report
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """A promptfoo provider → (name, evalkit provider settings, variant params), or None."""
    pid, label = (entry, None) if isinstance(entry, str) else (None, None)
    conf: dict[str, Any] = {}
    if isinstance(entry, dict):
        pid, label, conf = entry.get("id"), entry.get("label"), entry.get("config") or {}
    if not isinstance(pid, str):
        report.unmapped.append(f"{src.where(loc)}: a provider without an id string")
        return None
    parts = pid.split(":")
    vendor = parts[0]
    if vendor not in ENDPOINTS or len(parts) < 2:
        report.unmapped.append(
            f"{src.where(loc)} ({pid}): no evalkit provider for it (write a python provider)"
        )
        return None
    model = (
        parts[-1]
        if len(parts) == 2 or parts[1] in ("chat", "messages", "completion")
        else ":".join(parts[1:])
    )
    if vendor == "ollama" and len(parts) > 2:
        model = ":".join(parts[2:])
    base_url, key_env = ENDPOINTS[vendor]
    settings: dict[str, Any] = {
        "type": "openai",
        "base_url": conf.get("apiBaseUrl", base_url),
        "model": model,
    }
    if key_env:
        settings["api_key_env"] = conf.get("apiKeyEnvar", key_env)
    params = {
        k: conf[p] for p, k in (("temperature", "temperature"), ("max_tokens", "max_tokens")) if p in conf
    }
    if "top_p" in conf:
        params["top_p"] = conf["top_p"]
    ignored = sorted(set(conf) - {"temperature", "max_tokens", "top_p", "apiBaseUrl", "apiKeyEnvar"})
    for key in ignored:
        report.unmapped.append(f"{src.where((*loc, 'config', key))}: provider option not mapped")
    return _slug(label or f"{vendor}-{model}"), settings, params


def _read_file_ref(ref: str, base: Path, what: str) -> Path:
    path = (base / ref.removeprefix("file://")).resolve()
    if not path.is_file():
        raise UserInputError(f"{what} {ref}: {not_a_file(path, 'no such file')}", path=path)
    return path


def _json_file(path: Path) -> Any:
    """A `file://*.json` list of tests, read as strictly as a case file (file and line on error)."""
    try:
        return strictjson.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UserInputError(f"not valid UTF-8 (byte {exc.start + 1})", path=path) from None
    except json.JSONDecodeError as exc:
        raise UserInputError.bad_json(exc, path=path) from None
    except strictjson.RefusedError as exc:  # a duplicate key, NaN, a 5,000-digit integer
        raise UserInputError(str(exc), path=path) from None
    except RecursionError:
        raise UserInputError("nested too deeply", path=path) from None


def _prompts(raw: Any, src: _Source, base: Path, report: Report) -> list[tuple[str, str]]:
    """(name, template text) per promptfoo prompt that is text."""
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    found: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        loc: tuple[str | int, ...] = ("prompts", i)
        label = None
        if isinstance(item, dict):
            label, item = item.get("label") or item.get("id"), item.get("raw") or item.get("id")
        if not isinstance(item, str):
            report.unmapped.append(f"{src.where(loc)}: a prompt that is not text")
            continue
        if item.startswith("file://"):
            path = _read_file_ref(item, base, "prompt")
            if path.suffix.lower() not in (".txt", ".md", ".j2", ""):
                report.unmapped.append(f"{src.where(loc)} ({item}): chat or script prompts are not mapped")
                continue
            found.append((_slug(label or path.stem), path.read_text(encoding="utf-8")))
        else:
            found.append((_slug(label or f"prompt-{i + 1}"), item))
    return found


def _tests(
    raw: Any, src: _Source, base: Path, report: Report
) -> list[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """(location, test) for every test, reading `file://` lists of tests (YAML or JSON)."""
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    found: list[tuple[tuple[str | int, ...], dict[str, Any]]] = []
    for i, item in enumerate(items):
        loc: tuple[str | int, ...] = ("tests", i) if isinstance(raw, list) else ("tests",)
        if isinstance(item, str) and item.startswith("file://") and item.endswith((".yaml", ".yml", ".json")):
            path = _read_file_ref(item, base, "tests")
            data = _json_file(path) if path.suffix == ".json" else load_yaml(path).data
            for j, test in enumerate(data if isinstance(data, list) else [data]):
                found.append(((*loc, item, j), test))
        elif isinstance(item, dict):
            found.append((loc, item))
        else:
            report.unmapped.append(
                f"{src.where(loc)}: tests from {item!r} are not read (YAML or JSON lists only)"
            )
    return found


def _render(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str) and "{{" in value:
        try:
            return render(compile_template(value), variables)
        except TemplateError:
            return value
    return value


@dataclass
class _Case:
    spec: dict[str, Any]
    scorers: list[dict[str, Any]]
    thresholds: dict[str, dict[str, float]]


def _case(
    index: int,
    loc: tuple[str | int, ...],
    test: dict[str, Any],
    default: dict[str, Any],
    src: _Source,
    report: Report,
) -> _Case:
    variables = {**(default.get("vars") or {}), **(test.get("vars") or {})}
    for name, value in variables.items():
        if isinstance(value, str) and value.startswith("file://"):
            report.unmapped.append(
                f"{src.where((*loc, 'vars', name))}: a file:// var is kept as its text '{value}'"
            )
    case: dict[str, Any] = {
        "id": _slug(str(test.get("description") or f"test-{index + 1}")) + f"-{index + 1}",
        "vars": dict(variables),
    }
    if test.get("description"):
        case["metadata"] = {"description": str(test["description"])}
    scorers: list[dict[str, Any]] = []
    thresholds: dict[str, dict[str, float]] = {}
    asserts: list[tuple[tuple[str | int, ...], Any]] = [
        (("defaultTest", "assert", j), a) for j, a in enumerate(default.get("assert") or [])
    ]
    asserts += [((*loc, "assert", j), a) for j, a in enumerate(test.get("assert") or [])]
    for n, (aloc, a) in enumerate(asserts):
        got = _one_assertion(a, n, variables, aloc, src)
        if isinstance(got, str):
            report.unmapped.append(got)
            continue
        report.note(got.note)
        if got.reference is not None:
            if "reference" in case and case["reference"] != got.reference:
                report.unmapped.append(f"{src.where(aloc)}: a second, different reference (a case has one)")
                continue
            case["reference"] = got.reference
        if got.var is not None:
            case["vars"][got.var[0]] = got.var[1]
        if got.threshold is not None:
            thresholds[got.threshold[0]] = got.threshold[1]
        if got.scorer is not None:
            name = a.get("metric") if isinstance(a.get("metric"), str) else a["type"]
            scorers.append({**got.scorer, "name": _slug(name).replace("-", "_")})
    return _Case(case, scorers, thresholds)


def _one_assertion(
    a: Any, n: int, variables: dict[str, Any], loc: tuple[str | int, ...], src: _Source
) -> Mapped | str:
    if not isinstance(a, dict) or not isinstance(a.get("type"), str):
        return f"{src.where(loc)}: an assertion without a type"
    value = _render(a.get("value"), variables)
    if isinstance(value, str) and value.startswith("file://"):
        return f"{src.where(loc)} ({a['type']}): a file:// value is not read"
    threshold = a.get("threshold")
    got = map_assertion(
        a["type"], value, threshold if isinstance(threshold, int | float) else None, f"pf_{n + 1}"
    )
    if isinstance(got, str):
        return f"{src.where(loc)}: {got}"
    return got


KNOWN_KEYS = ("description", "providers", "prompts", "tests", "defaultTest")


def import_config(path: Path, out: Path, *, overwrite: bool = False) -> Report:
    """Write out/evalkit.yaml, out/prompts/*.txt and out/suites/*.yaml from a promptfoo config.
    promptfoo's `{{var}}` templates are nunjucks; evalkit renders them with Jinja (the same
    syntax for variables, loops and conditions; nunjucks-only filters fail at validation)."""
    if (out / "evalkit.yaml").exists() and not overwrite:
        raise UserInputError("an evalkit.yaml is already here: pass --overwrite to replace it", path=out)
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise UserInputError("a promptfoo config is a mapping (providers, prompts, tests)", path=path)
    src, data, report = _Source(doc), doc.data, Report()
    for key in data:
        if key not in KNOWN_KEYS:
            report.unmapped.append(f"{src.where((key,))}: '{key}' is not mapped")
    default = _default_test(data.get("defaultTest"), src, path.parent, report)
    providers = [
        p
        for i, e in enumerate(data.get("providers") or [])
        if (p := _provider(e, src, ("providers", i), report)) is not None
    ]
    grader = _grader(default, providers, src, report)
    prompts = _prompts(data.get("prompts"), src, path.parent, report)
    cases = [
        _case(i, loc, test, default, src, report)
        for i, (loc, test) in enumerate(_tests(data.get("tests"), src, path.parent, report))
    ]
    report.cases = len(cases)
    name = _slug(str(data.get("description") or path.stem))
    out.mkdir(parents=True, exist_ok=True)
    prompt_files = _write_prompts(out, prompts, report)
    _write_suites(out, name, cases, prompts[0][1] if prompts else "{{ prompt }}", grader, report)
    _write_config(out, providers, prompt_files, grader, report)
    return report


def _default_test(raw: Any, src: _Source, base: Path, report: Report) -> dict[str, Any]:
    if isinstance(raw, str) and raw.startswith("file://"):
        raw = load_yaml(_read_file_ref(raw, base, "defaultTest")).data
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        report.unmapped.append(f"{src.where(('defaultTest',))}: not a mapping")
        return {}
    for key in set(raw) - {"vars", "assert", "options"}:
        report.unmapped.append(f"{src.where(('defaultTest', key))}: '{key}' is not mapped")
    return raw


def _grader(
    default: dict[str, Any],
    providers: list[tuple[str, dict[str, Any], dict[str, Any]]],
    src: _Source,
    report: Report,
) -> tuple[str, dict[str, Any]] | None:
    """The judges' provider: defaultTest.options.provider, else the first provider (said so)."""
    given = (default.get("options") or {}).get("provider")
    if given is not None:
        got = _provider(given, src, ("defaultTest", "options", "provider"), report)
        if got is not None:
            return "grader", got[1]
    if providers:
        return providers[0][0], providers[0][1]
    return None


def _write_prompts(out: Path, prompts: list[tuple[str, str]], report: Report) -> list[tuple[str, str]]:
    folder = out / "prompts"
    files: list[tuple[str, str]] = []
    for name, text in prompts:
        folder.mkdir(exist_ok=True)
        target = folder / f"{name}.txt"
        target.write_text(text, encoding="utf-8")
        report.written.append(target)
        files.append((name, f"prompts/{name}.txt"))
    return files


def _write_suites(
    out: Path,
    name: str,
    cases: list[_Case],
    prompt: str,
    grader: tuple[str, dict[str, Any]] | None,
    report: Report,
) -> None:
    groups: dict[str, list[_Case]] = {}
    for case in cases:
        key = json.dumps([case.scorers, case.thresholds], sort_keys=True)
        groups.setdefault(key, []).append(case)
    (out / "suites").mkdir(exist_ok=True)
    for n, members in enumerate(groups.values()):
        suite_name = name if len(groups) == 1 else f"{name}-{n + 1}"
        scorers = [_with_grader(s, grader, report) for s in members[0].scorers]
        suite: dict[str, Any] = {"name": suite_name, "prompt": prompt, "scorers": scorers}
        thresholds = dict(members[0].thresholds)
        if scorers:  # `promptfoo eval` fails when any test fails: so does the suite
            thresholds["pass_rate"] = {"min": 1.0}
        if thresholds:
            suite["thresholds"] = thresholds
        suite["cases"] = [c.spec for c in members]
        target = out / "suites" / f"{suite_name}.yaml"
        target.write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True), encoding="utf-8")
        report.written.append(target)


def _with_grader(
    spec: dict[str, Any], grader: tuple[str, dict[str, Any]] | None, report: Report
) -> dict[str, Any]:
    if spec["type"] != "judge":
        return spec
    if grader is None:
        report.unmapped.append(f"judge scorer '{spec['name']}': no provider to grade with")
        return spec
    report.note(
        f"llm-rubric and factuality are graded by provider '{grader[0]}' (promptfoo's default grader differs)"
    )
    return {**spec, "provider": grader[0]}


def _write_config(
    out: Path,
    providers: list[tuple[str, dict[str, Any], dict[str, Any]]],
    prompt_files: list[tuple[str, str]],
    grader: tuple[str, dict[str, Any]] | None,
    report: Report,
) -> None:
    config: dict[str, Any] = {"providers": {name: settings for name, settings, _ in providers}}
    if grader is not None:
        config["providers"].setdefault(grader[0], grader[1])
    variants: dict[str, Any] = {}
    for name, _, params in providers:
        for prompt_name, prompt_path in prompt_files or [("", "")]:
            variant: dict[str, Any] = {"provider": name}
            if prompt_path:
                variant["prompt"] = prompt_path
            if params:
                variant["params"] = params
            variants[name if len(prompt_files) <= 1 else f"{name}-{prompt_name}"] = variant
    config["variants"] = variants
    config["suites"] = ["suites"]
    target = out / "evalkit.yaml"
    target.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    report.written.insert(0, target)
