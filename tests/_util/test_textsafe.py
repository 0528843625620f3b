"""evalkit._util.textsafe: what XML 1.0 forbids is replaced, and nothing else."""

from __future__ import annotations

import re

from evalkit._util import textsafe

# XML 1.0's Char production: what a document may hold
ALLOWED = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def test_every_code_point_xml_forbids_is_replaced_and_no_other() -> None:
    every = "".join(map(chr, range(0x110000)))
    cleaned = textsafe.xml_text(every)
    assert len(cleaned) == len(every)
    changed = [i for i, (a, b) in enumerate(zip(every, cleaned, strict=True)) if a != b]
    forbidden = [i for i, ch in enumerate(every) if not ALLOWED.fullmatch(ch)]
    assert changed == forbidden and len(forbidden) == 2079  # 29 controls, 2,048 surrogates, FFFE, FFFF
    assert {cleaned[i] for i in changed} == {"\ufffd"}
