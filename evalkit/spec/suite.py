"""Suites: load YAML (with inline, JSONL, CSV or Hugging Face dataset cases) into typed objects.

Everything a user writes is validated here, with the file and line (or case id) of any
problem, before a single model call is made.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NotRequired

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
    with_config,
)
from typing_extensions import TypedDict

from evalkit._util import strictjson
from evalkit._util.jsontext import Encoder
from evalkit._util.models import Spec, new_list
from evalkit._util.paths import not_a_file
from evalkit._util.textsafe import clean_text
from evalkit.errors import UserInputError
from evalkit.spec.cases import Case as Case  # re-exported: where suites' cases are typed
from evalkit.spec.cases import CaseIds, CaseList, Duplicate, case_from_row, case_row
from evalkit.spec.cases import MessageTemplate as MessageTemplate
from evalkit.spec.cases import tools_json as tools_json
from evalkit.spec.config import Variant
from evalkit.spec.templating import (
    TemplateError,
    check_substitution_only,
    compile_template,
    plain_pieces,
    render,
    render_plain,
)
from evalkit.spec.yamlfile import MAX_DEPTH, format_validation_error, load_yaml
from evalkit.tools.expect import ExpectedCall, ToolExpectations
from evalkit.types import AgentSettings, GenerationParams, Message, Threshold, ToolChoice, ToolSchema

if TYPE_CHECKING:  # jinja2 loads with the first template that is more than text and variables
    import jinja2

RESERVED_CASE_FIELDS = (
    "id",
    "reference",
    "references",
    "tags",
    "metadata",
    "messages",
    "relevant_ids",
    "expected_tools",
    "forbidden_tools",
    "expected_tool_calls",
    "max_steps",
    "tools",
    "choices",
    "gold",
)


MAX_REPEATS = 1_000  # repeats per case: beyond it, a typo (`1e8`) would run for ever


class CaseSpec(Spec):
    id: str  # unique within the suite: baselines and history pair cases by it
    vars: dict[str, Any] = Field(default_factory=dict)  # the values the templates fill in
    messages: list[MessageTemplate] | None = None  # this case's own chat, instead of the suite's prompt
    reference: str | None = None  # the expected answer, for scorers that need one
    references: list[str] | None = None  # several acceptable answers (instead of reference)
    tags: list[str] = Field(default_factory=new_list)  # labels to filter and group cases by
    metadata: dict[str, Any] = Field(default_factory=dict)  # anything else, kept with the case's results
    # RAG: the gold document ids ("guide.md") or chunk ids ("guide.md#1200") for this question
    relevant_ids: list[str] = Field(default_factory=new_list)
    # tool-use expectations (evalkit.tools.expect): what the trajectory scorers check
    expected_tools: list[str] | None = None
    forbidden_tools: list[str] = Field(default_factory=new_list)  # tools the model must not call
    # calls the model must make: name, arguments and how they match
    expected_tool_calls: list[ExpectedCall] | None = None
    max_steps: int | None = Field(default=None, gt=0)  # the model must finish in at most this many calls
    tools: list[ToolSchema] | None = None  # this case's own function tools (over the suite's and variant's)
    # multiple choice by log-likelihood: the choices, and the index of the right one
    choices: list[str] | None = None
    gold: StrictInt | None = None  # the index of the right choice (0 for the first)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("reference", mode="before")
    @classmethod
    def _reference_as_text(cls, value: Any) -> Any:
        """A whole number is its digits; a number with a point or an exponent is refused, since
        what was written is lost in reading it (1.50 reads as 1.5, 1e2 as 100.0) and `exact`
        would compare against text nobody wrote."""
        if isinstance(value, float):
            raise ValueError(
                f"the number {value!r} is not kept as written (YAML and JSON read 1.50 as 1.5): "
                "quote it as the text to compare with ('1.50')"
            )
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _one_reference_field(self) -> CaseSpec:
        if self.reference is not None and self.references is not None:
            raise ValueError("give either 'reference' or 'references', not both")
        if not self.id.strip():
            raise ValueError("case id must not be empty")
        _check_choices(self.choices, self.gold)
        return self


@with_config(ConfigDict(extra="forbid"))
class PlainCase(TypedDict):
    """A case of CaseSpec's common fields only, each typed as CaseSpec types it, validated into a
    dict (a third of the cost of a CaseSpec: no model, no defaults made): what most case files
    hold. A case it refuses, or one CaseSpec's own checks refuse, is validated as a CaseSpec
    (`_validate_case`), so every error is CaseSpec's and every case CaseSpec accepts is read."""

    id: str
    vars: NotRequired[dict[str, Any]]
    reference: NotRequired[str | None]
    references: NotRequired[list[str] | None]
    tags: NotRequired[list[str]]
    metadata: NotRequired[dict[str, Any]]
    relevant_ids: NotRequired[list[str]]


