"""The truncation rate against the baseline's on every gate surface (terminal, summary.md,
junit.xml, report.html), from answers the fake OpenAI server cuts at max_tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import write
from tests.fake_openai import FakeOpenAI

N = 10
LONG: set[int] = set()  # the cases whose answer runs past max_tokens


def answer(body: dict[str, Any]) -> str:
    n = int(body["messages"][-1]["content"].split()[-1])
    return f"answer {n} and then a great many more words" if n in LONG else f"answer {n}"


def setup(root: Path, url: str) -> None:
    cases = "\n".join(f"  - {{id: c{i}, vars: {{n: {i}}}, reference: 'answer {i}'}}" for i in range(N))
    write(
        root / "s.yaml",
        f'name: num\nprompt: "number {{{{ n }}}}"\nparams: {{max_tokens: 4}}\nscorers: [exact]\ncases:\n{cases}\n',
    )
    write(
        root / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: '{url}', model: m}}\nvariants:\n  v: {{provider: api}}\n",
    )


def test_the_truncation_rate_is_shown_against_the_baselines(workdir: Path, cli: Any) -> None:
    with FakeOpenAI(responder=answer) as server:
        setup(workdir, server.url)
        LONG.clear()
        assert cli("run", "s.yaml", "-o", "a", "--no-baseline").exit_code == 0
        assert cli("baseline", "save", "a").exit_code == 0
        LONG.update({1, 2, 3})
        try:
            result = cli("run", "s.yaml", "-o", "b", "--no-cache")
        finally:
            LONG.clear()
    assert result.exit_code == 0, result.output  # 3 of 10 pass → fail: not significant (p = 0.25)
    words = "truncated answers: 0.0% (0 of 10) in the baseline → 30.0% (3 of 10) (+30.0 pp)"
    assert words in " ".join(result.output.split())
    run = workdir / "b"
    assert words in (run / "summary.md").read_text()
    assert words in (run / "junit.xml").read_text()
    assert words in (run / "report.html").read_text()
    diff = json.loads((run / "diff.json").read_text())
    assert diff["groups"][0]["truncation"] == {
        "baseline_truncated": 0,
        "baseline_generated": 10,
        "candidate_truncated": 3,
        "candidate_generated": 10,
    }
    summary = json.loads((run / "summary.json").read_text())
    assert summary["groups"][0]["truncation_rate"] == 0.3  # the same count as the summary's
    # a baseline saved before finish reasons were kept: the rate now, and why there is no other
    path = workdir / "baselines" / "num" / "v.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert {x["finish_reason"] for x in lines} == {"stop"}
    old = [{k: v for k, v in x.items() if k != "finish_reason"} for x in lines]
    path.write_text("".join(json.dumps(x) + "\n" for x in old))
    with FakeOpenAI(responder=answer) as server:
        setup(workdir, server.url)
        LONG.update({1, 2, 3})
        try:
            again = cli("run", "s.yaml", "-o", "c", "--no-cache")
        finally:
            LONG.clear()
    text = "truncated answers: 30.0% (3 of 10); the baseline kept no finish reasons"
    assert text in " ".join(again.output.split()) and text in (workdir / "c" / "summary.md").read_text()
