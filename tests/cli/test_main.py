"""evalkit.cli.main and started(): the cyclic collector runs rarely while evalkit starts, and as
usual (with what starting made frozen out of it) once the command's own work begins."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from evalkit._util.collector import THRESHOLDS as RUN_THRESHOLDS
from evalkit.cli import STARTUP_THRESHOLD, started
from tests.conftest import probe_run


def test_a_run_collects_as_it_chose_from_its_first_request(tmp_path: Path) -> None:
    looks = "import gc, json\nwith open('gc.json', 'w') as fh:\n    json.dump([gc.get_threshold(), gc.get_freeze_count()], fh)"
    proc = probe_run(tmp_path, looks, "--no-history")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    threshold, frozen = json.loads((tmp_path / "gc.json").read_text())
    assert tuple(threshold) == RUN_THRESHOLDS != STARTUP_THRESHOLD  # those of the run's execute stage
    assert frozen > 10_000  # the modules, classes and models evalkit started with


def test_every_other_command_collects_as_usual_once_it_is_called() -> None:
    probe = (
        "import gc, runpy, sys; sys.argv = ['evalkit', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('evalkit', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(list(gc.get_threshold()), gc.get_freeze_count())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, "list", "scorers"], capture_output=True, text=True, check=True
    )
    threshold, frozen = out.stdout.splitlines()[-1].rsplit(" ", 1)
    assert json.loads(threshold) == list(gc.get_threshold()) and int(frozen) > 0


def test_started_leaves_an_in_process_app_alone() -> None:
    """Tests call the app in-process: their collector is not frozen nor changed."""
    before = gc.get_threshold(), gc.get_freeze_count()
    started()
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
