from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

N_CASES = 24


def scripted_config(wrong: set[int] = frozenset(), extra: str = "") -> str:  # type: ignore[assignment]
    """A scripted model that answers case qI with 'answer I', except the cases in `wrong`."""
    answers = ", ".join(f"q{i}: '{'no idea' if i in wrong else f'answer {i}'}'" for i in range(N_CASES))
    return (
        "providers:\n"
        f"  canned: {{type: scripted, answers: {{{answers}}}}}\n"
        "variants:\n"
        "  base: {provider: canned}\n"
        "cache: {enabled: false}\n"
        "history: {enabled: false}\n" + extra
    )


def suite_yaml(name: str = "qa", n: int = N_CASES) -> str:
    cases = "\n".join(
        f"  - {{id: q{i}, vars: {{n: {i}}}, reference: 'answer {i}', tags: [{'even' if i % 2 == 0 else 'odd'}]}}"
        for i in range(n)
    )
    return f'name: {name}\nprompt: "What is number {{{{ n }}}}?"\nscorers: [exact]\ncases:\n{cases}\n'


@pytest.fixture
def eval_project(pytester: pytest.Pytester) -> Path:
    """A project folder with evalkit.yaml (a scripted model) and suites/qa.yaml, as the cwd."""
    root = pytester.path
    (root / "suites").mkdir()
    (root / "suites" / "qa.yaml").write_text(suite_yaml(), encoding="utf-8")
    (root / "evalkit.yaml").write_text(scripted_config(), encoding="utf-8")
    return root