_PLAIN: TypeAdapter[PlainCase] | None = None  # built on first use (most runs read no case file)


def plain_case(data: dict[str, Any]) -> PlainCase | None:
    """`data` as a PlainCase when CaseSpec would take it as it is (its common fields only, an id
    as text and not blank, one reference field at most); else None."""
    global _PLAIN
    if _PLAIN is None:
        _PLAIN = TypeAdapter(PlainCase)
    try:
        case = _PLAIN.validate_python(data)
    except ValidationError:
        return None
    if not case["id"].strip() or (case.get("reference") is not None and case.get("references") is not None):
        return None
    return case


def _check_choices(choices: list[str] | None, gold: int | None) -> None:
    if choices is None:
        if gold is not None:
            raise ValueError("'gold' needs 'choices' (gold is the index of the right choice)")
        return
    if gold is None:
        raise ValueError("'choices' need a 'gold': the index of the right choice (0 for the first)")
    if len(choices) < 2:
        raise ValueError("'choices' need at least two choices")
    if not 0 <= gold < len(choices):
        raise ValueError(f"gold {gold} is out of range: {len(choices)} choices, so 0 to {len(choices) - 1}")


class MultipleChoice(Spec):
    """How cases with `choices` are scored (by log-likelihood, as lm-evaluation-harness does):
    the context is the rendered prompt as text (`plain`, lm-evaluation-harness's default) or
    through the model's chat template (`chat`); each choice follows it after `delimiter`
    (default: one space for `plain`, nothing for `chat`)."""

    # plain: the prompt as text; chat: through the model's chat template
    context: Literal["plain", "chat"] = "plain"
    # put between the context and each choice (default: a space for plain, none for chat)
    delimiter: str | None = None

    def continuation(self, choice: str) -> str:
        delimiter = self.delimiter if self.delimiter is not None else (" " if self.context == "plain" else "")
        return delimiter + choice


class FileCases(Spec):
    path: str  # a .jsonl, .csv or .yaml file of cases, relative to the suite
    limit: int | None = Field(default=None, gt=0)  # the first N cases only


class DatasetCases(Spec):
    """A Hugging Face dataset from a local path (save_to_disk folder or data files)."""

    dataset: str  # a local dataset: a save_to_disk folder or data files
    split: str = "train"  # the split to read
    config_name: str | None = None  # the dataset's configuration, if it has several
    # case fields read from columns: {id: qid, reference: answer, ...}
    fields: dict[Literal["id", "reference", "references", "tags", "relevant_ids"], str] = Field(
        default_factory=dict
    )
    vars: list[str] | dict[str, str] | None = None  # columns to expose (renamed if a mapping)
    limit: int | None = Field(default=None, gt=0)  # the first N rows only


