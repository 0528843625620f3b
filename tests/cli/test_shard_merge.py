"""`evalkit run --shard I/N` and `evalkit merge`, end to end through the CLI against the fake
OpenAI server: the merged run equals an unsharded run (results in order, summary, gate), and
merge refuses shards it cannot join."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import write
from tests.fake_openai import FakeOpenAI
from tests.helpers.processes import evalkit, lines


def responder(wrong: set[str]) -> Any:
    def answer(body: dict[str, Any]) -> str:
        last = body["messages"][-1]["content"]
        return "no idea" if last in wrong else f"echo: {last}"

    return answer


def setup(tmp: Path, url: str) -> None:
    cases = "\n".join(
        f"  - {{id: c{i}, vars: {{q: 'question {i}'}}, reference: 'echo: question {i}'}}" for i in range(24)
    )
    write(
        tmp / "s.yaml",
        f'name: rel\nprompt: "{{{{ q }}}}"\nscorers: [exact, chrf]\nrepeats: 2\ncases:\n{cases}\n',
    )
    write(
        tmp / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: '{url}', model: m, concurrency: 1}}\n"
        "variants:\n  a: {provider: api}\n  b: {provider: api, model: m2}\n",
    )


def without_noise(value: Any) -> Any:
    """Drop what differs between any two runs: ids, timings and latencies."""
    if isinstance(value, dict):
        return {
            k: without_noise(v)
            for k, v in value.items()
            if "latency" not in k
            and "ttft" not in k
            and k not in ("run_id",)
            and not (isinstance(v, str) and "latency" in v)
        }
    if isinstance(value, list):
        return [without_noise(v) for v in value if not (isinstance(v, dict) and "latency" in json.dumps(v))]
    return value


def test_merged_shards_equal_an_unsharded_run(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        setup(tmp_path, server.url)
        args = ("run", "s.yaml", "--no-cache")
        assert evalkit(tmp_path, *args, "--out", "good", "--no-baseline").returncode == 0
        saved = evalkit(tmp_path, "baseline", "save", "good", "--to", "baselines")
        assert saved.returncode == 0, saved.stderr
        server.responder = responder({f"question {i}" for i in range(0, 24, 3)})  # a regression
        whole = evalkit(tmp_path, *args, "--out", "whole", "--baseline", "baselines")
        codes = []
        for i in (1, 2, 3):
            shard = evalkit(tmp_path, *args, "--shard", f"{i}/3", "--out", f"s{i}", "--baseline", "baselines")
            assert f"shard {i}/3" in shard.stdout, shard.stdout + shard.stderr
            codes.append(shard.returncode)
        other = evalkit(tmp_path, *args, "--repeats", "1", "--shard", "3/3", "--out", "other")
    assert other.returncode == 0, other.stderr
    merged = evalkit(tmp_path, "merge", "s1", "s2", "s3", "--out", "merged")
    assert merged.returncode == whole.returncode == 1, merged.stdout + merged.stderr  # regressed
    assert 1 in codes

    sizes = [len(lines(tmp_path / f"s{i}" / "results.jsonl")) for i in (1, 2, 3)]
    assert all(sizes) and sum(sizes) == 24 * 2 * 2
    for i in (1, 2, 3):  # every repeat of a case is in one shard
        pairs = [(x["case_id"], x["variant"]) for x in lines(tmp_path / f"s{i}" / "results.jsonl")]
        assert all(pairs.count(p) == 2 for p in pairs)
    want = [without_noise(x) for x in lines(tmp_path / "whole" / "results.jsonl")]
    got = [without_noise(x) for x in lines(tmp_path / "merged" / "results.jsonl")]
    assert got == want  # same lines, same order
    for name in ("summary.json", "diff.json"):
        a = json.loads((tmp_path / "whole" / name).read_text())
        b = json.loads((tmp_path / "merged" / name).read_text())
        assert without_noise(a) == without_noise(b), name
    info = json.loads((tmp_path / "merged" / "run.json").read_text())
    assert [m["shard"] for m in info["merged_from"]] == ["1/3", "2/3", "3/3"]
    assert info["options"]["shard"] is None and info["plan"]["requests"] == 96
    assert (tmp_path / "merged" / "report.html").exists()

    # shards whose run.json names a baselines folder elsewhere (crafted, or copied from another
    # machine): merge reads it only when told to with --baseline
    shutil.copytree(tmp_path / "baselines", tmp_path / "elsewhere")
    for i in (1, 2, 3):
        shutil.copytree(tmp_path / f"s{i}", tmp_path / f"x{i}")
        crafted = json.loads((tmp_path / f"x{i}" / "run.json").read_text())
        crafted["options"]["baseline"] = str(tmp_path / "elsewhere")
        (tmp_path / f"x{i}" / "run.json").write_text(json.dumps(crafted))
    ungated = evalkit(tmp_path, "merge", "x1", "x2", "x3", "--out", "xm")
    assert ungated.returncode == 0, ungated.stdout + ungated.stderr
    assert "not gated: the shards were gated against" in ungated.stdout + ungated.stderr
    assert not (tmp_path / "xm" / "diff.json").exists() or not json.loads(
        (tmp_path / "xm" / "diff.json").read_text()
    ).get("groups")
    told = evalkit(tmp_path, "merge", "x1", "x2", "x3", "--out", "xt", "--baseline", "elsewhere")
    assert told.returncode == 1, told.stdout + told.stderr  # gated as asked: regressed

    refusals = {
        ("s1", "s2", "s1", "s3"): "overlapping shards: shard 1/3 is given twice",
        ("s1", "s2"): "missing shard(s) 3/3",
        ("s1", "s2", "other"): "another config than s1",
        ("s1", "s2", "whole"): "not a shard",
    }
    for dirs, message in refusals.items():
        refused = evalkit(tmp_path, "merge", *dirs, "--out", "bad")
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert not (tmp_path / "bad" / "results.jsonl").exists()

    # a result in two shards, and a shard missing its last result (merge reads the shards as
    # streams and sorts their lines by plan order: both are still found)
    shutil.copytree(tmp_path / "s2", tmp_path / "s2dup")
    first_of_s1 = (tmp_path / "s1" / "results.jsonl").read_text().splitlines(keepends=True)[0]
    with (tmp_path / "s2dup" / "results.jsonl").open("a") as fh:
        fh.write(first_of_s1)
    info2 = json.loads((tmp_path / "s2dup" / "run.json").read_text())
    info2["plan"]["requests"] += 1
    (tmp_path / "s2dup" / "run.json").write_text(json.dumps(info2))
    shutil.copytree(tmp_path / "s3", tmp_path / "s3cut")
    kept = (tmp_path / "s3cut" / "results.jsonl").read_text().splitlines(keepends=True)[:-1]
    (tmp_path / "s3cut" / "results.jsonl").write_text("".join(kept))
    key = "/".join(str(json.loads(first_of_s1)[k]) for k in ("suite", "case_id", "variant", "repeat"))
    for dirs, message in {
        ("s1", "s2dup", "s3"): f"overlapping shards: result {key} is in ",
        ("s1", "s2", "s3cut"): f"shard 3/3 is unfinished ({len(kept)} of {len(kept) + 1} results",
    }.items():
        refused = evalkit(tmp_path, "merge", *dirs, "--out", "bad")
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    # an edited shard: half its results gone and its own plan edited to match (merged 123 of 200)
    kept = (tmp_path / "s3" / "results.jsonl").read_text().splitlines()[::2]
    (tmp_path / "s3" / "results.jsonl").write_text("".join(line + "\n" for line in kept))
    info = json.loads((tmp_path / "s3" / "run.json").read_text())
    info["plan"]["requests"] = len(kept)
    (tmp_path / "s3" / "run.json").write_text(json.dumps(info))
    edited = evalkit(tmp_path, "merge", "s1", "s2", "s3", "--out", "bad")
    assert edited.returncode == 2 and "the shards do not cover the run's plan (96 results" in edited.stderr
    assert "planned result(s) missing" in edited.stderr and not (tmp_path / "bad" / "results.jsonl").exists()


def test_bad_shard_is_refused_before_any_call(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        setup(tmp_path, server.url)
        for bad in ("3/2", "0/2", "two"):
            proc = evalkit(tmp_path, "run", "s.yaml", "--shard", bad, "--out", "x")
            assert proc.returncode == 2 and "--shard" in proc.stderr, proc.stderr
        assert not server.requests


def test_resume_keeps_the_shard(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        setup(tmp_path, server.url)
        first = evalkit(tmp_path, "run", "s.yaml", "--shard", "1/2", "--out", "s1", "--no-cache")
        assert first.returncode == 0, first.stderr
        asked = len(server.requests)
        other = evalkit(tmp_path, "run", "--resume", "s1", "--shard", "2/2")
        assert other.returncode == 2 and "shard (run: 1/2, now: 2/2)" in other.stderr, other.stderr
        again = evalkit(tmp_path, "run", "--resume", "s1", "--no-cache")
        assert again.returncode == 0, again.stderr
        assert len(server.requests) == asked  # the stored shard was applied: nothing else was asked
    results = lines(tmp_path / "s1" / "results.jsonl")
    assert len(results) == asked and 0 < asked < 96
    info = json.loads((tmp_path / "s1" / "run.json").read_text())
    assert info["options"]["shard"] == "1/2" and info["plan"]["requests"] == asked
