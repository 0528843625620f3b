"""A private scratch SQLite database: where a tally, a duplicate check or an index goes once it
would not fit in memory at a million cases."""

from __future__ import annotations

import sqlite3


def scratch_db(schema: str) -> sqlite3.Connection:
    """A private SQLite file (the name "": made in the temporary folder, deleted on close) in
    autocommit mode (callers BEGIN and COMMIT their batches), with no journal and no syncing
    (nothing in it must outlive the process), holding the tables `schema` creates."""
    db = sqlite3.connect("", isolation_level=None)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + schema)
    return db
