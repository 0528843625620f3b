"""results.jsonl as the report reads it: each line validated exactly as `CaseResult` validates it
(the same fields, types and `extra="forbid"`), into plain dicts instead of models.

The report reads every result a second time (conclude's aggregate read it first); building the
CaseResult models cost three times what validating the same line into dicts costs. The nested
models a line rarely holds (tool calls, steps, retrieved chunks, judges) stay models; the ones
every line holds (messages, usage, scores) are TypedDicts mirroring them field for field, and
tests/report/test_rows.py fails when a model gains a field its mirror lacks.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NotRequired

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from evalkit.rundir.files import read_lines_at
from evalkit.rundir.migrations import CURRENT, migrate
from evalkit.types import CaseResult, FinishReason, JudgeUsage, RetrievedChunk, Step, ToolCall


@with_config(ConfigDict(extra="forbid"))
class MessageRow(TypedDict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: NotRequired[tuple[ToolCall, ...] | None]
    tool_call_id: NotRequired[str | None]


@with_config(ConfigDict(extra="forbid"))
class UsageRow(TypedDict, total=False):
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None


@with_config(ConfigDict(extra="forbid"))
class ScoreRow(TypedDict):
    value: float | None
    passed: NotRequired[bool | None]
    reason: NotRequired[str | None]


@with_config(ConfigDict(extra="forbid"))
class ResultRow(TypedDict):
    """A CaseResult's fields; the ones with a default may be missing (read them with .get)."""

    schema_version: NotRequired[int]
    suite: str
    case_id: str
    variant: str
    repeat: int
    provider: str
    model: NotRequired[str | None]
    tags: NotRequired[list[str]]
    case_hash: NotRequired[str | None]
    input_hash: NotRequired[str | None]
    messages: list[MessageRow]
    references: NotRequired[list[str]]
    output: str | None
    reasoning: NotRequired[str | None]
    error: NotRequired[str | None]
    finish_reason: NotRequired[FinishReason | None]
    vendor_finish_reason: NotRequired[str | None]
    latency_ms: NotRequired[float | None]
    ttft_ms: NotRequired[float | None]
    batch_ms: NotRequired[float | None]
    batch_size: NotRequired[int | None]
    usage: NotRequired[UsageRow]
    cost_usd: NotRequired[float | None]
    model_version: NotRequired[str | None]
    cached: NotRequired[bool]
    attempts: NotRequired[int]
    fallback_from: NotRequired[str | None]
    retrieval_query: NotRequired[str | None]
    retrieval_ids: NotRequired[list[str] | None]
    retrieval: NotRequired[list[RetrievedChunk] | None]
    scores: NotRequired[dict[str, ScoreRow]]
    judges: NotRequired[dict[str, JudgeUsage]]
    tool_calls: NotRequired[list[ToolCall] | None]
    steps: NotRequired[list[Step] | None]
    choice_logprobs: NotRequired[list[float] | None]
    choice_greedy: NotRequired[list[bool] | None]


ROW = TypeAdapter(ResultRow)
_VALIDATE_JSON = ROW.validator.validate_json  # TypeAdapter.validate_json less its Python wrapper
_CURRENT_MARK = f'"schema_version":{CURRENT["result"]},'


def parse_row(line: str) -> ResultRow:
    """One results.jsonl line, validated (migrated first when an older evalkit wrote it); a line
    it refuses gets CaseResult's words (pydantic names the TypedDict in its message)."""
    try:
        if _CURRENT_MARK in line[:40]:  # a line this version wrote
            return _VALIDATE_JSON(line)  # type: ignore[no-any-return]
        return ROW.validate_python(migrate("result", json.loads(line)))
    except ValidationError as exc:
        raise ValueError(str(exc).replace("for ResultRow", "for CaseResult", 1)) from None


def read_rows(path: Path) -> Iterator[ResultRow]:
    """results.jsonl's results as rows: the errors of evalkit.rundir.files.read_results (file and
    line), a torn last line skipped."""
    for row, _at, _size in read_lines_at(path, parse_row):
        yield row


def as_result(row: ResultRow) -> CaseResult:
    """The row as a CaseResult (for the few helpers that take one: a trace's timeline)."""
    return CaseResult.model_validate(row)
