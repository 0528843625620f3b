"""Shards for CI fan-out: `--shard I/N` keeps a deterministic part of a plan. A request's shard is
a stable hash of its suite, case id and variant (never the repeat), so every repeat of a case
lands in one shard and the gate can pair them; the same inputs give the same split on every
machine and Python version (sha256, not `hash()`)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from evalkit.errors import UserInputError

_FORM = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based: 1/4 … 4/4
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, suite: str, case_id: str, variant: str) -> bool:
        return shard_of(suite, case_id, variant, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """'2/4' → Shard(2, 4); anything else is bad input, exit 2."""
    match = _FORM.match(text)
    if match is None:
        raise UserInputError(f"--shard {text!r}: expected I/N, e.g. --shard 1/4")
    index, count = int(match[1]), int(match[2])
    if count < 1 or not 1 <= index <= count:
        raise UserInputError(f"--shard {text}: I must be between 1 and N (got {index} of {count})")
    return Shard(index, count)


def shard_of(suite: str, case_id: str, variant: str, count: int) -> int:
    """The 1-based shard of a case under a variant, out of `count`."""
    digest = hashlib.sha256(f"{suite}\x00{case_id}\x00{variant}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1
