"""The regression gate through the CLI: bless a run, rerun, degrade, add noise, diff runs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.fake_openai import FakeOpenAI

N = 40


class Behaviour:
    """What the fake model answers: correct, except for the cases listed as wrong."""

    def __init__(self) -> None:
        self.wrong: set[int] = set()

    def __call__(self, body: dict[str, Any]) -> str:
        i = int(body["messages"][-1]["content"].split()[-1].rstrip("?"))
        return "no idea" if i in self.wrong else f"answer {i}"


@pytest.fixture
def gate_env(workdir: Path) -> Any:
    behaviour = Behaviour()
    server = FakeOpenAI(responder=behaviour).start()
    cases = "\n".join(f"  - {{id: q{i}, vars: {{n: {i}}}, reference: 'answer {i}'}}" for i in range(N))
    write(
        workdir / "suites" / "g.yaml",
        f'name: g\nprompt: "What is number {{{{ n }}}}?"\nscorers: [exact, chrf]\ncases:\n{cases}\n',
    )
    write(
        workdir / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m}}\ncache: {{enabled: false}}\n",
    )
    yield behaviour
    server.stop()


def test_bless_rerun_degrade_and_noise(workdir: Path, gate_env: Behaviour, cli) -> None:
    first = cli("run", "suites/g.yaml", "-o", "runs/a")
    assert first.exit_code == 0, first.output
    saved = cli("baseline", "save", "runs/a")
    assert saved.exit_code == 0, saved.output
    data = workdir / "baselines" / "g" / "default.jsonl"
    meta = json.loads((workdir / "baselines" / "g" / "default.meta.json").read_text())
    assert (
        len(data.read_text().splitlines()) == N
        and meta["suite_content_hash"]
        and meta["model_versions"] == ["m-2026-01-01 (fp_fake)"]
    )
    assert (
        data.read_text().splitlines()[0].startswith('{"cached": false, "case_hash": "')
        and '"case_id": "q0"' in data.read_text().splitlines()[0]
    )  # sorted keys, sorted cases

    # identical rerun: baselines/ is picked up by default; exit 0
    same = cli("run", "suites/g.yaml", "-o", "runs/b")
    assert same.exit_code == 0, same.output
    summary = json.loads((workdir / "runs" / "b" / "summary.json").read_text())
    assert summary["status"] == "passed" and summary["baseline"]
    diff = json.loads((workdir / "runs" / "b" / "diff.json").read_text())
    assert diff["groups"][0]["verdict"] == "ok" and diff["groups"][0]["paired"] == N

    # a small random change within noise (1 of 40 answers wrong): exit 0
    gate_env.wrong = {7}
    noise = cli("run", "suites/g.yaml", "-o", "runs/c")
    assert noise.exit_code == 0, noise.output

    # a degraded model: exit 1, the regressed cases named
    gate_env.wrong = set(range(0, N, 2))
    bad = cli("run", "suites/g.yaml", "-o", "runs/d")
    assert bad.exit_code == 1, bad.output
    out = " ".join(bad.output.split())
    assert "REGRESSED" in out and "most regressed cases" in out and "q0" in out
    summary = json.loads((workdir / "runs" / "d" / "summary.json").read_text())
    assert summary["status"] == "regressed" and "g · default · exact" in summary["regressions"]
    gd = json.loads((workdir / "runs" / "d" / "diff.json").read_text())["groups"][0]
    exact = next(m for m in gd["metrics"] if m["metric"] == "exact")
    assert (
        exact["kind"] == "pass_fail" and exact["pass_to_fail"] == N // 2 and exact["verdict"] == "regressed"
    )
    assert set(gd["pass_to_fail"]) == {f"q{i}" for i in range(0, N, 2)}

    # CI outputs
    junit = ET.parse(workdir / "runs" / "d" / "junit.xml").getroot()
    assert junit.tag == "testsuites" and int(junit.get("failures", "0")) >= 1 + N // 2
    names = [tc.get("name") for tc in junit.iter("testcase")]
    assert "gate exact vs baseline" in names and "case q0" in names
    failure = next(tc for tc in junit.iter("testcase") if tc.get("name") == "gate exact vs baseline").find(
        "failure"
    )
    assert failure is not None and (failure.text or "").endswith(
        f" regressed ({N // 2} of {N} cases pass → fail)"
    )  # the one vocabulary
    md = (workdir / "runs" / "d" / "summary.md").read_text()
    assert (
        md.startswith("## evalkit: ❌ REGRESSED")
        and "| g · default | `exact` |" in md
        and "❌ regressed |" in md
        and "- ❌ g · default: ✗ regressed (40 paired cases)" in md
    )

    # evalkit diff between two run directories
    assert cli("diff", "runs/a", "runs/b").exit_code == 0
    regressed = cli("diff", "runs/a", "runs/d", "--json", "d.json")
    assert regressed.exit_code == 1 and "REGRESSED" in regressed.output
    assert json.loads((workdir / "d.json").read_text())["groups"][0]["verdict"] == "regressed"
    # --no-baseline skips the gate
    assert cli("run", "suites/g.yaml", "-o", "runs/e", "--no-baseline").exit_code == 0


def test_saving_over_a_baseline_shows_what_changes(
    workdir: Path, gate_env: Behaviour, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.cli.app import app

    assert cli("run", "suites/g.yaml", "-o", "runs/a", "--no-baseline").exit_code == 0
    assert cli("baseline", "save", "runs/a").exit_code == 0
    gate_env.wrong = set(range(10))
    assert cli("run", "suites/g.yaml", "-o", "runs/b", "--no-baseline").exit_code == 0
    refused = cli("baseline", "save", "runs/b")  # a regressed run, and no terminal to ask: refused
    out = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "Replacing existing baselines" in out and "regressed" in out
    assert "--force" in out
    first = json.loads((workdir / "baselines" / "g" / "default.jsonl").read_text().splitlines()[0])
    assert first["output"] == "answer 0"  # the good baseline is still in place
    # at a terminal it asks, and "no" keeps the good baseline
    monkeypatch.setattr("evalkit.cli.baseline._interactive", lambda: True)
    declined = cli.runner.invoke(app, ["baseline", "save", "runs/b"], input="n\n")
    assert declined.exit_code == 1 and "Replace the baseline anyway?" in declined.output
    first = json.loads((workdir / "baselines" / "g" / "default.jsonl").read_text().splitlines()[0])
    assert first["output"] == "answer 0"
    again = cli("baseline", "save", "runs/b", "--force")
    assert again.exit_code == 0, again.output
    first = json.loads((workdir / "baselines" / "g" / "default.jsonl").read_text().splitlines()[0])
    assert first["output"] == "no idea"  # the new baseline is in place


def test_blessing_a_cached_run_keeps_the_known_latency(workdir: Path, gate_env: Behaviour, cli) -> None:
    """Issue 14.11: a fully cached run measured no latency; the previous baseline's is kept."""
    config = (
        (workdir / "evalkit.yaml").read_text().replace("cache: {enabled: false}", "cache: {enabled: true}")
    )
    write(workdir / "evalkit.yaml", config)
    assert cli("run", "suites/g.yaml", "-o", "runs/a", "--no-baseline").exit_code == 0
    assert cli("baseline", "save", "runs/a").exit_code == 0
    measured = [
        json.loads(x) for x in (workdir / "baselines" / "g" / "default.jsonl").read_text().splitlines()
    ]
    assert cli("run", "suites/g.yaml", "-o", "runs/b", "--no-baseline").exit_code == 0  # all from cache
    saved = cli("baseline", "save", "runs/b")
    assert saved.exit_code == 0, saved.output
    assert "came from the cache; kept the previous baseline's latency" in " ".join(saved.output.split())
    kept = [json.loads(x) for x in (workdir / "baselines" / "g" / "default.jsonl").read_text().splitlines()]
    assert all(r["cached"] for r in kept) and [r["latency_ms"] for r in kept] == [
        r["latency_ms"] for r in measured
    ]
    run_a = json.loads((workdir / "runs" / "a" / "run.json").read_text())["run_id"]
    assert {r["latency_kept_from"] for r in kept} == {run_a}
    # and a later run compares latency against it
    gate_env.wrong = set()
    later = cli("run", "suites/g.yaml", "-o", "runs/c", "--no-cache")
    assert later.exit_code == 0, later.output
    lat = next(
        m
        for m in json.loads((workdir / "runs" / "c" / "diff.json").read_text())["groups"][0]["metrics"]
        if m["metric"] == "latency_p95_ms"
    )
    assert lat["n_paired"] == N


