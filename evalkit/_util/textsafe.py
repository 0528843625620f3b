"""Text that can always be written: valid Unicode for JSON/UTF-8, valid characters for XML."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

# characters XML 1.0 forbids (most C0 controls, lone surrogates, U+FFFE/U+FFFF), listed as they
# are: the negated class of those it allows matches the same (tests/_util/test_textsafe.py) but
# takes 5 ms to compile, 1 % of a short run
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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


# Markdown (CommonMark + GitHub's extensions), for every Markdown surface evalkit writes
# (summary.md in $GITHUB_STEP_SUMMARY and pull-request comments). CommonMark lets any ASCII
# punctuation be backslash-escaped; these are the ones that can start markup inside a line:
# emphasis, code, links and images, HTML, table cells, headings, strikethrough, entities, math
# and @mentions (values always follow a prefix evalkit wrote, never start a line).
_MD_PUNCT = re.compile(r"([\\`*_\[\]<>|#~&!$@])")
_MD_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_MD_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
_AUTOLINK = re.compile(r"(?i)(https?|ftp)(:)(//)|\b(www)(\.)")
_ZWSP = "\u200b"
_MD_LEADING = re.compile(r"^(\s*\d*)([-+=.)])")


def _md_plain(text: str, limit: int | None) -> str:
    text = clean_text(text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return _MD_CONTROLS.sub("", _MD_BREAKS.sub(" ", text))


def md_text(text: str, limit: int | None = None) -> str:
    """`text` (data: a case id, a reason, a name) as literal Markdown inline text, safe inside a
    table cell: one line, every ASCII punctuation backslash-escaped, and a zero-width space in
    `http://` and `www.` so GitHub's autolinks do not turn a URL in the data into a link."""
    text = _md_plain(text, limit)
    text = _AUTOLINK.sub(lambda m: _ZWSP.join(g for g in m.groups() if g), text)
    text = _MD_PUNCT.sub(r"\\\1", text)
    return _MD_LEADING.sub(r"\1\\\2", text)  # a list or setext marker where a line begins


def md_code(text: str, limit: int | None = None) -> str:
    """`text` as a Markdown code span: fenced with more backticks than any run inside it (the
    CommonMark rule), one line, and `|` escaped so it stays inside a GitHub table cell."""
    text = _md_plain(text, limit).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# what a terminal would act on rather than show: C0 controls but tab (ESC starts colour, cursor
# and OSC sequences: titles, hyperlinks, clipboard writes; a newline starts a line that looks like
# evalkit's own, `PASSED` say), DEL, C1 controls, the line and paragraph separators, and the
# bidirectional overrides that reorder what is shown; a message's own lines keep their newlines
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_MESSAGE_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str, *, lines: bool = False) -> str:
    """`text` (data) as a terminal shows it literally, on one line: each control character
    written as its escape (`\\x1b`, `\\x0a`), so a case id cannot retitle the window, move the
    cursor, hide text or start a line of its own. `lines`: newlines kept (a message's lines)."""
    return (_MESSAGE_CONTROLS if lines else _TERMINAL_CONTROLS).sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )
