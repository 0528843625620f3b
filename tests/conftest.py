from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fake_anthropic import FakeAnthropic
from tests.fake_bedrock import FakeBedrock
from tests.fake_gemini import FakeGemini
from tests.fake_openai import FakeOpenAI

pytest_plugins = ("pytester",)  # the pytest plugin is tested through its own fixture

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# `evaluate` copies metric modules here (read once, when it is imported): not ~/.cache/huggingface
os.environ.setdefault("HF_MODULES_CACHE", tempfile.mkdtemp(prefix="evalkit-test-hf-modules-"))
os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="evalkit-test-matplotlib-"))  # bert-score
# The user's real home, recorded before any test runs: no test may write under it.
REAL_HOME = Path.home()
# Converted models are shared across tests (and runs) in the repository's ignored build/ folder,
# so the one-time conversion is not repeated per test; everything else lives in a temporary HOME.
os.environ.setdefault(
    "EVALKIT_MODELS_DIR", str(Path(__file__).resolve().parents[1] / "build" / "test-models")
)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME, XDG cache and evalkit cache (the response cache, RAG indexes)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    path = tmp_path_factory.mktemp("evalkit-cache")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(path))
    return path


QA = {
    "What is the capital of France?": "Paris",
    "What is 2 + 2?": "4",
    "What colour is the sky?": "blue",
    "Who wrote Hamlet?": "William Shakespeare",
    "What is the largest planet?": "Jupiter",
    "What is the chemical symbol for gold?": "Au",
}


def qa_responder(body: dict[str, Any]) -> str:
    """good-model answers from QA; bad-model answers wrongly; others echo."""
    question = body["messages"][-1]["content"].strip()
    model = body.get("model", "")
    if model.startswith("bad"):
        return "I am not sure."
    return QA.get(question, f"echo: {question}")


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(responder=qa_responder).start()
    yield server
    server.stop()


ANTHROPIC_KEY = "sk-ant-api03-test-key-0123456789abcdef"


@pytest.fixture
def fake_anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """A fake Messages API that takes only ANTHROPIC_KEY, which the environment holds."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    with FakeAnthropic(api_key=ANTHROPIC_KEY) as fake:
        yield fake


GEMINI_KEY = "AIzaSyD-test-key-0123456789abcdefghij"


@pytest.fixture
def fake_gemini(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGemini]:
    """A fake Gemini API that takes only GEMINI_KEY, which the environment holds."""
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    with FakeGemini(api_key=GEMINI_KEY) as fake:
        yield fake


# AWS's documented example credentials (and a session token in the shape of STS's)
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQDtestSessionToken0123456789"
AWS_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


@pytest.fixture
def fake_bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBedrock]:
    """A fake Bedrock Runtime that takes only the AWS_* credentials the environment holds (the
    standard chain's first link); no instance metadata is asked for."""
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_TOKEN)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with FakeBedrock(credentials={AWS_KEY_ID: (AWS_SECRET, AWS_TOKEN)}) as fake:
        yield fake


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# a number in scientific notation, as a token (1e-05, 4.2E+3); run ids (20261207-153750-4e3b) and
# hashes hold such letters and digits without being numbers, and are not matched
_SCIENTIFIC = re.compile(r"(?<![\w.-])[-+]?\d+(?:\.\d+)?[eE][+-]?\d+(?!\w|\.\d)")
_RUN_ID = re.compile(r"\b\d{8}-\d{6}-[0-9a-f]+\b")


def scientific(text: str) -> list[str]:
    """The numbers in `text` written in scientific notation (none is the rule for what people read)."""
    return _SCIENTIFIC.findall(_RUN_ID.sub("", text))


def probe_run(tmp_path: Path, looks: str, *options: str) -> subprocess.CompletedProcess[str]:
    """`evalkit run` of one case whose scripted answer first runs `looks` (Python lines, at the
    provider's first request: what the process holds then, e.g. written to a file)."""
    body = "".join(f"    {line}\n" for line in looks.splitlines())
    (tmp_path / "probe.py").write_text(f"def respond(request):\n{body}    return 'ok'\n")
    (tmp_path / "evalkit.yaml").write_text(
        "providers:\n  p: {type: scripted, respond: 'probe:respond'}\nvariants:\n  v: {provider: p}\n"
    )
    (tmp_path / "suite.yaml").write_text(
        'name: s\nprompt: "{{ q }}"\nscorers: [exact]\ncases:\n  - {id: a, vars: {q: x}, reference: ok}\n'
    )
    return subprocess.run(
        [sys.executable, "-m", "evalkit", "run", "suite.yaml", "--out", "out", *options],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def slow_run(folder: Path, url: str, **env: str) -> subprocess.Popen[str]:
    """`evalkit run` of 40 cases at concurrency 2 against the (slow) fake server at `url`, started
    in `folder` as its own process: a run to interrupt. `env`: more environment variables."""
    cases = "\n".join(
        f"  - {{id: c{i}, vars: {{q: 'question {i}'}}, reference: 'echo: question {i}'}}" for i in range(40)
    )
    write(folder / "s.yaml", f'name: slow\nprompt: "{{{{ q }}}}"\nscorers: [exact]\ncases:\n{cases}\n')
    write(
        folder / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: '{url}', model: m, concurrency: 2}}\n",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit", "run", "s.yaml", "--out", "out"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def scratch_left(tmp: Path) -> list[str]:
    """What scratch files and folders are left in the temporary folder `tmp`, by name: the
    per-user and per-process scratch folders (`_util.scratch`), and a live process's lock, are
    not counted."""
    from evalkit._util.scratch import LOCK

    folders = {p for p in tmp.glob("evalkit-*/*-*") if p.is_dir()} | set(tmp.glob("evalkit-*"))
    return sorted(p.name for p in tmp.rglob("*") if p not in folders and p.name != LOCK)