class ScorerSpec(BaseModel):
    """`type` picks the scorer; `name` renames its score; `threshold` adds a per-case pass mark;
    `informational` keeps it out of a case's pass; other keys are its options."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    type: str  # the scorer: a built-in (exact, contains, rouge, judge, ...) or a plugin's
    name: str | None = None  # the score's name in results and reports (default: the type's)
    threshold: float | None = None  # per-case pass mark for continuous scores
    informational: bool = False  # scored and shown, never part of a case's pass

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @model_serializer(mode="wrap")
    def _omit_default_flag(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.informational:
            data.pop("informational", None)  # a suite's content hash is what it was before
        return data


class SuiteSpec(Spec):
    name: str  # the suite's name: baselines, history and reports know it by this
    description: str | None = None  # a line about the suite, shown in reports
    system: str | None = None  # the system prompt (a jinja2 template over the case's vars)
    prompt: str | None = None  # the user message (a jinja2 template over the case's vars)
    messages: list[MessageTemplate] | None = None  # a whole chat instead of prompt:
    # the cases: a list, or a .jsonl / .csv / .yaml file, or a local Hugging Face dataset
    cases: list[CaseSpec] | str | FileCases | DatasetCases
    scorers: list[str | ScorerSpec] = Field(default_factory=new_list)  # a name, or {type: ..., options}
    # floors and tolerances on the suite × variant figures: {metric: {min, max, max_drop, ...}}
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    params: GenerationParams = Field(default_factory=GenerationParams)  # a variant's params win
    repeats: int = Field(default=1, ge=1, le=MAX_REPEATS)  # run each case N times
    tags: list[str] = Field(default_factory=new_list)  # labels for the suite, kept in the run's record
    calibration: str | None = None  # a human labels file (JSONL/CSV) the judges are held against
    tools: list[ToolSchema] | None = None  # OpenAI function tools the model may call
    tool_choice: ToolChoice | None = None  # auto, none, required, or a named function to force
    agent: AgentSettings | None = None  # evalkit runs the tool loop with these callables
    multiple_choice: MultipleChoice | None = None  # how cases with `choices` are scored
    # the scores that decide whether a case passes (default: every pass/fail score that is not
    # informational)
    pass_: list[str] | None = Field(default=None, alias="pass", min_length=1)
    # `max_new_failures: N` among the thresholds: the run regresses when more than N cases that
    # passed in the baseline fail now (a regression test's rule, whatever the statistics say)
    max_new_failures: int | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _case_rule_from_thresholds(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("thresholds"), dict):
            thresholds = dict(data["thresholds"])
            if "max_new_failures" in thresholds:
                data = {
                    **data,
                    "max_new_failures": thresholds.pop("max_new_failures"),
                    "thresholds": thresholds,
                }
        return data

    @model_validator(mode="after")
    def _one_prompt(self) -> SuiteSpec:
        if self.prompt is not None and self.messages is not None:
            raise ValueError("give either 'prompt' or 'messages', not both")
        return self


@dataclass(frozen=True)
class Suite:
    name: str
    description: str | None
    source_path: Path
    system: str | None
    messages: tuple[MessageTemplate, ...]  # the templated conversation (prompt → one user turn)
    cases: Sequence[Case]  # a CaseList: a large file's cases are read back one at a time
    scorers: tuple[ScorerSpec, ...]
    thresholds: dict[str, Threshold]
    params: GenerationParams
    repeats: int
    tags: tuple[str, ...]
    content_hash: str
    calibration: Path | None = None  # human labels for this suite's cases (judge drift)
    tools: tuple[ToolSchema, ...] | None = None
    tool_choice: ToolChoice | None = None
    agent: AgentSettings | None = None
    multiple_choice: MultipleChoice | None = None
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, compare=False, repr=False)
    pass_scores: tuple[str, ...] | None = None  # `pass:`: the scores that decide a case's pass
    max_new_failures: int | None = None  # thresholds' `max_new_failures` (None: the config's)
    _compiled: dict[str, jinja2.Template] = field(default_factory=dict, compare=False, repr=False)

    def template(self, source: str) -> jinja2.Template:
        """Compile once and reuse; raises TemplateError."""
        compiled = self._compiled.get(source)
        if compiled is None:
            compiled = compile_template(source)
            self._compiled[source] = compiled
        return compiled

    def render_messages(
        self, case: Case, variant: Variant, variant_prompt: str | None, extra: dict[str, Any] | None = None
    ) -> tuple[Message, ...]:
        """The chat messages for one case under one variant; errors name the case."""
        if case.messages is not None:
            templates = case.messages
        elif variant_prompt is not None:
            templates = (MessageTemplate(role="user", content=variant_prompt),)
        else:
            templates = self.messages
        system = variant.system if variant.system is not None else self.system
        out: list[Message] = []
        try:
            if system is not None and (not templates or templates[0].role != "system"):
                out.append(Message(role="system", content=self._render(system, case, extra)))
            for t in templates:
                if case.messages is not None:  # the case's own: data, so substitution only
                    check_substitution_only(t.content)
                out.append(Message(role=t.role, content=self._render(t.content, case, extra)))
        except TemplateError as exc:
            raise UserInputError(
                f"case '{case.id}' ({case.origin}), variant '{variant.name}': {exc}"
            ) from None
        return tuple(out)

    def _render(self, source: str, case: Case, extra: dict[str, Any] | None = None) -> str:
        variables = {**case.vars, **extra} if extra else case.vars
        plain = render_plain(source, variables)  # text and plain variables: no jinja2 context
        return plain if plain is not None else render(self.template(source), variables)

    def templates_for(self, case: Case, variant: Variant, variant_prompt: str | None) -> list[str]:
        """The template sources a case renders under a variant (to check what they use)."""
        if case.messages is not None:
            sources = [t.content for t in case.messages]
        elif variant_prompt is not None:
            sources = [variant_prompt]
        else:
            sources = [t.content for t in self.messages]
        system = variant.system if variant.system is not None else self.system
        return [*sources, *([system] if system else [])]


def load_suite(path: Path) -> Suite:
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise UserInputError("a suite must be a mapping with name, prompt, cases", path=path, line=1)
    # validated on their own too (each line of a case file; the prompt as a message): built
    # first, the suite's validator reuses theirs instead of building its own copy of each
    for part in (CaseSpec, MessageTemplate):
        part.model_rebuild()
    try:
        spec = SuiteSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise format_validation_error(exc, path=path, line_of=doc.line_of, model=SuiteSpec) from None

    cases, content_hash = _collect(spec, _case_source(spec, path, doc.line_of), path)
    if not cases:
        raise UserInputError("the suite has no cases", path=path, line=doc.line_of(("cases",)))
    messages: tuple[MessageTemplate, ...] = ()
    if spec.messages is not None:
        messages = tuple(spec.messages)
    elif spec.prompt is not None:
        messages = (MessageTemplate(role="user", content=spec.prompt),)

    scorers = tuple(s if isinstance(s, ScorerSpec) else ScorerSpec(type=s) for s in spec.scorers)
    suite = Suite(
        name=spec.name,
        description=spec.description,
        source_path=path,
        system=spec.system,
        messages=messages,
        cases=cases,
        scorers=scorers,
        thresholds=dict(spec.thresholds),
        params=spec.params,
        repeats=spec.repeats,
        tags=tuple(spec.tags),
        content_hash=content_hash,
        calibration=_calibration(path, spec.calibration),
        tools=None if spec.tools is None else tuple(spec.tools),
        tool_choice=spec.tool_choice,
        agent=spec.agent,
        multiple_choice=spec.multiple_choice,
        lines=doc.lines,
        pass_scores=tuple(spec.pass_) if spec.pass_ is not None else None,
        max_new_failures=spec.max_new_failures,
    )
    # Compile every template now so syntax errors surface before any model call; a plain one
    # (text and variables: `plain_pieces` parsed it) compiles, and renders without jinja2 (it is
    # compiled only if a render falls back to it: a ms of every run's fixed cost otherwise)
    templates = [
        (m.content, ("messages", i, "content") if spec.messages is not None else ("prompt",))
        for i, m in enumerate(messages)
    ]
    if spec.system is not None:
        templates.append((spec.system, ("system",)))
    for source, loc in templates:
        if plain_pieces(source) is not None:
            continue
        try:
            suite.template(source)
        except TemplateError as exc:
            raise UserInputError(str(exc), path=path, line=doc.line_of(loc)) from None
    return suite


# a case as validated (a PlainCase: CaseSpec's common fields only), and where it was read ("file:line")
Validated = tuple[CaseSpec | PlainCase, str]


def _case_source(
    spec: SuiteSpec, path: Path, line_of: Callable[[tuple[str | int, ...]], int | None]
) -> tuple[Iterator[Validated], bool]:
    """The suite's cases as they are validated, one at a time, and whether they may be spilled
    to a scratch file (JSONL and CSV files: values JSON holds as they are)."""
    base = path.parent
    if isinstance(spec.cases, list):
        listed = spec.cases
        return ((c, f"{path}:{line_of(('cases', i)) or '?'}") for i, c in enumerate(listed)), False
    if isinstance(spec.cases, str | FileCases):
        file = spec.cases if isinstance(spec.cases, str) else spec.cases.path
        if not (base / file).is_file():
            raise UserInputError(
                f"cases: case file {not_a_file(base / file)}: {base / file}",
                path=path,
                line=line_of(("cases",)),
            )
        limit = spec.cases.limit if isinstance(spec.cases, FileCases) else None
        return _cases_from_file(base / file, limit), (base / file).suffix.lower() in (".jsonl", ".csv")
    return _cases_from_dataset(spec.cases, base, path), False


def _collect(spec: SuiteSpec, source: tuple[Iterator[Validated], bool], path: Path) -> tuple[CaseList, str]:
    """One pass over the cases: each validated, its id checked unique, a case without messages
    refused when the suite has no prompt, the content hash fed; memory bounded (`CaseList`: a
    case past what it holds goes to its scratch file as its row, never made a Case). Returns
    the cases and the suite's content hash."""
    cases, spill = source
    out = CaseList(spill=spill)
    ids = CaseIds()
    digest = _ContentHash(spec)
    prompted = spec.prompt is not None or spec.messages is not None
    try:
        for case_spec, origin in cases:
            if isinstance(case_spec, dict):  # a PlainCase: its row, without a CaseSpec
                row = _row_from_plain(case_spec, origin)
                case = None if out.takes_rows else case_from_row(row, origin)
                own_messages = False
            else:
                case = None if out.takes_rows else _case_from_spec(case_spec, origin)
                row = _row_from_spec(case_spec, origin) if case is None else case_row(case)
                own_messages = case_spec.messages is not None
            _refuse(ids.add(row["id"], origin), path)
            if not prompted and not own_messages:
                raise UserInputError(
                    f"no 'prompt' or 'messages' in the suite, and case '{row['id']}' "
                    f"({origin}) has no messages of its own",
                    path=path,
                )
            digest.add(row)
            if case is None:
                out.append_row(row)
            else:
                out.append(case)
        _refuse(ids.flush(), path)
    except UserInputError:  # a later case's error: a duplicate id before it comes first
        _refuse(ids.flush(), path)
        raise
    finally:
        ids.close()
    return out, digest.hexdigest()


def _refuse(duplicate: Duplicate | None, path: Path) -> None:
    if duplicate is not None:
        case_id, origin, first = duplicate
        raise UserInputError(f"duplicate case id '{case_id}' at {origin} (first at {first})", path=path)


def _row_from_spec(spec: CaseSpec, origin: str) -> dict[str, Any]:
    """`case_row(_case_from_spec(spec, origin))`, without the Case for a case of the common
    fields only (a scratch file takes rows)."""
    if not (
        spec.messages is None
        and spec.expected_tools is None
        and not spec.forbidden_tools
        and spec.expected_tool_calls is None
        and spec.max_steps is None
        and spec.tools is None
        and spec.choices is None
    ):  # what only a Case makes its row of (expectations, tools, messages)
        return case_row(_case_from_spec(spec, origin))
    if spec.references is not None:
        refs = list(spec.references)
    else:
        refs = [] if spec.reference is None else [spec.reference]
    return {
        "id": clean_text(spec.id),
        "vars": spec.vars,
        "references": refs,
        "tags": spec.tags,
        "metadata": spec.metadata,
        "messages": None,
        "origin": origin,
        "relevant_ids": spec.relevant_ids,
    }


def _row_from_plain(case: PlainCase, origin: str) -> dict[str, Any]:
    """`_row_from_spec` of the CaseSpec the PlainCase's data makes."""
    references = case.get("references")
    if references is None:
        reference = case.get("reference")
        references = [] if reference is None else [reference]
    return {
        "id": clean_text(case["id"]),
        "vars": case.get("vars", {}),
        "references": references,
        "tags": case.get("tags", []),
        "metadata": case.get("metadata", {}),
        "messages": None,
        "origin": origin,
        "relevant_ids": case.get("relevant_ids", []),
    }


