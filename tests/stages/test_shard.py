"""Shards split a plan deterministically: a partition, repeats together, stable across processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from evalkit.errors import UserInputError
from evalkit.stages.shard import Shard, parse_shard, shard_of


def test_parse() -> None:
    assert parse_shard(" 2/4 ") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
    for bad in ("0/4", "5/4", "1/0", "1-4", ""):
        with pytest.raises(UserInputError, match="--shard"):
            parse_shard(bad)


def test_shards_partition_cases_and_balance() -> None:
    keys = [("s", f"c{i}", v) for i in range(2000) for v in ("a", "b")]
    shards = [Shard(i, 4) for i in range(1, 5)]
    held = [[k for k in keys if s.holds(*k)] for s in shards]
    assert sum(map(len, held)) == len(keys)  # each key in exactly one shard
    assert all(sum(s.holds(*k) for s in shards) == 1 for k in keys[:200])
    assert all(900 < len(h) < 1100 for h in held)  # about a quarter each


def test_stable_across_processes() -> None:
    """Not Python's salted hash(): another interpreter gives the same shard."""
    code = "from evalkit.stages.shard import shard_of; print([shard_of('s', f'c{i}', 'v', 7) for i in range(50)])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str([shard_of("s", f"c{i}", "v", 7) for i in range(50)])
