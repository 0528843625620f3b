"""Run history: every finished run recorded in a SQL database, trends, alerts and DataFrames.

Modules, one job each: settings (what users write), rundir (the one reader of run directories),
schema + migrations (the tables, managed by alembic), store (write and read the database),
record (after a run: record, check, notify; never loses the run), alerts (the rules),
sparkline (terminal trends), trend (the trend report page), frames (pandas), webhook.
"""
