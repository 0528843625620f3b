"""`evalkit merge` puts the shards' results in plan order from their places alone: two suites
(one repeated) × two variants, the shards' lines shuffled, still merge to the unsharded run's
lines in its order, each once; a line given twice, a result the plan does not have and a
planned one missing are named."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.conftest import write
from tests.helpers.processes import config

SHARDS = ("1/3", "2/3", "3/3")


def places(run_dir: Path) -> list[tuple[str, str, str, int, str]]:
    rows = map(json.loads, (run_dir / "results.jsonl").read_text().splitlines())
    return [(r["suite"], r["case_id"], r["variant"], r["repeat"], r["output"]) for r in rows]


def rewrite(run_dir: Path, lines: list[str]) -> None:
    (run_dir / "results.jsonl").write_text("".join(lines))
    info = json.loads((run_dir / "run.json").read_text())
    info["plan"]["requests"] = len(lines)
    (run_dir / "run.json").write_text(json.dumps(info))


@pytest.fixture
def sharded(workdir: Path, cli, fake_server) -> Path:
    for name, n, repeats in (("a", 7, 1), ("b", 5, 2)):
        cases = "\n".join(f"  - {{id: {name}{i}, vars: {{q: 'q {name} {i}'}}}}" for i in range(n))
        write(
            workdir / f"{name}.yaml",
            f'name: {name}\nprompt: "{{{{ q }}}}"\nrepeats: {repeats}\ncases:\n{cases}\n',
        )
    config(
        workdir / "evalkit.yaml",
        fake_server.url,
        ", concurrency: 1",  # the unsharded run writes its results in plan order
        variant="variants:\n  v1: {provider: api}\n  v2: {provider: api, model: m2}\n",
    )
    run = ("run", "a.yaml", "b.yaml", "--no-baseline", "--no-history", "--no-cache")
    assert cli(*run, "-o", "whole").exit_code == 0
    for i, shard in enumerate(SHARDS, start=1):
        assert cli(*run, "--shard", shard, "-o", f"s{i}").exit_code == 0
    return workdir


def test_shuffled_shards_merge_in_plan_order_each_once(sharded: Path, cli) -> None:
    shuffle = random.Random(7).shuffle
    for i in (1, 2, 3):
        lines = (sharded / f"s{i}" / "results.jsonl").read_text().splitlines(keepends=True)
        shuffle(lines)
        rewrite(sharded / f"s{i}", lines)
    merged = cli("merge", "s3", "s1", "s2", "-o", "m")
    assert merged.exit_code == 0, merged.output
    want = places(sharded / "whole")
    assert len(want) == 7 * 2 + 5 * 2 * 2 and len(set(want)) == len(want)
    assert places(sharded / "m") == want
    whole, got = (json.loads((sharded / d / "summary.json").read_text()) for d in ("whole", "m"))
    assert got["results"] == whole["results"]


def test_a_line_twice_in_one_shard_is_refused(sharded: Path, cli) -> None:
    lines = (sharded / "s2" / "results.jsonl").read_text().splitlines(keepends=True)
    rewrite(sharded / "s2", [*lines, lines[1]])
    refused = cli("merge", "s1", "s2", "s3", "-o", "m")
    row = json.loads(lines[1])
    key = f"{row['suite']}/{row['case_id']}/{row['variant']}/{row['repeat']}"
    assert refused.exit_code == 2 and f"overlapping shards: result {key} is in s2 and s2" in refused.output
    assert not (sharded / "m" / "results.jsonl").exists()


def test_a_result_out_of_the_plan_and_the_first_missing_are_named(sharded: Path, cli) -> None:
    for i in (1, 2, 3):  # the last repeat of b's third case under v2 becomes one of no variant
        lines = (sharded / f"s{i}" / "results.jsonl").read_text().splitlines(keepends=True)
        for k, line in enumerate(lines):
            row = json.loads(line)
            if (row["case_id"], row["variant"], row["repeat"]) == ("b2", "v2", 1):
                lines[k] = line.replace('"variant":"v2"', '"variant":"v9"')
                rewrite(sharded / f"s{i}", lines)
    refused = cli("merge", "s1", "s2", "s3", "-o", "m")
    assert refused.exit_code == 2, refused.output
    assert "the shards do not cover the run's plan (34 results from cases.jsonl)" in refused.output
    assert (
        "1 planned result(s) missing (e.g. b/b2/v2/1); 1 result(s) the plan does not have" in refused.output
    )
