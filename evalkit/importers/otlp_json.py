"""Spans from OTLP JSON files: an ExportTraceServiceRequest per file (`{"resourceSpans": ...}`),
or one per line (the OpenTelemetry Collector's file exporter). IDs are hex as the OTLP/JSON
encoding says (base64, as protobuf's own JSON mapping writes them, is read too); attribute values
become Python values. Reading a file never runs anything in it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import UserInputError

MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the status message of a span whose status is ERROR
    service: str | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def latency_ms(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e6


def _hex(value: Any) -> str:
    text = str(value or "")
    try:
        int(text, 16)
        return text.lower()
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True).hex()
    except (binascii.Error, ValueError):
        return text


def any_value(value: Any) -> Any:
    """An OTLP AnyValue (`{"stringValue": ...}`) as a Python value."""
    if not isinstance(value, dict) or not value:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "intValue":
        return int(inner)
    if kind == "doubleValue":
        return float(inner)
    if kind == "arrayValue":
        return [any_value(v) for v in (inner or {}).get("values", [])]
    if kind == "kvlistValue":
        return {kv["key"]: any_value(kv.get("value")) for kv in (inner or {}).get("values", [])}
    return inner  # stringValue, boolValue, bytesValue


def _attributes(items: Any) -> dict[str, Any]:
    return {
        kv["key"]: any_value(kv.get("value")) for kv in items or [] if isinstance(kv, dict) and "key" in kv
    }


def _spans_of(request: dict[str, Any]) -> Iterator[Span]:
    for rs in request.get("resourceSpans") or request.get("resource_spans") or []:
        resource = _attributes((rs.get("resource") or {}).get("attributes"))
        service = resource.get("service.name")
        for ss in rs.get("scopeSpans") or rs.get("scope_spans") or []:
            for s in ss.get("spans") or []:
                status = s.get("status") or {}
                failed = status.get("code") in (2, "STATUS_CODE_ERROR")
                yield Span(
                    trace_id=_hex(s.get("traceId")),
                    span_id=_hex(s.get("spanId")),
                    parent_id=_hex(s.get("parentSpanId")),
                    name=str(s.get("name", "")),
                    start_ns=int(s.get("startTimeUnixNano") or 0),
                    end_ns=int(s.get("endTimeUnixNano") or 0),
                    attributes=_attributes(s.get("attributes")),
                    error=(status.get("message") or "error") if failed else None,
                    service=str(service) if service is not None else None,
                    events=[
                        (str(e.get("name", "")), _attributes(e.get("attributes")))
                        for e in s.get("events") or []
                    ],
                )


def read_spans(path: Path) -> Iterator[Span]:
    """Every span of an OTLP JSON file (one request, or one request per line)."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise UserInputError(f"larger than {MAX_FILE_BYTES // 2**20} MB", path=path)
    text = path.read_text(encoding="utf-8-sig")
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError:
        documents = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    documents.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise UserInputError(f"not OTLP JSON: {exc.msg}", path=path, line=n) from None
    for document in documents:
        if not isinstance(document, dict) or not ({"resourceSpans", "resource_spans"} & set(document)):
            raise UserInputError("not an OTLP JSON trace export (no resourceSpans)", path=path)
        yield from _spans_of(document)


def trace_files(path: Path) -> list[Path]:
    """The .json and .jsonl files of a folder (sorted), or the one file given."""
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file())
        if not found:
            raise UserInputError("no .json or .jsonl trace files here", path=path)
        return found
    if not path.is_file():
        raise UserInputError("no such file or folder", path=path)
    return [path]
