"""Conclude's one pass over a run's results, fed as the execute stage writes them.

Concluding a run streams results.jsonl once through its taps: each suite × variant's
`GroupAccumulator`, junit.xml's `Cases`, the frontier's `FrontierTally` and the gate's `Gathered`.
The execute stage holds every result as it writes it, so a fresh run feeds the same taps then,
from the `ResultWriter`'s `taps`, and `conclude` takes this pass instead of reading the file back
(`conclude._fed_pass`), but only where it equals the file's: every line written was fed, once, in
the file's order (the writer's count and the file's size agree with it), nothing rewrote the file
since, and the taps were built from what `finish` derives from the directory. What a tap reads of
a result is fed as its line reads back: a batch with a secret scrubbed or a lone surrogate cleaned,
and a result whose figures JSON cannot keep (a non-finite number, written `null`) or that has a
trace, are parsed back from the text written. Anything else falls back to reading the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.rundir.dir import RunDir
from evalkit.rundir.files import UNFED, ResultWriter, read_back
from evalkit.types import CaseResult, MetricInfo, Threshold

if TYPE_CHECKING:  # loaded with the first result written, not before the first request
    from evalkit.compare.aggregate import GroupAccumulator
    from evalkit.compare.frontier import FrontierTally
    from evalkit.compare.groups import Gathered
    from evalkit.report.casefeed import CaseFeed
    from evalkit.report.html import Fed
    from evalkit.report.junit import Cases

Key = tuple[str, str]  # suite, variant
TAKEN = "taken"  # conclude took the pass: it was the file's

# what the taps read of a result, each of them kept by its line as it is in memory (strings, ints,
# booleans: validated when the result was made) or checked by `rundir.files.read_back` (floats, the trace)
READ_FIELDS = frozenset(
    {"suite", "case_id", "variant", "repeat", "provider", "model", "tags", "case_hash", "input_hash"}
    | {"references", "output", "error", "finish_reason", "usage", "model_version", "cached"}
    | {"fallback_from", "retrieval_ids", "scores", "judges", "passed"}
    | {"latency_ms", "ttft_ms", "cost_usd", "steps", "model_dump"}
)


@dataclass
class Taps:
    """The taps of conclude's one pass, and how many results went through them."""

    groups: dict[Key, GroupAccumulator]  # in the order first seen
    cases: Cases
    tally: FrontierTally
    gathered: Gathered | None  # every group's records (narrowed to the gate's by conclude)
    n: int = 0