def test_changed_and_added_cases_are_not_regressions(workdir: Path, gate_env: Behaviour, cli) -> None:
    assert cli("run", "suites/g.yaml", "-o", "runs/a").exit_code == 0
    assert cli("baseline", "save", "runs/a").exit_code == 0
    text = (workdir / "suites" / "g.yaml").read_text()
    text = text.replace(
        "{id: q3, vars: {n: 3}, reference: 'answer 3'}",
        "{id: q3, vars: {n: 3}, reference: 'a different answer'}",
    )
    text += "  - {id: extra, vars: {n: 99}, reference: 'nope'}\n"
    write(workdir / "suites" / "g.yaml", text)
    result = cli("run", "suites/g.yaml", "-o", "runs/b")
    assert result.exit_code == 0, result.output
    gd = json.loads((workdir / "runs" / "b" / "diff.json").read_text())["groups"][0]
    assert gd["added"] == ["extra"] and gd["changed_input"] == ["q3"] and gd["paired"] == N - 1


def test_bad_baseline_folder_is_a_usage_error(workdir: Path, gate_env: Behaviour, cli) -> None:
    result = cli("run", "suites/g.yaml", "--baseline", "nowhere")
    assert result.exit_code == 2 and "no baselines here" in result.output


def test_diff_and_baseline_usage_errors_are_exit_2(workdir: Path, gate_env: Behaviour, cli) -> None:
    """Exit 1 means 'regressed': a bad --json path, `--to FILE` or a garbled summary.json
    must not crash into it."""
    assert cli("run", "suites/g.yaml", "-o", "runs/a", "--no-baseline").exit_code == 0
    missing = cli("diff", "runs/a", "runs/a", "--json", "missing_dir/x.json")
    assert missing.exit_code == 2 and "missing_dir" in missing.output, missing.output
    (workdir / "afile").write_text("x")
    to_file = cli("baseline", "save", "runs/a", "--to", "afile")
    assert to_file.exit_code == 2 and "not a folder" in to_file.output, to_file.output
    (workdir / "runs" / "a" / "summary.json").write_text('{"run_id": 3, "groups": "garbled"')
    for args in (("baseline", "save", "runs/a"), ("diff", "runs/a", "runs/a")):
        garbled = cli(*args)
        out = " ".join(garbled.output.split())
        assert garbled.exit_code == 2 and "summary.json is unreadable" in out, garbled.output
        assert "Traceback" not in out
    (workdir / "runs" / "a" / "run.json").write_text("[1, 2]")
    assert cli("diff", "runs/a", "runs/a").exit_code == 2


