"""Jinja's compiled templates kept in the user's cache, so a run does not compile the report's
templates again (that was a fifth of a 10-case run's time). Jinja checks each entry against the
template's source and its own and Python's version; a cache that cannot be written is skipped."""

from __future__ import annotations

import functools
import os

import jinja2

from evalkit._util.paths import cache_dir


class _QuietCache(jinja2.FileSystemBytecodeCache):
    """A bytecode cache whose failures cost only the compile it would have saved."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # unreadable, cut short, damaged (pickle, marshal): compile instead
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError:  # a read-only or full cache: the next run compiles again
            pass


def bytecode_cache() -> jinja2.BytecodeCache:
    """The cache for evalkit's own templates: <cache_dir>/templates."""
    return _cache_in(str(cache_dir() / "templates"))


@functools.cache
def _cache_in(directory: str) -> jinja2.BytecodeCache:
    return _QuietCache(directory)
