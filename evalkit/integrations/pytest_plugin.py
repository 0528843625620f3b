"""The pytest plugin (entry point `pytest11`): `pytest --evalkit suites/` makes every case ×
variant (× repeat) of each suite a pytest item, so `-k`, `-x`, `-m TAG`, `--junitxml` and
pytest-xdist work as people expect, and adds one session-level item, `evalkit-gate`, that fails
when the run regressed against its baselines (or broke a threshold or the error budget).

The run still goes to a run directory (reports/<run-id>/ or --evalkit-out), joined into one under
pytest-xdist, so `evalkit report`, `baseline save` and the history work on it. Without --evalkit
(or `evalkit = true` in the ini file) the plugin does nothing and imports nothing of evalkit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from evalkit.integrations.stepwise import Executor
    from evalkit.stages.pipeline import Prepared, RunOptions, RunOutcome
    from evalkit.types import CaseResult, Request

GATE = "evalkit-gate"
SESSION: pytest.StashKey[EvalkitSession] = pytest.StashKey()
OUTPUT_LIMIT = 2_000  # characters of an output shown in a failure


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalkit", "evalkit: suites as tests")
    group.addoption("--evalkit", action="store_true", help="Collect evalkit suites (.yaml) as tests.")
    group.addoption("--evalkit-config", type=Path, help="evalkit.yaml (default: ./evalkit.yaml).")
    group.addoption("--evalkit-variant", action="append", default=[], help="Only this variant (repeatable).")
    group.addoption("--evalkit-out", type=Path, help="The run directory (default: reports/<run-id>).")
    group.addoption("--evalkit-baseline", type=Path, help="Baselines folder (default: ./baselines).")
    group.addoption("--evalkit-no-baseline", action="store_true", help="Do not gate against baselines.")
    group.addoption("--evalkit-repeats", type=int, help="Run each case N times.")
    group.addoption("--evalkit-no-cache", action="store_true", help="Call the models even when cached.")
    group.addoption(
        "--evalkit-batch",
        type=int,
        default=16,
        help="Requests sent together (default 16; -x stops after one).",
    )
    parser.addini("evalkit", type="bool", default=False, help="Collect evalkit suites as tests.")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("evalkit") or config.getini("evalkit"):
        config.addinivalue_line("markers", "evalkit: an evalkit case or its gate")
        state = EvalkitSession(config)
        config.stash[SESSION] = state
        config.pluginmanager.register(state, "evalkit-session")


class CaseFailed(Exception):
    """A case that did not pass (its message is the failure pytest shows)."""


class SuiteFile(pytest.File):
    def collect(self) -> list[pytest.Item]:
        session = self.config.stash[SESSION]
        return [CaseItem.from_request(self, r) for r in session.requests_of(self.path)]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from evalkit.errors import EvalkitError

        if isinstance(excinfo.value, EvalkitError):
            return str(excinfo.value)  # file and line, no traceback
        return super().repr_failure(excinfo)


class CaseItem(pytest.Item):
    request: Request

    @classmethod
    def from_request(cls, parent: SuiteFile, request: Request) -> CaseItem:
        session = parent.config.stash[SESSION]
        repeat = f"-r{request.repeat}" if session.repeated(request.suite) else ""
        item: CaseItem = cls.from_parent(parent, name=f"{request.case_id}[{request.variant}{repeat}]")
        item.request = request
        item.add_marker("evalkit")
        for tag in session.tags_of(request):
            item.add_marker(tag)
        return item

    def runtest(self) -> None:
        session = self.config.stash[SESSION]
        result = session.result_for(self)
        for name, score in sorted(result.scores.items()):
            self.user_properties.append((name, score.value))
        why = session.failure(result)
        if why is not None:
            raise CaseFailed(why)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from evalkit.errors import EvalkitError

        if isinstance(excinfo.value, CaseFailed | EvalkitError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"evalkit case {self.request.key}"


class GateItem(pytest.Item):
    """The run's verdict: concludes the run and fails on a regression, threshold or error budget."""

    def runtest(self) -> None:
        session = self.config.stash[SESSION]
        outcome = session.conclude()
        if outcome is None:
            pytest.skip("no evalkit case ran in this session")
        if outcome.summary.exit_code != 0:
            raise CaseFailed(gate_message(outcome))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[str, int | None, str]:
        return GATE, None, "evalkit gate against the baselines"


def gate_message(outcome: RunOutcome) -> str:
    s = outcome.summary
    lines = [f"evalkit run {s.run_id}: {s.status} (exit {s.exit_code}) · {outcome.run_dir}"]
    lines += [f"regressed: {r}" for r in s.regressions]
    lines += [
        f"threshold: {g.suite} · {g.variant} · {t.reason}"
        for g in s.groups
        for t in g.thresholds
        if not t.passed
    ]
    if s.status == "errors":
        lines.append(f"errors: {s.errors} of {s.results} results ({s.error_budget})")
    return "\n".join(lines)