def _case_from_spec(spec: CaseSpec, origin: str) -> Case:
    if spec.references is not None:
        refs = tuple(spec.references)
    elif spec.reference is not None:
        refs = (spec.reference,)
    else:
        refs = ()
    return Case(
        id=clean_text(spec.id),  # JSON allows a lone `\ud800`: U+FFFD, as every file stores it
        vars=dict(spec.vars),
        references=refs,
        tags=tuple(spec.tags),
        metadata=dict(spec.metadata),
        messages=tuple(spec.messages) if spec.messages is not None else None,
        origin=origin,
        relevant_ids=tuple(spec.relevant_ids),
        expect=ToolExpectations.from_case(
            spec.expected_tools, spec.forbidden_tools, spec.expected_tool_calls, spec.max_steps
        ),
        tools=None if spec.tools is None else tuple(spec.tools),
        choices=None if spec.choices is None else tuple(spec.choices),
        gold=spec.gold,
    )


def _validate_case(data: Any, origin_path: Path, line: int) -> Validated:
    if not isinstance(data, dict):
        raise UserInputError("each case must be an object with an 'id'", path=origin_path, line=line)
    plain = plain_case(data)
    if plain is not None:
        return plain, f"{origin_path}:{line}"
    try:
        spec = CaseSpec.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(
            exc, path=origin_path, line_of=lambda _loc: line, model=CaseSpec
        ) from None
    return spec, f"{origin_path}:{line}"


