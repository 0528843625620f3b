"""pandas views: one row per case × variant × repeat, one column per score (pandas is imported
here only, when a frame is asked for)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import UserInputError
from evalkit.history.adapter import case_record, is_run_dir
from evalkit.history.store import Filters, HistoryStore
from evalkit.rundir.dir import RunDir
from evalkit.rundir.snapshot import case_vars
from evalkit.types import CaseResult

if TYPE_CHECKING:
    import pandas as pd

FIXED = ("suite", "variant", "case_id", "repeat")


def _frame(rows: list[dict[str, Any]], front: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    score_names: dict[str, None] = {}
    flat = []
    for row in rows:
        scores = row.pop("scores") or {}
        for name in scores:
            score_names.setdefault(name, None)
        flat.append({**row, **{f"score:{k}" if k in row else k: v for k, v in scores.items()}})
    frame = pd.DataFrame(flat)
    if frame.empty:
        return frame
    columns = [c for c in front if c in frame.columns]
    rest = [c for c in frame.columns if c not in columns]
    return frame[columns + rest]


TEXTS = ("vars", "references", "system", "prompt", "output")  # what a case was asked and answered


def load_run(path: str | Path, *, suite: str | None = None, variant: str | None = None) -> pd.DataFrame:
    """A run directory's results: one row per case × variant × repeat, one column per score, with
    what each case was asked and answered: its vars and references (JSON text, from the run's
    cases.jsonl), the system prompt and the last user message as rendered, and the output."""
    run_dir = Path(path)
    if not is_run_dir(run_dir):
        raise UserInputError("not a run directory (no run.json + results.jsonl)", path=run_dir)
    rd = RunDir(run_dir)
    vars_of = case_vars(rd.cases_file)
    rows = []
    for r in rd.results():
        if (suite is None or r.suite == suite) and (variant is None or r.variant == variant):
            rows.append({**case_record(r), **_texts(r, vars_of)})
    return _frame(rows, (*FIXED, *TEXTS))


def _texts(r: CaseResult, vars_of: dict[tuple[str, str], str]) -> dict[str, Any]:
    system = next((m.content for m in r.messages if m.role == "system"), None)
    prompt = next((m.content for m in reversed(r.messages) if m.role == "user"), None)
    return {
        "vars": vars_of.get((r.suite, r.case_id)),
        "references": json.dumps(list(r.references), ensure_ascii=False),
        "system": system if isinstance(system, str) or system is None else json.dumps(system),
        "prompt": prompt if isinstance(prompt, str) or prompt is None else json.dumps(prompt),
        "output": r.output,
    }


def history_frame(store: HistoryStore, filters: Filters) -> pd.DataFrame:
    """The history's cases (one row per run × case × variant × repeat) with each run's time,
    branch, tag and git sha."""
    runs = {r["run_id"]: r for r in store.runs(filters)}
    rows = []
    for c in store.cases(list(runs), filters.suite, filters.variant):
        run = runs[c["run_id"]]
        rows.append({**c, **{k: run[k] for k in ("started_at", "branch", "tag", "git_sha")}})
    frame = _frame(rows, ("run_id", "started_at", *FIXED))
    if not frame.empty:
        frame = frame.sort_values(
            ["started_at", "run_id", "suite", "variant", "case_id", "repeat"], kind="stable"
        )
    return frame.reset_index(drop=True)


def _csv_cell(value: Any) -> Any:
    """Missing values stay empty cells; a text beginning with a tab or carriage return (which
    OWASP names beside = + - @) gets the same quote in front that defusedcsv gives the others."""
    import pandas as pd

    if value is None or (not isinstance(value, list | dict | tuple) and pd.isna(value)):
        return None
    if isinstance(value, str) and value[:1] in ("\t", "\r"):
        return "'" + value
    return value


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV no spreadsheet runs as a formula (the OWASP rule): defusedcsv's writer puts a quote
    before a text cell (header or value) beginning with = + - @ | % and escapes its `|`;
    numbers stay numbers."""
    from defusedcsv import csv

    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([_csv_cell(str(c)) for c in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            out.writerow([_csv_cell(v) for v in row])


def write(frame: pd.DataFrame, path: Path) -> Path:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UserInputError("export writes .csv or .parquet files", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        _write_csv(frame, path)
    else:
        try:
            frame.to_parquet(path, index=False)
        except ImportError:
            raise UserInputError("Parquet needs pyarrow: pip install pyarrow", path=path) from None
    return path
