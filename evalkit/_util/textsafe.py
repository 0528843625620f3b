"""Text that can always be written: valid Unicode for JSON/UTF-8, valid characters for XML."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

# characters XML 1.0 forbids (most C0 controls, lone surrogates, U+FFFE/U+FFFF)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(text: str) -> str:
    """`text` as valid Unicode: lone UTF-16 surrogates (JSON allows `\\ud800`, and so do Python
    strings) become U+FFFD and split pairs are joined, so the text can always be UTF-8 encoded."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def clean_data(data: Any) -> Any:
    """`data` with `clean_text` applied to every string inside it."""
    if isinstance(data, str):
        return clean_text(data)
    if isinstance(data, dict):
        return {clean_data(k): clean_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [clean_data(v) for v in data]
    return data


def model_json(model: BaseModel, **dump: Any) -> str:
    """`model.model_dump_json()`, or, when a string in it cannot be UTF-8 encoded (a lone
    surrogate from a provider), the same JSON with those strings cleaned."""
    try:
        return model.model_dump_json(**dump)
    except ValueError:  # pydantic's serialization error: a lone surrogate somewhere
        import json

        return json.dumps(clean_data(model.model_dump(mode="json", **dump)), ensure_ascii=False)


def xml_text(text: str, limit: int | None = None) -> str:
    """`text` safe inside an XML 1.0 document (forbidden characters shown as U+FFFD), cut to
    `limit` characters with a note saying how much was left out."""
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}… [{len(text) - limit:,} more characters not shown]"
    return _NOT_XML.sub("\ufffd", text)
