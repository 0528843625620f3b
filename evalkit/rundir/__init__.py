"""The run directory: the one contract between the stages (files, records, migrations)."""
