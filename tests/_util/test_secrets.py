"""Secrets never leave the process, and scrubbing never alters real data (through the real CLI
against the fake server on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit._util import secrets
from tests.conftest import write
from tests.fake_openai import FakeOpenAI, Fault
from tests.helpers.processes import evalkit, lines


@pytest.fixture(autouse=True)
def forget_secrets() -> Iterator[None]:
    yield
    with secrets._lock:
        secrets._known.clear()
        secrets._refresh_needles()
    secrets.take_warnings()


def test_short_or_common_values_are_not_secrets_and_say_so() -> None:
    assert not secrets.register("1234", "the key in K") and not secrets.register("null", "the key in N")
    warnings = secrets.take_warnings()
    assert len(warnings) == 2 and "the key in K is only 4 character(s)" in warnings[0]
    data = {"output": "1234 null", "n": None, "list": ["null"]}
    assert secrets.scrub_data(data) == data
    secrets.register_url("http://h/v1?api-version=2024-06-01")  # not a secret-looking key
    assert secrets.scrub("released 2024-06-01") == "released 2024-06-01"


def test_scrubbing_is_structural_and_keeps_json_valid() -> None:
    key = 'sk-"quoted\\key-0123456789'
    secrets.register(key)
    text = json.dumps({"output": f"leaked {key}!", "k": 1})
    assert key not in text  # escaped in the JSON text: a text replacement would miss it
    scrubbed = secrets.scrub_json_text(text)
    assert json.loads(scrubbed) == {"output": "leaked ***!", "k": 1}


def test_derived_forms_of_a_url_password_are_secrets() -> None:
    secrets.register_url("https://alice:p%40ss-w0rd-xyz@host/v1?token=tok-123456789&api-version=2024-06-01")
    basic = base64.b64encode(b"alice:p@ss-w0rd-xyz").decode()
    text = f"p@ss-w0rd-xyz p%40ss-w0rd-xyz Basic {basic} tok-123456789 2024-06-01"
    assert secrets.scrub(text) == "*** *** Basic *** *** 2024-06-01"


def suite(path: Path, extra_case: str = "") -> Path:
    cases = "\n".join(
        f"  - {{id: c{i}, vars: {{q: 'order 1234 null on 2024-06-01 #{i}'}}}}" for i in range(4)
    )
    return write(
        path,
        'name: s\nprompt: "{{ q }}"\nscorers:\n  - {type: contains, text: "1234 null on 2024-06-01"}\n'
        f"thresholds: {{contains: {{min: 1.0}}}}\ncases:\n{cases}\n{extra_case}",
    )


@pytest.mark.parametrize("key", ["1234", "null"])
def test_a_dummy_key_corrupts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """A dummy key `1234` (or `null`) and an `api-version=2024-06-01` query value used to turn
    outputs, prompts, run.json and the cache into `***` (with `null`: invalid JSON lines)."""
    monkeypatch.setenv("DUMMY_KEY", key)
    suite(tmp_path / "s.yaml")
    with FakeOpenAI(api_key=key) as server:
        url = f"{server.url}?api-version=2024-06-01"
        write(
            tmp_path / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{url}', model: m, api_key_env: DUMMY_KEY}}\n",
        )
        first = evalkit(tmp_path, "run", "s.yaml", "--out", "a", "--no-baseline")
        second = evalkit(tmp_path, "run", "s.yaml", "--out", "b", "--no-baseline")  # from the cache
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0, second.stdout + second.stderr
    assert "too short to tell from ordinary text" in first.stderr
    for run in ("a", "b"):
        rows = lines(tmp_path / run / "results.jsonl")
        assert all("1234 null on 2024-06-01" in r["output"] for r in rows)
        assert all("1234 null on 2024-06-01" in r["messages"][-1]["content"] for r in rows)
        run_json = json.loads((tmp_path / run / "run.json").read_text())
        assert "api-version=2024-06-01" in json.dumps(run_json)
    assert all(r["cached"] for r in lines(tmp_path / "b" / "results.jsonl"))
    cache = b"".join(p.read_bytes() for p in Path(os.environ["EVALKIT_CACHE_DIR"]).rglob("*.sqlite*"))
    assert b"1234 null on 2024-06-01" in cache


def test_error_text_is_scrubbed_before_it_is_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2 + "XyZ"  # 51 characters
    monkeypatch.setenv("LONG_KEY", key)
    suite(tmp_path / "s.yaml")
    with FakeOpenAI(api_key=key) as server:
        write(
            tmp_path / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{server.url}', model: m, api_key_env: LONG_KEY, "
            "max_attempts: 1}\nrun: {max_error_rate: 1.0}\n",
        )
        message = "x" * 190 + f" your key {key} is over quota"
        server.add_fault(Fault(status=400, body=json.dumps({"error": {"message": message}}), match="#1"))
        result = evalkit(tmp_path, "run", "s.yaml", "--out", "out", "--no-baseline")
    rows = lines(tmp_path / "out" / "results.jsonl")
    errors = [r["error"] for r in rows if r["error"]]
    assert len(errors) == 1 and errors[0].startswith("HTTP 400: xxx"), errors
    text = (tmp_path / "out" / "results.jsonl").read_text() + result.stdout + result.stderr
    assert key[:8] not in text  # not even a prefix: 'sk-proj-…' was cut, then missed by the scrubber


def test_url_password_and_its_basic_form_never_leave(tmp_path: Path) -> None:
    password = "hunter2-pa55word"
    basic = base64.b64encode(f"bob:{password}".encode()).decode()
    suite(tmp_path / "s.yaml")
    with FakeOpenAI() as server:
        url = server.url.replace("http://", f"http://bob:{password}@")
        write(
            tmp_path / "evalkit.yaml",
            f"providers:\n  api: {{type: openai, base_url: '{url}', model: m, max_attempts: 1}}\n"
            "run: {max_error_rate: 1.0}\n",
        )
        server.add_fault(Fault(echo_request=True, match="#2"))  # an error that repeats the headers
        result = evalkit(tmp_path, "run", "s.yaml", "--out", "out", "--no-baseline")
        assert server.headers_seen[0]["Authorization"] == f"Basic {basic}"  # the password was used
    rows = lines(tmp_path / "out" / "results.jsonl")
    assert any(r["error"] and "Authorization" in r["error"] for r in rows)
    blobs = {"stdout": result.stdout, "stderr": result.stderr}
    for path in [*(tmp_path / "out").iterdir(), *Path(os.environ["EVALKIT_CACHE_DIR"]).rglob("*")]:
        if path.is_file():
            blobs[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert any("report.html" in name for name in blobs) and any("summary.json" in n for n in blobs)
    for name, text in blobs.items():
        for secret in (password, basic):
            assert secret not in text, f"{secret} leaked into {name}"


def test_a_key_spelt_like_a_field_name_never_breaks_a_line() -> None:
    from evalkit.types import CaseResult, Message

    secrets.register("messages")  # a dummy key that happens to be a field name
    row = CaseResult(
        suite="s", case_id="c", variant="v", repeat=0, provider="p",
        messages=[Message(role="user", content="my messages")], output="messages",
    )  # fmt: skip
    line = secrets.scrub_json_text(row.model_dump_json())
    back = CaseResult.model_validate_json(line)
    assert back.output == "***" and back.messages[0].content == "my ***"


def test_every_query_value_of_a_url_is_secret_unless_plain(
    workdir: Path, cli, fake_server: FakeOpenAI, isolated_cache: Path
) -> None:
    """Azure Functions' `?code=` (and `pwd=`, `session=`) were stored in clear: only values of
    keys on a list were secret. Now every query value is, but for plain settings (api-version)."""
    url = f"{fake_server.url}?code=azfunc-code-0123456789&pwd=pwd-0123456789&api-version=2024-06-01"
    write(workdir / "evalkit.yaml", f"providers:\n  api: {{type: openai, base_url: '{url}', model: m}}\n")
    write(
        workdir / "s.yaml",
        'name: s\nprompt: "{{ q }}"\nscorers: [exact]\ncases:\n  - {id: c0, vars: {q: hi}, reference: x}\n',
    )
    result = cli("run", "s.yaml", "-o", "out", "--no-baseline")
    assert result.exit_code == 0, result.output
    written = [p for p in (workdir / "out").iterdir() if p.is_file()] + list(isolated_cache.rglob("*"))
    blob = b"".join(p.read_bytes() for p in written if p.is_file()) + result.output.encode()
    assert b"azfunc-code-0123456789" not in blob and b"pwd-0123456789" not in blob
    assert b"api-version=2024-06-01" in (workdir / "out" / "run.json").read_bytes()
    assert secrets.redact_url("https://h/f?code=abc&session=s1&api-version=1") == (
        "https://h/f?code=***&session=***&api-version=1"
    )


def test_a_history_url_password_stays_out_of_run_json_and_the_terminal(
    workdir: Path, cli, fake_server: FakeOpenAI
) -> None:
    history = "postgresql+psycopg://alice:histpass-0123456789@127.0.0.1:9/db?password=qpass-0123456789"
    write(
        workdir / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: '{fake_server.url}', model: m}}\n"
        f"history: {{url: '{history}'}}\n",
    )
    write(
        workdir / "s.yaml",
        'name: s\nprompt: "{{ q }}"\nscorers: [exact]\ncases:\n  - {id: c0, vars: {q: hi}, reference: x}\n',
    )
    result = cli("run", "s.yaml", "-o", "out", "--no-baseline")
    assert "127.0.0.1:9" in result.output  # the history is named, unreachable
    run_json = (workdir / "out" / "run.json").read_text()
    for secret in ("histpass-0123456789", "qpass-0123456789"):
        assert secret not in run_json and secret not in result.output