class EvalkitSession:
    """The plugin's state in one pytest process (the controller, a worker or a plain session)."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.suite_files: list[Path] = []
        self.suites: list[Any] = []  # the collected suites, loaded once
        self.suite_meta: dict[str, tuple[int, dict[str, list[str]]]] = {}  # name → repeats, case tags
        self.selected: list[str] = []  # request keys, in the order pytest runs them
        self.gate_selected = False
        self.prepared: Prepared | None = None
        self.executor: Executor | None = None
        self.setup_error: BaseException | None = None
        self.outcome: RunOutcome | None = None
        self.from_workers: list[dict[str, Any]] = []
        self.run_dir: Path | None = None
        self._loaded: Any = None
        winput = getattr(config, "workerinput", None)
        self.worker: str | None = winput["workerid"] if winput else None
        if winput is not None:
            self.run_dir = Path(winput["evalkit_run_dir"])

    # ---- options -------------------------------------------------------------------------
    def options(
        self, suites: list[Path], out: Path | None = None, loaded: list[Any] | None = None
    ) -> RunOptions:
        from evalkit.stages.pipeline import RunOptions

        opt = self.config.getoption
        return RunOptions(
            suites=suites,
            loaded_suites=loaded or [],
            config=opt("evalkit_config"),
            variants=opt("evalkit_variant") or [],
            out=out or opt("evalkit_out"),
            overwrite=out is not None,
            repeats=opt("evalkit_repeats"),
            no_cache=opt("evalkit_no_cache"),
            baseline=opt("evalkit_baseline"),
            no_baseline=opt("evalkit_no_baseline"),
        )

    def _distributed(self) -> bool:
        return self.worker is None and bool(getattr(self.config.option, "dist", "no") != "no")

    # ---- collection ----------------------------------------------------------------------
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        from evalkit.spec.config import DEFAULT_CONFIG_NAME

        if file_path.suffix in (".yaml", ".yml") and file_path.name != DEFAULT_CONFIG_NAME:
            return SuiteFile.from_parent(parent, path=file_path)
        return None

    def requests_of(self, path: Path) -> list[Request]:
        from evalkit.spec.config import load_config
        from evalkit.spec.suite import load_suite
        from evalkit.stages.plan import build_plan

        if self._loaded is None:
            self._loaded = load_config(self.config.getoption("evalkit_config"))
        suite = load_suite(path)
        opt = self.config.getoption
        plan = build_plan(self._loaded, [suite], opt("evalkit_variant") or [], opt("evalkit_repeats"))
        self.suite_files.append(path)
        self.suites.append(suite)
        tags = {c.id: list(c.tags) for c in suite.cases}
        self.suite_meta[suite.name] = (plan.repeats.get(suite.name, 1), tags)
        return list(plan.requests())

    def repeated(self, suite: str) -> bool:
        return self.suite_meta[suite][0] > 1

    def tags_of(self, request: Request) -> list[str]:
        tags = [t for t in self.suite_meta[request.suite][1].get(request.case_id, []) if t.isidentifier()]
        for tag in tags:
            self.config.addinivalue_line("markers", f"{tag}: evalkit case tag")
        return tags

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        if any(isinstance(i, CaseItem) for i in items):  # last, and -k / -m may deselect it like any item
            gate = GateItem.from_parent(session, name=GATE)
            gate.add_marker("evalkit")
            items.append(gate)

    @pytest.hookimpl(hookwrapper=True, specname="pytest_collection_modifyitems")
    def pytest_collection_modifyitems_after(self, items: list[pytest.Item]) -> Any:
        yield  # after -k and -m deselected what they deselect
        self.selected = [i.request.key for i in items if isinstance(i, CaseItem)]
        self.gate_selected = any(isinstance(i, GateItem) for i in items)
        if self.worker is not None and self.gate_selected:  # under xdist the controller gives the verdict
            items[:] = [i for i in items if not isinstance(i, GateItem)]

    # ---- running cases -------------------------------------------------------------------
    def result_for(self, item: CaseItem) -> CaseResult:
        executor = self._executor()
        key = item.request.key
        if key not in executor.results:
            executor.run(self._batch(item))
        result = executor.results.get(key)
        if result is None:
            raise CaseFailed(f"{key}: no result (the run stopped before this case finished)")
        return result

    def _executor(self) -> Executor:
        from evalkit.integrations import stepwise
        from evalkit.stages.pipeline import prepare

        if self.setup_error is not None:
            raise self.setup_error
        if self.executor is None:
            try:
                if self.worker is not None:
                    assert self.run_dir is not None
                    self.executor = stepwise.worker_executor(
                        self.options(self.suite_files, loaded=self.suites), self.run_dir, self.worker
                    )
                else:
                    self.prepared = prepare(self.options(self.suite_files, loaded=self.suites))
                    self.run_dir = self.prepared.run_dir
                    no_cache = bool(self.config.getoption("evalkit_no_cache"))
                    self.executor = stepwise.executor_for(self.prepared, "main", no_cache)
            except BaseException as exc:
                self.setup_error = exc
                raise
        return self.executor

    def _batch(self, item: CaseItem) -> list[str]:
        size = max(1, int(self.config.getoption("evalkit_batch")))
        done = self.executor.results if self.executor else {}
        ahead = self._queued_on_worker(item) if self.worker is not None else self._ahead(item)
        keys = [item.request.key] + [k for k in ahead if k not in done and k != item.request.key]
        return keys[:size]

    def _ahead(self, item: CaseItem) -> list[str]:
        start = self.selected.index(item.request.key) if item.request.key in self.selected else 0
        return self.selected[start:]

    def _queued_on_worker(self, item: CaseItem) -> list[str]:
        """The items pytest-xdist has already handed this worker (its queue), so a worker sends
        them together; any surprise in xdist's internals falls back to this item alone."""
        try:
            interactor = next(
                p for p in self.config.pluginmanager.get_plugins() if type(p).__name__ == "WorkerInteractor"
            )
            with interactor.torun.lock() as queued:
                indices = [i for i in queued if isinstance(i, int)]
            items = item.session.items
            return [c.request.key for c in (items[i] for i in indices) if isinstance(c, CaseItem)]
        except Exception:
            return []

    def failure(self, result: CaseResult) -> str | None:
        from evalkit.stages.plan import Plan

        plan: Plan | None = self.executor.plan if self.executor else None
        among = (
            {m.name for m in plan.metrics(result.suite) if m.counts_for_pass} if plan is not None else None
        )
        if result.error is not None:
            return f"{result.key}: error: {result.error}"
        if result.passed(among) is not False:
            return None
        failed = [
            f"  {name} = {s.value}" + (f" ({s.reason})" if getattr(s, "reason", None) else "")
            for name, s in sorted(result.scores.items())
            if s.passed is False and (among is None or name in among)
        ]
        output = (result.output or "")[:OUTPUT_LIMIT]
        return "\n".join([f"{result.key}: did not pass", *failed, f"output: {output!r}"])

    # ---- concluding ----------------------------------------------------------------------
    def conclude(self, interrupted: int | None = None) -> RunOutcome | None:
        """Join the parts and conclude the run once (the gate item, else the session's end)."""
        from evalkit.integrations import stepwise

        if self.outcome is not None or self.prepared is None:
            return self.outcome
        if self.executor is not None:
            self.executor.close()
        timings = self.executor.timings if self.executor else {}
        self.outcome = stepwise.finish(self.prepared, interrupted, timings)
        return self.outcome

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist controller: every worker writes its part into the one run directory."""
        if self.run_dir is None:
            from evalkit.spec.config import load_config
            from evalkit.stages.pipeline import new_run_id

            loaded = load_config(self.config.getoption("evalkit_config"))
            given = self.config.getoption("evalkit_out")
            self.run_dir = (given or loaded.resolve(loaded.config.run.output_dir) / new_run_id()).resolve()
            self.run_dir.mkdir(parents=True, exist_ok=True)
        node.workerinput["evalkit_run_dir"] = str(self.run_dir)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        got = getattr(node, "workeroutput", {}).get("evalkit")
        if got:
            self.from_workers.append(got)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from evalkit.errors import ExitCode

        interrupted = ExitCode.INTERRUPTED if exitstatus == pytest.ExitCode.INTERRUPTED else None
        if self.worker is not None:
            if self.executor is not None:
                self.executor.close()
            session.config.workeroutput["evalkit"] = {  # type: ignore[attr-defined]
                "suites": [str(p) for p in self.suite_files],
                "gate": self.gate_selected,
            }
            return
        if self.from_workers:
            self._conclude_workers(session, interrupted)
        elif self.prepared is not None and self.outcome is None:
            self.conclude(interrupted)  # the gate was deselected, or -x stopped before it

    def _conclude_workers(self, session: pytest.Session, interrupted: int | None) -> None:
        from evalkit.stages.pipeline import prepare

        suites = list(dict.fromkeys(Path(p) for w in self.from_workers for p in w["suites"]))
        assert self.run_dir is not None
        self.prepared = prepare(self.options(suites, out=self.run_dir))
        outcome = self.conclude(interrupted)
        if outcome is not None and any(w["gate"] for w in self.from_workers):
            self._report_gate(session, outcome)

    def _report_gate(self, session: pytest.Session, outcome: RunOutcome) -> None:
        """Under xdist the controller gives the gate's verdict as an item of its own reports."""
        failed = outcome.summary.exit_code != 0
        for when in ("setup", "call", "teardown"):
            report = pytest.TestReport(
                nodeid=GATE,
                location=(GATE, None, "evalkit gate against the baselines"),
                keywords={GATE: 1, "evalkit": 1},
                outcome="failed" if failed and when == "call" else "passed",
                longrepr=gate_message(outcome) if failed and when == "call" else None,
                when=when,
            )
            session.config.hook.pytest_runtest_logreport(report=report)
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.outcome is not None:
            s = self.outcome.summary
            terminalreporter.write_line(
                f"evalkit: {s.results} results · {s.status} · run directory {self.outcome.run_dir}"
            )