def _cases_from_file(path: Path, limit: int | None) -> Iterator[Validated]:
    if not path.is_file():
        raise UserInputError(f"case file {not_a_file(path)}", path=path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        source: Iterator[Validated] = _cases_from_jsonl(path)
    elif suffix == ".csv":
        source = _cases_from_csv(path)
    elif suffix in (".yaml", ".yml"):
        source = _cases_from_yaml_list(path)
    else:
        raise UserInputError("case files must be .jsonl, .csv or .yaml", path=path)
    yield from itertools.islice(source, limit)


def _cases_from_jsonl(path: Path) -> Iterator[Validated]:
    with path.open("rb") as fh:
        for lineno, raw_bytes in enumerate(fh, start=1):
            try:
                raw = raw_bytes.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise UserInputError(
                    f"not valid UTF-8 (column {exc.start + 1})", path=path, line=lineno
                ) from None
            if not raw.strip():
                continue
            try:
                data = strictjson.loads(raw)
            except json.JSONDecodeError as exc:
                raise UserInputError.bad_json(exc, path=path, line=lineno) from None
            except strictjson.RefusedError as exc:
                raise UserInputError(str(exc), path=path, line=lineno) from None
            except RecursionError:  # deeper than Python's JSON parser goes
                raise UserInputError(
                    f"nested more than {MAX_DEPTH} levels deep", path=path, line=lineno
                ) from None
            # no deeper than its brackets are many (most lines): not walked
            if raw.count("{") + raw.count("[") > MAX_DEPTH and nesting_depth(data) > MAX_DEPTH:
                raise UserInputError(f"nested more than {MAX_DEPTH} levels deep", path=path, line=lineno)
            yield _validate_case(data, path, lineno)


def nesting_depth(data: Any) -> int:
    """How deeply lists and objects nest in parsed JSON (iterative: any depth is safe)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack += [(c, depth + 1) for c in children if isinstance(c, dict | list)]
    return deepest


def _cases_from_yaml_list(path: Path) -> Iterator[Validated]:
    doc = load_yaml(path)
    if not isinstance(doc.data, list):
        raise UserInputError("a YAML case file must be a list of cases", path=path, line=1)
    for i, item in enumerate(doc.data):
        yield _validate_case(item, path, doc.line_of((i,)) or 0)


def _cases_from_csv(path: Path) -> Iterator[Validated]:
    # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first column's name
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            fieldnames = reader.fieldnames
            if fieldnames is None or "id" not in fieldnames:
                raise UserInputError("a CSV case file needs an 'id' column", path=path, line=1)
            if len(set(fieldnames)) != len(fieldnames):  # DictReader would keep the last silently
                twice = next(name for i, name in enumerate(fieldnames) if name in fieldnames[:i])
                raise UserInputError(f"duplicate column '{twice}'", path=path, line=1)
            for row in reader:
                if None in row or None in row.values():  # more fields than columns, or fewer
                    given = sum(v is not None for k, v in row.items() if k is not None)
                    given += len(row.get(None) or ())
                    raise UserInputError(
                        f"this row has {given} fields where the header has {len(fieldnames)}",
                        path=path,
                        line=reader.line_num,
                    )
                yield _validate_case(_flat_row_to_case(row), path, reader.line_num)
        except UnicodeDecodeError as exc:
            raise UserInputError(
                f"not valid UTF-8 (byte {exc.start + 1} of a read block)", path=path, line=reader.line_num + 1
            ) from None
        except csv.Error as exc:
            raise UserInputError(f"invalid CSV: {exc}", path=path, line=reader.line_num) from None


def _flat_row_to_case(row: dict[str, Any]) -> dict[str, Any]:
    """CSV and flat records: reserved columns map to case fields, all others become vars."""
    case: dict[str, Any] = {"id": row.get("id")}
    if row.get("reference") not in (None, ""):
        case["reference"] = row["reference"]
    if row.get("references") not in (None, ""):
        refs = row["references"]
        case["references"] = refs if isinstance(refs, list) else str(refs).split("|")
    if row.get("relevant_ids") not in (None, ""):
        ids = row["relevant_ids"]
        case["relevant_ids"] = ids if isinstance(ids, list) else [i for i in str(ids).split("|") if i]
    if row.get("tags") not in (None, ""):
        tags = row["tags"]
        case["tags"] = (
            tags if isinstance(tags, list) else [t.strip() for t in str(tags).split(",") if t.strip()]
        )
    case["vars"] = {k: v for k, v in row.items() if k not in RESERVED_CASE_FIELDS}
    return case


def _cases_from_dataset(src: DatasetCases, base: Path, suite_path: Path) -> Iterator[Validated]:
    try:
        import datasets  # heavy: only for suites that use it
    except ImportError:
        raise UserInputError(
            "this suite reads a Hugging Face dataset: pip install 'evalkit[datasets]'",
            path=suite_path,
        ) from None
    ds_path = base / src.dataset
    if not ds_path.exists():
        raise UserInputError(f"dataset path '{src.dataset}' not found", path=suite_path)
    try:
        if (ds_path / "dataset_info.json").exists() or (ds_path / "dataset_dict.json").exists():
            loaded = datasets.load_from_disk(str(ds_path))
            table = loaded[src.split] if isinstance(loaded, datasets.DatasetDict) else loaded
        else:
            table = datasets.load_dataset(str(ds_path), src.config_name, split=src.split)
    except Exception as exc:
        raise UserInputError(
            f"cannot read dataset '{src.dataset}' (split '{src.split}'): {type(exc).__name__}: {exc}",
            path=suite_path,
        ) from None
    columns = set(table.column_names)
    for key, column in src.fields.items():
        if column not in columns:
            raise UserInputError(
                f"cases.fields.{key}: column '{column}' not in dataset "
                f"(columns: {', '.join(sorted(columns))})",
                path=suite_path,
            )
    mapped = set(src.fields.values())
    if src.vars is None:
        var_map = {c: c for c in table.column_names if c not in mapped}
    elif isinstance(src.vars, list):
        var_map = {c: c for c in src.vars}
    else:
        var_map = dict(src.vars)
    for column in var_map:
        if column not in columns:
            raise UserInputError(f"cases.vars: column '{column}' not in dataset", path=suite_path)
    for i, row in enumerate(table):
        if src.limit is not None and i >= src.limit:
            break
        record: dict[str, Any] = {"vars": {name: row[col] for col, name in var_map.items()}}
        record["id"] = str(row[src.fields["id"]]) if "id" in src.fields else f"row-{i}"
        if "reference" in src.fields:
            record["reference"] = row[src.fields["reference"]]
        if "references" in src.fields:
            record["references"] = list(row[src.fields["references"]])
        if "relevant_ids" in src.fields:
            record["relevant_ids"] = [str(i) for i in row[src.fields["relevant_ids"]]]
        if "tags" in src.fields:
            tags = row[src.fields["tags"]]
            record["tags"] = list(tags) if isinstance(tags, list) else [str(tags)]
        yield _validate_case(record, ds_path, i + 1)


# json.dumps(item, sort_keys=True, default=str), without building an encoder per case
_HASHED_JSON = Encoder(sort_keys=True, default=str)
HASH_BLOCK = 64  # cases encoded for the content hash at a time


class _ContentHash:
    """The suite's content hash, fed one case at a time: the sha256 of the JSON text of
    {"cases": [...], "pass": ..., "spec": ...} (keys sorted), written piece by piece."""

    def __init__(self, spec: SuiteSpec):
        # hashed only when set: older suites keep their hash
        new = {"tools", "tool_choice", "agent", "max_new_failures", "multiple_choice"}
        dumped = spec.model_dump(
            mode="json", exclude={"cases", "pass_", *(k for k in new if getattr(spec, k) is None)}
        )
        for key in ("tools", "tool_choice"):
            if dumped["params"].get(key) is None:
                dumped["params"].pop(key, None)
        rest = {"spec": dumped, **({"pass": spec.pass_} if spec.pass_ is not None else {})}
        self._tail = "], " + json.dumps(rest, sort_keys=True, default=str)[1:]
        self._sha = hashlib.sha256(b'{"cases": [')
        self._sep = b""
        self._pending: list[list[Any]] = []  # encoded HASH_BLOCK at a time: a third of the cost

    def add(self, row: dict[str, Any]) -> None:
        """Feed one case, as its `case_row`."""
        item = (
            [row["id"], row["vars"], row["references"], row["messages"] or []]
            + ([row["relevant_ids"]] if row["relevant_ids"] else [])
            + ([row["expect"]] if "expect" in row else [])
            + ([row["tools"]] if "tools" in row else [])
            + ([{"choices": row["choices"], "gold": row["gold"]}] if "choices" in row else [])
        )
        self._pending.append(item)
        if len(self._pending) >= HASH_BLOCK:
            self._flush()

    def _flush(self) -> None:
        """The pending items into the hash: a JSON list's items are its items' JSON joined by
        ", ", as they were fed one at a time before."""
        if self._pending:
            self._sha.update(self._sep + _HASHED_JSON.encode(self._pending)[1:-1].encode())
            self._sep = b", "
            self._pending = []

    def hexdigest(self) -> str:
        self._flush()
        sha = self._sha.copy()
        sha.update(self._tail.encode())
        return sha.hexdigest()[:16]


def _calibration(suite_path: Path, name: str | None) -> Path | None:
    """The suite's calibration labels file (the plan reads and checks it before any model call)."""
    return None if name is None else (suite_path.parent / name).resolve()
