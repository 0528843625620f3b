"""The getting-started page's sample output is what a fresh `evalkit run` prints today (issue 14.17).

The run is the real command on the bundled smoke suite and the shipped baseline; only the model
is replaced by a replay of the baseline's own outputs (greedy decoding on the embedded model
gives exactly those), so the test is fast. Numbers are masked: the shape is compared - every
line, every table row label, every verdict word."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import write

ROOT = Path(__file__).resolve().parents[2]
PATHS = ("Results in", "history: recorded in the history")
STATUS = re.compile(r"^\s+(preparing|starting|generating batch) ")


def replay(messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The embedded model's recorded answer; one cut off mid-sentence at max_tokens is a `length`
    finish, as the model's run reported it (the baseline keeps no finish reasons)."""
    answer = options["answers"][messages[-1]["content"]]
    cut = answer["output_tokens"] >= params["max_tokens"] and not answer["text"].rstrip().endswith(
        (".", "!", "?")
    )
    return {"text": answer["text"], "finish_reason": "length" if cut else "stop"}


def shape(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line.strip() or line.startswith("$ ") or STATUS.match(line):
            continue  # the prompt; status lines a terminal shows inside the progress bar
        if out and out[-1].startswith(PATHS) and " " not in line:
            continue  # the rest of a long (temporary) path, wrapped
        if line.startswith(PATHS):
            out.append(next(p for p in PATHS if line.startswith(p)))  # where: differs per machine
        elif "━" in line and "/" in line:
            out.append("PROGRESS")
        elif line[:1] in "┏┡└┌├╞":
            out.append("RULE")
        elif line[:1] in "│┃":
            out.append("ROW " + line[1:].split(line[0])[0].strip())  # the row's label
        else:
            masked = re.sub(r"\d{8}-\d{6}-[0-9a-f]{4}", "RUN", line)
            out.append(" ".join(re.sub(r"[\d.,]+", "#", masked).split()))
    return out


def readme_sample() -> str:
    page = (ROOT / "docs" / "getting-started.md").read_text()
    return re.search(r"## What a run looks like\n.*?```\w*\n(\$ evalkit run\n.*?)\n```", page, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_sample_is_what_a_fresh_run_prints(workdir: Path, cli) -> None:
    shutil.copytree(ROOT / "baselines", workdir / "baselines")
    records = [json.loads(x) for x in (workdir / "baselines/smoke/default.jsonl").read_text().splitlines()]
    cases = {c["id"]: c for c in _smoke_cases()}
    answers = {
        cases[r["case_id"]]["vars"]["question"]: {"text": r["output"], "output_tokens": r["output_tokens"]}
        for r in records
    }
    write(
        workdir / "evalkit.yaml",
        "providers:\n  local:\n    type: python\n    callable: 'tests.cli.test_readme_sample:replay'\n"
        f"    options: {{answers: {json.dumps(answers)}}}\n",
    )
    result = cli("run")
    assert result.exit_code == 0, result.output
    assert shape(result.output) == shape(readme_sample())


def _smoke_cases() -> list[dict[str, Any]]:
    import yaml

    return list(yaml.safe_load((ROOT / "evalkit" / "bundled" / "smoke.yaml").read_text())["cases"])