class FedPass:
    """Conclude's taps, fed by a `ResultWriter` (its `taps`) as it writes results.jsonl from empty.
    `metrics`, `thresholds` and `variants`: as `finish` will read them from the directory;
    `gated`: whether the run is to be compared with baselines (the gate's records kept)."""

    def __init__(
        self,
        metrics: Mapping[str, Sequence[MetricInfo]],
        thresholds: Mapping[str, Mapping[str, Threshold]],
        variants: Sequence[str],
        gated: bool,
    ):
        self.metrics = {name: list(infos) for name, infos in metrics.items()}
        self.thresholds = {name: dict(t) for name, t in thresholds.items()}
        self.variants = list(variants)
        self.gated = gated
        self.writer: ResultWriter | None = None
        self.taps: Taps | None = None
        self.size = 0  # results.jsonl's size after the last batch fed
        self.human = False  # whether a line written holds a human score
        self.spoiled: str | None = None  # why the pass is not the file's (None: it is)
        self.blocks: CaseFeed | None = None  # report.html's case blocks, fed after the taps
        self._report: tuple[RunDir, Path | None] | None = None  # where they are made, once a result is

    def attach(self, writer: ResultWriter) -> None:
        """Be told of every batch `writer` writes; only a file that starts empty is fed."""
        if writer.path.exists() and writer.path.stat().st_size:
            self.spoil("results.jsonl held results before the run")
        self.writer = writer
        writer.taps.append(self)

    def spoil(self, why: str) -> None:
        """The file no longer is what was fed (rescored, or a batch went unfed): never used."""
        if self.spoiled in (None, UNFED):
            self.spoiled = why
        self.taps = None  # its scratch files go
        if self.blocks is not None and why != TAKEN:
            self.blocks.spoil(why)

    def release(self) -> None:
        """The run concluded, or failed to: what no conclusion took (its taps' scratch, report.html's
        blocks: their scratch files, lookup and thread) goes now, not at exit."""
        self.spoil("released")

    def feed_report(self, run_dir: RunDir, baselines: Path | None) -> None:
        """Build report.html's case blocks too, as the results are written (`report.casefeed`),
        from the first one on (its modules load then, not before the first request);
        `baselines`: the folder the run is gated against (None: not gated)."""
        self._report = (run_dir, baselines)

    def report_blocks(self) -> Fed | None:
        """report.html's case blocks, where conclude took this pass (so results.jsonl is what
        was fed) and they are what the directory gives (`CaseFeed.take`); taken once."""
        blocks, self.blocks = self.blocks, None
        if blocks is None:
            return None
        if self.spoiled != TAKEN:
            blocks.spoil(self.spoiled or "the pass was not taken")
            return None
        return blocks.take()

    def written(self, results: Sequence[CaseResult], text: str, exact: bool, size: int) -> None:
        if self.spoiled is not None:
            return
        self.spoiled = UNFED  # kept if feeding it is cut short (an interrupt)
        try:
            taps = self.taps or self._taps()
            self.taps = taps
            for r in read_back(results, text, exact):
                self._feed(taps, r)
        except Exception as exc:  # a tap's bug costs the fed pass, never the run: the file is read
            self.spoil(f"feeding failed: {type(exc).__name__}: {exc}")
            return
        self.human = self.human or _human_key() in text
        self.size, self.spoiled = size, None
        if self._report is not None:
            from evalkit.report.casefeed import CaseFeed

            run_dir, baselines = self._report
            self.blocks = CaseFeed.for_run(run_dir, self.metrics, self.variants, baselines)
            self._report = None
        if self.blocks is not None:
            self.blocks.fed(size)

    def _taps(self) -> Taps:
        from evalkit.compare.groups import Gathered

        return new_taps(self.metrics, self.variants, Gathered() if self.gated else None)

    def _feed(self, taps: Taps, r: CaseResult) -> None:
        """One result through every tap, as conclude's pass over the file hands it on."""
        taps.n += 1
        taps.cases.add(r)
        taps.tally.add(r)
        if taps.gathered is not None:
            taps.gathered.add(r)
        acc = taps.groups.get((r.suite, r.variant))
        if acc is None:  # as `summarize_groups` makes a group's, on first sight
            from evalkit.compare.aggregate import GroupAccumulator

            acc = GroupAccumulator(self.metrics.get(r.suite, ()), self.thresholds.get(r.suite, {}))
            taps.groups[(r.suite, r.variant)] = acc
        acc.add(r)


def new_taps(
    metrics: Mapping[str, Sequence[MetricInfo]], variants: Sequence[str], gathered: Gathered | None
) -> Taps:
    """Conclude's taps for a pass over a run's results (fed or read): junit.xml's test cases
    with each suite's pass rule, the frontier's tally (nothing for a run of one variant: no
    paired test), and the gate's records in `gathered` (None: not gated)."""
    from evalkit.compare.frontier import FrontierTally
    from evalkit.report.junit import Cases

    rules = {name: [m.name for m in infos if m.counts_for_pass] for name, infos in metrics.items()}
    return Taps(
        groups={},
        cases=Cases(lambda suite, _variant: rules.get(suite, [])),
        tally=FrontierTally(metrics if len(set(variants)) != 1 else {}),
        gathered=gathered,
    )


def _human_key() -> str:
    """A human score in a line, as conclude looks for it (then it refreshes them: `apply_labels`)."""
    from evalkit.human.labels import HUMAN

    return f'"{HUMAN}":'
