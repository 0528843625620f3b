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


def _shard_suite(workdir: Path, url: str) -> None:
    cases = "\n".join(f"  - {{id: c{i}, vars: {{q: 'q {i}'}}}}" for i in range(6))
    write(workdir / "a.yaml", f'name: a\nprompt: "{{{{ q }}}}"\ncases:\n{cases}\n')
    config(workdir / "evalkit.yaml", url)


def test_a_shard_killed_before_its_first_result_is_resumed_not_called_too_old(workdir: Path, cli) -> None:
    """cases.jsonl is put in place with a run's first result line: a shard whose process died
    while its first requests were in flight has run.json but no cases.jsonl. merge says so and
    names `evalkit run --resume`, which writes it; the shards then merge."""
    import time

    from tests.conftest import evalkit_process
    from tests.fake_openai import FakeOpenAI

    run = ("run", "a.yaml", "--no-baseline", "--no-history", "--no-cache")
    with FakeOpenAI(latency_s=60.0) as server:
        _shard_suite(workdir, server.url)
        proc = evalkit_process(workdir, *run, "--shard", "1/2", "-o", "s1")
        try:
            deadline = time.monotonic() + 60
            while server.in_flight == 0 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert server.in_flight > 0, proc.communicate()[0] if proc.poll() is not None else "no request"
        finally:
            proc.kill()  # kill -9 while its first requests wait for their answers
            proc.wait()
        assert (workdir / "s1" / "run.json").exists() and not (workdir / "s1" / "cases.jsonl").exists()
        server.latency_s = 0.0
        assert cli(*run, "--shard", "2/2", "-o", "s2").exit_code == 0
        refused = cli("merge", "s1", "s2", "-o", "m")
        assert refused.exit_code == 2, refused.output
        said = " ".join(refused.output.split())
        assert "stopped before its first result" in said and "evalkit run --resume s1" in said
        assert "too old" not in said
        resumed = cli("run", "--resume", "s1", "--no-history")
        assert resumed.exit_code == 0, resumed.output
    assert (workdir / "s1" / "cases.jsonl").exists()
    merged = cli("merge", "s1", "s2", "-o", "m")
    assert merged.exit_code == 0, merged.output


def test_a_concluded_shard_without_cases_jsonl_is_too_old_to_merge(workdir: Path, cli, fake_server) -> None:
    """A shard that concluded without cases.jsonl was written before evalkit wrote one."""
    _shard_suite(workdir, fake_server.url)
    run = ("run", "a.yaml", "--no-baseline", "--no-history", "--no-cache")
    for i in (1, 2):
        assert cli(*run, "--shard", f"{i}/2", "-o", f"s{i}").exit_code == 0
    (workdir / "s1" / "cases.jsonl").unlink()
    refused = cli("merge", "s1", "s2", "-o", "m")
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert "no cases.jsonl: written by an evalkit too old to merge" in said and "--resume" not in said


def test_shards_whose_cases_differ_only_in_origin_merge(workdir: Path, cli, fake_server) -> None:
    """Where a case was read (its suite's path as given, or absolute as `--resume` loads it)
    does not make two shards two runs; a case that differs does, as JSON (`true` is not `1`)."""
    _shard_suite(workdir, fake_server.url)
    run = ("run", "a.yaml", "--no-baseline", "--no-history", "--no-cache")
    for i in (1, 2):
        assert cli(*run, "--shard", f"{i}/2", "-o", f"s{i}").exit_code == 0
    cases = workdir / "s2" / "cases.jsonl"
    text = cases.read_text()
    assert text.count('"origin": "a.yaml:') == 6
    cases.write_text(text.replace('"origin": "a.yaml:', f'"origin": "{workdir / "a.yaml"}:'))
    merged = cli("merge", "s1", "s2", "-o", "m")
    assert merged.exit_code == 0, merged.output
    cases.write_text(text.replace('"q 3"', '"q 33"'))  # another case
    refused = cli("merge", "s1", "s2", "-o", "m2")
    assert refused.exit_code == 2 and "its cases.jsonl differs from s1's" in refused.output
    cases.write_text(text.replace('"tags": []', '"tags": [], "x": 1', 1))
    (workdir / "s1" / "cases.jsonl").write_text(text.replace('"tags": []', '"tags": [], "x": true', 1))
    refused = cli("merge", "s1", "s2", "-o", "m3")  # 1 is not true
    assert refused.exit_code == 2 and "its cases.jsonl differs from s1's" in refused.output
