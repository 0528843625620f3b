"""Human labels: read them (JSONL or CSV), keep them in the run directory, turn them into scores.

A label is one person's verdict (pass/fail) and/or 1–5 rating, with a note, on one output:
run, suite, case, variant, repeat. The report exports them; people may also write them by hand
or in a spreadsheet. `variant`/`repeat` left out mean "any" (a calibration set keyed by case).

Imported labels live in RUN_DIR/labels.jsonl (a person's newer label on an output, by its own
`time` when both have one, replaces their older one) and show as a `human` score on each labelled
result: the labellers' mean (pass = 1, fail = 0, rating r = (r − 1) / 4), with who said what in
its reason. The human score never changes a case's automatic pass/fail verdict.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring as _json_text  # a str as json.dumps(ensure_ascii=False) writes it
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalkit._util import strictjson
from evalkit._util.paths import not_a_file
from evalkit.errors import UserInputError
from evalkit.rundir.dir import RunDir
from evalkit.rundir.runinfo import RunInfo
from evalkit.types import CaseResult, StoredScore

HUMAN = "human"
AGREEMENT = "_human_agreement"  # suffix of a judge's per-case agreement with the labels
RATING_MIN, RATING_MAX = 1, 5
FIELDS = ("run", "suite", "case", "variant", "repeat", "labeller", "time", "verdict", "rating", "note")
_WORDS = {"pass": "pass", "fail": "fail", "yes": "pass", "no": "fail", "true": "pass", "false": "fail"}
_WORDS |= {"1": "pass", "0": "fail", "✓": "pass", "✗": "fail"}
_FIELD_SET = frozenset(FIELDS)


class Label(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    run: str | None = None
    suite: str
    case: str
    variant: str | None = None  # None: any variant
    repeat: int | None = Field(default=None, ge=0)  # None: any repeat
    labeller: str = "anonymous"
    time: str | None = None
    verdict: Literal["pass", "fail"] | None = None
    rating: int | None = Field(default=None, ge=RATING_MIN, le=RATING_MAX)
    note: str | None = None

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict_word(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "pass" if value else "fail"
        if isinstance(value, str | int):
            word = str(value).strip().lower()
            return _WORDS.get(word, word) if word else None
        return value

    @model_validator(mode="after")
    def _says_something(self) -> Label:
        if self.verdict is None and self.rating is None:
            raise ValueError("a label needs a 'verdict' (pass/fail) or a 'rating' (1–5)")
        return self

    @property
    def identity(self) -> tuple[str, str, str | None, int | None, str]:
        return (self.suite, self.case, self.variant, self.repeat, self.labeller)

    def value(self) -> float:
        """Pass = 1, fail = 0; a rating r on 1–5 = (r − 1) / 4 (the rating wins when both are given)."""
        return _label_value(self)

    def matches(self, r: CaseResult) -> bool:
        return _label_matches(self, r)


class Said(NamedTuple):
    """A label as it is kept in memory: the same fields and methods as `Label` (which validates
    it), in a tuple, so a million labels take ~150 MB, not 1 GB of pydantic models."""

    run: str | None
    suite: str
    case: str
    variant: str | None
    repeat: int | None
    labeller: str
    time: str | None
    verdict: str | None
    rating: int | None
    note: str | None

    @property
    def identity(self) -> tuple[str, str, str | None, int | None, str]:
        return (self.suite, self.case, self.variant, self.repeat, self.labeller)

    def value(self) -> float:
        return _label_value(self)

    def matches(self, r: CaseResult) -> bool:
        return _label_matches(self, r)

    def row(self) -> dict[str, Any]:
        """As labels.jsonl keeps it (what `Label.model_dump(exclude_none=True)` gives)."""
        return {k: v for k, v in zip(self._fields, self, strict=True) if v is not None}


def _label_value(label: Label | Said) -> float:
    """A label as a number: pass = 1, fail = 0; a rating r on 1–5 = (r − 1) / 4."""
    if label.rating is not None:
        return (label.rating - RATING_MIN) / (RATING_MAX - RATING_MIN)
    return 1.0 if label.verdict == "pass" else 0.0


def _label_matches(label: Label | Said, r: CaseResult) -> bool:
    """Whether the label is about this result (no variant or repeat: every one of the case)."""
    return (
        (label.suite, label.case) == (r.suite, r.case_id)
        and label.variant in (None, r.variant)
        and label.repeat in (None, r.repeat)
    )


AnyLabel = Label | Said
_intern = sys.intern


def said(data: dict[str, Any]) -> Said:
    """A label from one parsed line: the common shape (exact types, canonical verdict) is taken
    as it is; anything else goes through `Label`, which normalises or names what is wrong."""
    get = data.get
    suite, case, labeller, variant = get("suite"), get("case"), get("labeller", "anonymous"), get("variant")
    verdict, rating, repeat = get("verdict"), get("rating"), get("repeat")
    run, time, note = get("run"), get("time"), get("note")
    if (
        type(suite) is str
        and type(case) is str
        and type(labeller) is str
        and (verdict == "pass" or verdict == "fail" or (verdict is None and rating is not None))
        and (rating is None or (type(rating) is int and RATING_MIN <= rating <= RATING_MAX))
        and (repeat is None or (type(repeat) is int and repeat >= 0))
        and (variant is None or type(variant) is str)
        and (run is None or type(run) is str)
        and (time is None or type(time) is str)
        and (note is None or type(note) is str)
        and _FIELD_SET.issuperset(data)
    ):
        return Said(
            run,
            _intern(suite),
            _intern(case),
            None if variant is None else _intern(variant),
            repeat,
            _intern(labeller),
            None if time is None else _intern(time),
            verdict,
            rating,
            note,
        )
    return _said(Label.model_validate(data))


def _said(label: Label) -> Said:
    return Said(
        label.run,
        label.suite,
        label.case,
        label.variant,
        label.repeat,
        label.labeller,
        label.time,
        label.verdict,
        label.rating,
        label.note,
    )


def _error(path: Path, line: int, exc: ValidationError | ValueError) -> UserInputError:
    if isinstance(exc, ValidationError):
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = f"{where}: {err['msg']}" if where else err["msg"]
    else:
        msg = str(exc)
    return UserInputError(f"bad label: {msg.removeprefix('Value error, ')}", path=path, line=line)


def read_labels(path: Path) -> list[Said]:
    """Labels from a .jsonl or .csv file; a bad line is an error naming file and line (invalid
    UTF-8, too deep nesting and duplicate keys included). A byte-order mark (Excel's "CSV UTF-8")
    is read as the start of the file, not as text."""
    if not path.is_file():
        raise UserInputError(f"labels file {not_a_file(path)}", path=path)
    if path.suffix.lower() == ".csv":
        return list(_read_csv(path))
    out = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = _decoded(raw, path, lineno)
            if not line.strip():
                continue
            try:
                data = strictjson.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("each line must be a JSON object")
                out.append(said(data))
            except (ValidationError, ValueError) as exc:
                raise _error(path, lineno, exc) from None
            except RecursionError:
                raise UserInputError("bad label: nested too deeply", path=path, line=lineno) from None
    return out


def _decoded(raw: bytes, path: Path, lineno: int) -> str:
    try:
        return raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise UserInputError(f"not valid UTF-8 (column {exc.start + 1})", path=path, line=lineno) from None


def _read_csv(path: Path) -> Iterable[Said]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UserInputError("not valid UTF-8 (save the sheet as CSV UTF-8)", path=path, line=line) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    unknown = [f for f in reader.fieldnames or [] if f not in FIELDS]
    if unknown:
        raise UserInputError(f"unknown column(s) {unknown}; known: {list(FIELDS)}", path=path, line=1)
    for row in reader:
        data = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
        try:
            yield _said(Label.model_validate(data))
        except ValidationError as exc:
            raise _error(path, reader.line_num, exc) from None


def check_calibration(path: Path, suite: str) -> None:
    """A suite's `calibration:` labels, read at planning so a bad file fails before any model call."""
    for n, label in enumerate(read_labels(path), start=1):
        if label.suite != suite:
            raise UserInputError(f"label {n} is for suite '{label.suite}', not '{suite}'", path=path)


def calibration_labels(suites: Iterable[Any]) -> list[Said]:
    """The labels of the suites that name a calibration set (`calibration:`)."""
    return [x for s in suites if s.calibration is not None for x in read_labels(s.calibration)]


def _time(label: AnyLabel) -> datetime | None:
    if not label.time:
        return None
    try:
        when = datetime.fromisoformat(label.time.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _supersedes(later: AnyLabel, earlier: AnyLabel) -> bool:
    """Whether `later` (imported after `earlier`) is the newer word: by the labels' own `time`
    when both have one (an older export imported later does not win), else by import order."""
    t_later, t_earlier = _time(later), _time(earlier)
    return t_later is None or t_earlier is None or t_later >= t_earlier


def _covers(wide: AnyLabel, narrow: AnyLabel) -> bool:
    """Every output `narrow` is about, `wide` is about too (same person, same case)."""
    return wide.variant in (None, narrow.variant) and wide.repeat in (None, narrow.repeat)


def merge(old: Sequence[AnyLabel], new: Sequence[AnyLabel]) -> list[AnyLabel]:
    """A person's newer label on an output replaces their older one: a label given by case (no
    variant, no repeat) replaces that person's labels on each of the case's outputs; a label
    older (by its `time`) than the one already kept is dropped. Labels stay in import order."""
    every = [*old, *new]
    kept: dict[tuple[str, str, str], int | list[int]] = {}  # a person's labels on a case
    dropped = bytearray(len(every))
    for seq, label in enumerate(every):
        key = (label.suite, label.case, label.labeller)
        mine = kept.get(key)
        if mine is None:  # the common case: the first word of this person on this case
            kept[key] = seq
            continue
        mine = [mine] if isinstance(mine, int) else mine
        if seq >= len(old) and any(
            _covers(every[k], label) and not _supersedes(label, every[k]) for k in mine
        ):
            dropped[seq] = 1  # that person already said something newer on all of these outputs
            continue
        for k in mine:
            if _covers(label, every[k]) and _supersedes(label, every[k]):
                dropped[k] = 1
        kept[key] = [*(k for k in mine if not dropped[k]), seq]
    return [label for seq, label in enumerate(every) if not dropped[seq]]


def label_row(label: AnyLabel) -> dict[str, Any]:
    """A label as labels.jsonl keeps it."""
    return label.row() if isinstance(label, Said) else label.model_dump(mode="json", exclude_none=True)


_SORTED = sorted((name, i) for i, name in enumerate(Said._fields))


def label_line(label: AnyLabel) -> str:
    """`json.dumps(label_row(label), sort_keys=True, ensure_ascii=False)`, written directly
    (a million labels are written in a second, not five)."""
    x = label if isinstance(label, Said) else _said(label)
    return "{" + ", ".join(f'"{name}": {_value(x[i])}' for name, i in _SORTED if x[i] is not None) + "}"


def _value(value: object) -> str:
    return _json_text(value) if isinstance(value, str) else str(value)


def write_labels(run_dir: RunDir, labels: Sequence[AnyLabel]) -> None:
    """Through the run directory's one write path: atomic, secrets scrubbed value by value."""
    run_dir.write_label_lines(label_line(label) for label in labels)


def stored_labels(run_dir: RunDir) -> list[Said]:
    path = run_dir.labels_file
    return read_labels(path) if path.exists() else []


def check_against_run(
    path: Path, labels: Sequence[AnyLabel], run_id: str, results: Sequence[CaseResult]
) -> None:
    """Every label must name an output of this run (before anything is written)."""
    index: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
    for r in results:
        index[(r.suite, r.case_id)].append(r)
    checked: set[tuple[str | None, str, str, str | None, int | None]] = set()  # said of an output once
    for n, label in enumerate(labels, start=1):
        said = (label.run, label.suite, label.case, label.variant, label.repeat)
        if said in checked:
            continue
        where = f"label {n} ({label.suite}/{label.case})"
        if label.run is not None and label.run != run_id:
            raise UserInputError(f"{where} is for run '{label.run}', not this run '{run_id}'", path=path)
        if not any(label.matches(r) for r in index.get((label.suite, label.case), [])):
            raise UserInputError(
                f"{where}: no result in the run for variant {label.variant or 'any'}, "
                f"repeat {label.repeat if label.repeat is not None else 'any'}",
                path=path,
            )
        checked.add(said)


def labelled(labels: Iterable[AnyLabel], results: Sequence[CaseResult]) -> int:
    """How many of `results` have a label."""
    said = {(x.suite, x.case, x.variant, x.repeat) for x in labels}
    return sum(
        any((r.suite, r.case_id, v, n) in said for v in (None, r.variant) for n in (None, r.repeat))
        for r in results
    )


class LabelIndex:
    """A run's labels by case, to find each result's own (one result at a time: results are
    streamed past it, never held)."""

    def __init__(self, labels: Iterable[AnyLabel]):
        self.by_case: dict[tuple[str, str], list[AnyLabel]] = defaultdict(list)
        for label in labels:
            self.by_case[(label.suite, label.case)].append(label)

    def of(self, r: CaseResult) -> list[AnyLabel]:
        """The result's labels: one per labeller, their newest on it (none: an empty list)."""
        newest: dict[str, AnyLabel] = {}
        for x in self.by_case.get((r.suite, r.case_id), ()):  # the case's labels: match variant and repeat
            if (
                x.variant in (None, r.variant)
                and x.repeat in (None, r.repeat)
                and (x.labeller not in newest or _supersedes(x, newest[x.labeller]))
            ):
                newest[x.labeller] = x
        return list(newest.values())

    def scored(self, r: CaseResult, judged: Mapping[str, str]) -> CaseResult:
        """The result with its `human` score (and each judge's agreement) set from its labels,
        stale ones removed: `r` itself when nothing changes."""
        scores = {k: v for k, v in r.scores.items() if k != HUMAN and not k.endswith(AGREEMENT)}
        mine = self.of(r)
        if mine:
            scores[HUMAN] = human_score(mine)
            for name, kind in judged.items():
                agreement = _agreement(r.scores.get(name), mine, kind)
                if agreement is not None:
                    scores[name + AGREEMENT] = agreement
        return r if scores == r.scores else r.model_copy(update={"scores": scores})


def labels_for(labels: Sequence[AnyLabel], results: Iterable[CaseResult]) -> dict[str, list[AnyLabel]]:
    """The labels of each labelled result, by result key: one per labeller, their newest on it."""
    index = LabelIndex(labels)
    return {r.key: mine for r in results if (mine := index.of(r))}


def describe(label: AnyLabel) -> str:
    said = " ".join(
        x for x in (label.verdict, f"{label.rating}/{RATING_MAX}" if label.rating is not None else None) if x
    )
    return f"{label.labeller}: {said}" + (f" — {label.note}" if label.note else "")


REASON_CHARS = 2000


def human_score(labels: Sequence[AnyLabel]) -> StoredScore:
    value = sum(x.value() for x in labels) / len(labels)
    names = sorted({x.labeller for x in labels})
    reason = f"{len(labels)} label(s) by {_joined(names, ', ')}: " + _joined(map(describe, labels), "; ")
    return StoredScore(value=value, passed=None, reason=reason[:REASON_CHARS])


def _joined(texts: Iterable[str], sep: str) -> str:
    """`sep.join(texts)`, stopped once it is longer than a reason keeps (20,000 labels on one
    output are not all described to be cut at 2,000 characters)."""
    out: list[str] = []
    length = 0
    for text in texts:
        out.append(text)
        length += len(text) + len(sep)
        if length > REASON_CHARS:
            break
    return sep.join(out)


def with_human_scores(
    results: Iterable[CaseResult], labels: Sequence[AnyLabel], judged: Mapping[str, str]
) -> list[CaseResult]:
    """Results with their `human` score (and each judge's `<judge>_human_agreement`) set from
    `labels`; stale human scores of results that lost their labels are removed.
    `judged` maps score names to compare with people to their kind ("pass_fail" or "rating")."""
    index = LabelIndex(labels)
    return [index.scored(r, judged) for r in results]


def _agreement(score: StoredScore | None, labels: Sequence[AnyLabel], kind: str) -> StoredScore | None:
    """Per-case agreement of an automatic score with the people: on ratings (judges that rate,
    people who rated) 1 − |judge − person| / 4; else on verdicts the share of labellers it
    agrees with. Averaged over labellers."""
    if score is None:
        return None
    rated = [x.rating for x in labels if x.rating is not None]
    if kind == "rating" and rated and score.value is not None:
        judge = judge_rating(score.value)
        span = RATING_MAX - RATING_MIN
        value = sum(1 - abs(judge - h) / span for h in rated) / len(rated)
        return StoredScore(value=value, reason=f"judge {judge}/{RATING_MAX} vs people {rated}")
    said = [x.verdict == "pass" for x in labels if x.verdict is not None]
    if score.passed is None or not said:
        return None
    value = sum(1 for h in said if h == score.passed) / len(said)
    verdict = "pass" if score.passed else "fail"
    return StoredScore(value=value, reason=f"judge {verdict} vs people {sum(said)}/{len(said)} pass")


DERIVED = ("_self_agreement", "_position_consistency", AGREEMENT)
RATING_MODES = ("rubric", "context_relevance", "answer_relevance")


def compared_scores(info: RunInfo, results: Iterable[CaseResult]) -> dict[str, str]:
    """The scores to hold against people: each judge ("rating" for judges that rate, else
    "pass_fail"), from the run's recorded scorer specs, and every other pass/fail score."""
    out: dict[str, str] = {}
    for suite in info.suites:  # run.json read through its migrations (v1 kept them in `config`)
        for spec in suite.scorers:
            if spec.get("type") != "judge" or spec.get("mode") == "pairwise":
                continue
            mode = spec.get("mode", "rubric")
            name = spec.get("name") or (mode if mode in (*RATING_MODES[1:], "faithfulness") else "judge")
            out[name] = "rating" if mode in RATING_MODES else "pass_fail"
    for r in results:
        for name, s in r.scores.items():
            if s.passed is not None and name not in out and name != HUMAN and not name.endswith(DERIVED):
                out[name] = "pass_fail"
    return out


def judge_rating(value: float) -> int:
    """A judge's normalised 0–1 score back on the 1–5 scale people rate on."""
    return RATING_MIN + round(value * (RATING_MAX - RATING_MIN))