def wait_for_lines(path: Path, n: int, timeout_s: float = 60) -> None:
    """Until `path` holds at least n lines (or `timeout_s` passed)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not (path.exists() and len(path.read_text().splitlines()) >= n):
        time.sleep(0.05)


def pairwise_responder(body: dict[str, Any]) -> str:
    """The fake server's answers for `pairwise_judge_files`: the judge prefers the first answer."""
    import json

    if body["model"] == "judge":
        return json.dumps({"reasoning": "first is better", "winner": "A"})
    return f"echo: {body['messages'][-1]['content']}"


def pairwise_judge_files(folder: Path, url: str) -> None:
    """evalkit.yaml (variants new and old, a judge provider) and s.yaml (a pairwise judge of new
    against old, a deferred scorer) in `folder`, against the fake server at `url`."""
    write(
        folder / "evalkit.yaml",
        f"providers:\n  api: {{type: openai, base_url: '{url}', model: m}}\n"
        f"  grader: {{type: openai, base_url: '{url}', model: judge}}\n"
        "variants:\n  new: {provider: api}\n  old: {provider: api, model: m-old}\n",
    )
    write(
        folder / "s.yaml",
        'name: pw\nprompt: "{{ q }}"\nscorers:\n  - {type: judge, provider: grader, mode: pairwise, '
        "name: vs_old, against: old}\ncases:\n  - {id: c0, vars: {q: q0}}\n  - {id: c1, vars: {q: q1}}\n",
    )


def calibrated_suite_files(folder: Path, url: str) -> None:
    """suites/s.yaml (4 cases, `tests.helpers.processes.suite`) calibrated by ../cal.jsonl (one
    label: c1 fails) and evalkit.yaml against the fake server at `url`: labels are merged into
    results.jsonl as the run concludes."""
    from tests.helpers.processes import config, suite

    suite(folder / "suites" / "s.yaml", 4)
    text = (folder / "suites" / "s.yaml").read_text()
    write(folder / "suites" / "s.yaml", text.replace("scorers:", "calibration: ../cal.jsonl\nscorers:"))
    write(folder / "cal.jsonl", '{"suite": "rel", "case": "c1", "labeller": "ann", "verdict": "fail"}\n')
    config(folder / "evalkit.yaml", url)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def qa_suite_yaml(name: str = "qa", scorers: str = "[exact, rouge, bleu, chrf]", extra: str = "") -> str:
    cases = "\n".join(
        f'  - id: q{i}\n    vars: {{question: "{q}"}}\n    reference: "{a}"\n    tags: [t{i % 2}]'
        for i, (q, a) in enumerate(QA.items())
    )
    return f'name: {name}\nprompt: "{{{{ question }}}}"\nparams: {{max_tokens: 16, temperature: 0}}\nscorers: {scorers}\n{extra}cases:\n{cases}\n'


def two_variant_config(url: str, extra_provider: str = "") -> str:
    return textwrap.dedent(
        f"""
        providers:
          api:
            type: openai
            base_url: {url}
            model: good-model
            pricing: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
            {extra_provider}
        variants:
          good: {{provider: api, params: {{temperature: 0, max_tokens: 32}}}}
          bad: {{provider: api, model: bad-model}}
        """
    ).lstrip("\n")


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Any:
        from evalkit.cli.app import app

        return self.runner.invoke(app, list(args), catch_exceptions=True)


@pytest.fixture
def cli() -> Cli:
    return Cli()


def evalkit_process(cwd: Path, *args: str) -> subprocess.Popen[str]:
    """`evalkit ARGS` as a real second process (its own interpreter, its own locks)."""
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """The one real local Ray cluster of a test session: 2 CPUs, and 2 "GPUs" (Ray accepts the
    resource on a CPU-only machine, which shows which device each replica is given)."""
    ray = pytest.importorskip("ray")
    saved = os.environ.get("EVALKIT_CACHE_DIR")
    os.environ["EVALKIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="evalkit-test-ray-")  # workers inherit it
    # on 127.0.0.1 only, for this session only: no auth token written under $HOME
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        ray.init(
            num_cpus=2,
            num_gpus=2,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
            _temp_dir=tempfile.mkdtemp(prefix="evalkit-test-ray-tmp-"),
        )
    finally:
        if saved is None:
            os.environ.pop("EVALKIT_CACHE_DIR", None)
        else:
            os.environ["EVALKIT_CACHE_DIR"] = saved
    yield ray
    ray.shutdown()
