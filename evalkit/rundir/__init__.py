"""The run directory: the one contract between the stages (`RunDir`: files, records, migrations, lock)."""

from evalkit.rundir.dir import RunDir

__all__ = ["RunDir"]
