"""alembic migrations of the history database (run by HistoryStore.migrate, never by hand)."""