def test_blessing_an_interrupted_run_warns(workdir: Path, gate_env: Behaviour, cli) -> None:
    assert cli("run", "suites/g.yaml", "-o", "runs/a", "--no-baseline").exit_code == 0
    results = workdir / "runs" / "a" / "results.jsonl"
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:25]))  # as if killed
    info = json.loads((workdir / "runs" / "a" / "run.json").read_text())
    info["status"] = "running"
    (workdir / "runs" / "a" / "run.json").write_text(json.dumps(info))
    saved = cli("baseline", "save", "runs/a")
    out = " ".join(saved.output.split())
    assert saved.exit_code == 0, out
    assert "never finished and holds 25 of its 40 planned results" in out, out
    complete = cli("run", "suites/g.yaml", "-o", "runs/b", "--no-baseline")
    assert complete.exit_code == 0
    assert "planned results" not in cli("baseline", "save", "runs/b").output


def test_a_prompt_change_between_variants_is_paired_and_gated(workdir: Path, cli) -> None:
    """Issue 14.1/2: `diff RUN RUN --pair` compares two prompts of one model case by case."""

    def responder(body: dict[str, Any]) -> str:
        i = int(body["messages"][-1]["content"].split()[-1].rstrip("?"))
        french = any("French" in m["content"] for m in body["messages"] if m["role"] == "system")
        return f"réponse {i}" if french else f"answer {i}"

    server = FakeOpenAI(responder=responder).start()
    try:
        cases = "\n".join(f"  - {{id: q{i}, vars: {{n: {i}}}, reference: 'answer {i}'}}" for i in range(N))
        write(
            workdir / "suites" / "g.yaml",
            f'name: g\nprompt: "What is number {{{{ n }}}}?"\nscorers: [exact]\ncases:\n{cases}\n',
        )
        write(
            workdir / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m}}\n"
            "variants:\n  terse: {provider: api, system: Answer briefly.}\n"
            "  french: {provider: api, system: Reply in French.}\n",
        )
        assert cli("run", "suites/g.yaml", "-o", "runs/a").exit_code == 0
        result = cli("diff", "runs/a", "runs/a", "--pair", "terse=french", "--json", "d.json")
    finally:
        server.stop()
    assert result.exit_code == 1, result.output
    g = json.loads((workdir / "d.json").read_text())["groups"][0]
    assert g["paired"] == N and g["changed_input"] == [] and g["verdict"] == "regressed"
    assert g["provenance"][0]["what"] == "prompt" and g["provenance"][0]["detail"] == f"{N} of {N} cases"
    assert "changed since the baseline: prompt" in " ".join(result.output.split())