def bless(root: Path) -> None:
    """A run of the current config blessed as ./baselines, by the CLI in a subprocess: modules
    imported while pytester is active are unloaded after the test (numpy cannot load twice)."""
    for args in (
        ["run", "suites", "-o", "runs/blessed", "--no-baseline"],
        ["baseline", "save", "runs/blessed", "--to", "baselines"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "evalkit", *args], cwd=root, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


def traced_system(messages: list[dict[str, Any]], params: dict[str, Any], options: dict[str, Any]) -> Any:
    """A `python` system that returns a trace: a retrieval, a model call and a tool call."""
    question = messages[-1]["content"]
    return {
        "output": f"answer to {question}",
        "usage": {"input_tokens": 12, "output_tokens": 5},
        "steps": [
            {"id": "r1", "type": "retrieval", "name": "search", "input": question, "latency_ms": 3.0},
            {"id": "m1", "type": "llm", "name": "planner-model", "latency_ms": 20.0, "tokens": 17},
            {"id": "t1", "type": "tool", "name": "lookup", "input": {"q": question}, "latency_ms": 5.0},
        ],
    }


class OtlpReceiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1 that decodes what arrives (protobuf or JSON)
    into ExportTraceServiceRequest messages, with the headers each request carried."""

    def __init__(self, status: int = 200) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from google.protobuf import json_format
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        self.requests: list[tuple[dict[str, str], Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    message = json_format.Parse(body, ExportTraceServiceRequest())
                else:
                    message = ExportTraceServiceRequest.FromString(body)
                receiver.requests.append((dict(self.headers), message))
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """Every span received, with its resource's attributes."""
        out = []
        for _, message in self.requests:
            for rs in message.resource_spans:
                resource = {a.key: attr_value(a.value) for a in rs.resource.attributes}
                out.extend((resource, span) for ss in rs.scope_spans for span in ss.spans)
        return out

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def attr_value(value: Any) -> Any:
    """An OTLP AnyValue as a Python value."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [attr_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def attributes(span: Any) -> dict[str, Any]:
    return {a.key: attr_value(a.value) for a in span.attributes}


@pytest.fixture
def otlp() -> Any:
    receiver = OtlpReceiver()
    yield receiver
    receiver.stop()


class FakeGitHub:
    """GitHub's issue-comments REST API on 127.0.0.1 (list with Link pagination, create, edit),
    answering 401 to any request without the expected bearer token."""

    def __init__(self, token: str, existing: int = 0, per_page_cap: int = 100) -> None:
        import json
        import re
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlparse

        self.comments: list[dict[str, Any]] = [
            {"id": 1000 + i, "body": f"a reviewer's comment {i}", "user": {"login": "someone"}}
            for i in range(existing)
        ]
        self.calls: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, data: Any, link: str = "") -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if link:
                    self.send_header("Link", link)
                self.end_headers()
                self.wfile.write(payload)

            def _authorized(self) -> bool:
                fake.calls.append((self.command, self.path))
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self._reply(401, {"message": "Bad credentials"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                url = urlparse(self.path)
                query = parse_qs(url.query)
                per_page = min(int(query.get("per_page", ["30"])[0]), per_page_cap)
                page = int(query.get("page", ["1"])[0])
                chunk = fake.comments[(page - 1) * per_page : page * per_page]
                link = ""
                if page * per_page < len(fake.comments):
                    base = f"http://127.0.0.1:{fake.server.server_port}{url.path}"
                    link = f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"'
                self._reply(200, chunk, link)

            def _body(self) -> str:
                data = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                return str(data["body"])

            def do_POST(self) -> None:
                if not self._authorized():
                    return
                assert re.fullmatch(r"/repos/acme/app/issues/7/comments", self.path)
                comment = {
                    "id": 5000 + len(fake.comments),
                    "body": self._body(),
                    "user": {"login": "github-actions[bot]"},
                }
                fake.comments.append(comment)
                self._reply(201, comment)

            def do_PATCH(self) -> None:
                if not self._authorized():
                    return
                comment_id = int(self.path.rsplit("/", 1)[1])
                comment = next(c for c in fake.comments if c["id"] == comment_id)
                comment["body"] = self._body()
                self._reply(200, comment)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def mlflow_venv() -> Path | None:
    """The environment with a full `mlflow` (the server): EVALKIT_MLFLOW_VENV, else .venv-mlflow
    beside the repository (.ci/run builds it: mlflow pins pyarrow < 26, which evalkit's tested
    set cannot hold, so the server lives in its own environment, like a real tracking server)."""
    root = Path(__file__).resolve().parents[2]
    given = os.environ.get("EVALKIT_MLFLOW_VENV")
    venv = Path(given) if given else root / ".venv-mlflow"
    return venv if (venv / "bin" / "mlflow").exists() else None


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend and proxied artifacts."""

    def __init__(self, venv: Path, folder: Path) -> None:
        import socket
        import time
        import urllib.request

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.venv = venv
        self.url = f"http://127.0.0.1:{port}"
        self.log = (folder / "mlflow-server.log").open("w")
        self.proc = subprocess.Popen(
            [
                str(venv / "bin" / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backend-store-uri",
                f"sqlite:///{folder / 'mlflow.db'}",
                "--artifacts-destination",
                str(folder / "artifacts"),
                "--workers",
                "1",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env={**os.environ, "MLFLOW_TRACKING_URI": ""},
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(
            f"mlflow server did not start: {(folder / 'mlflow-server.log').read_text()[-2000:]}"
        )

    def query(self, code: str) -> Any:
        """Run `code` with MLflow's own client (in the server's environment); it prints JSON."""
        import json

        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "MLFLOW_TRACKING_URI": self.url},
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    venv = mlflow_venv()
    if venv is None:
        if os.environ.get("EVALKIT_REQUIRE_MLFLOW"):
            pytest.fail("no mlflow environment (.venv-mlflow or EVALKIT_MLFLOW_VENV): .ci/run builds it")
        pytest.skip(
            "no mlflow server environment: python -m venv .venv-mlflow && .venv-mlflow/bin/pip install mlflow==3.17.2"
        )
    server = MlflowServer(venv, tmp_path_factory.mktemp("mlflow"))
    yield server
    server.stop()