def test_a_diff_with_nothing_paired_is_inconclusive(workdir: Path, gate_env: Behaviour, cli) -> None:
    """Issue 14.2: every case's data changed: nothing compared, exit 5, not OK."""
    assert cli("run", "suites/g.yaml", "-o", "runs/a", "--no-baseline").exit_code == 0
    text = (workdir / "suites" / "g.yaml").read_text().replace("reference: 'answer", "reference: 'the answer")
    write(workdir / "suites" / "g.yaml", text)
    assert cli("run", "suites/g.yaml", "-o", "runs/b", "--no-baseline").exit_code == 0
    result = cli("diff", "runs/a", "runs/b")
    assert result.exit_code == 5, result.output
    out = " ".join(result.output.split())
    assert "INCONCLUSIVE" in out and "OK" not in out.replace("INCONCLUSIVE", "")


def test_one_rule_for_the_baselines_folder(workdir: Path, gate_env: Behaviour, cli) -> None:
    """Issue 14.13: `run -c conf/evalkit.yaml` and `baseline save` both use ./baselines, and a
    run that is not gated says so."""
    (workdir / "conf").mkdir()
    (workdir / "evalkit.yaml").rename(workdir / "conf" / "evalkit.yaml")
    first = cli("run", "suites/g.yaml", "-c", "conf/evalkit.yaml", "-o", "runs/a")
    assert first.exit_code == 0 and "not gated: no baselines in ./baselines" in " ".join(first.output.split())
    assert cli("baseline", "save", "runs/a").exit_code == 0
    assert (workdir / "baselines" / "g" / "default.jsonl").exists()
    second = cli("run", "suites/g.yaml", "-c", "conf/evalkit.yaml", "-o", "runs/b")
    assert second.exit_code == 0, second.output
    assert json.loads((workdir / "runs" / "b" / "diff.json").read_text())["groups"][0]["paired"] == N
    assert "not gated: no baselines" not in " ".join(second.output.split())
    # a suite × variant without its own baseline is named as not gated
    write(
        workdir / "suites" / "h.yaml",
        (workdir / "suites" / "g.yaml").read_text().replace("name: g", "name: h"),
    )
    third = cli("run", "suites/h.yaml", "-c", "conf/evalkit.yaml", "-o", "runs/c")
    assert "no baseline for h · default: not gated" in " ".join(third.output.split())
    fourth = cli("run", "suites/g.yaml", "-c", "conf/evalkit.yaml", "--no-baseline", "-o", "runs/d")
    assert "not gated: --no-baseline" in fourth.output
