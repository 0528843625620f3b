"""Small commands of evalkit.cli.app."""

from __future__ import annotations

from pathlib import Path


def test_list_providers_shows_the_whole_first_paragraph_of_a_docstring(workdir: Path, cli) -> None:
    result = cli("list", "providers")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.replace("│", " ").split())
    # the openai provider's docstring wraps onto a second line: the description must not stop mid-sentence
    assert "bounds its concurrency per endpoint" in flat


def test_calibrate_refuses_an_unbounded_number_of_resamples(workdir: Path, cli) -> None:
    result = cli("calibrate", "some-run", "--resamples", "10000000000000000000000")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "--resamples" in result.output


def test_run_loads_no_heavy_module_before_its_first_request(tmp_path: Path) -> None:
    """A run's fixed cost: up to its first request, `evalkit run` imports neither numpy/scipy,
    pandas, SQLAlchemy/alembic nor the report or history packages (they load after the run),
    nor the modules of the other commands."""
    import json

    from tests.conftest import probe_run

    looks = "import json, sys\nwith open('modules.json', 'w') as fh:\n    json.dump(sorted(sys.modules), fh)"
    proc = probe_run(tmp_path, looks)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    loaded = json.loads((tmp_path / "modules.json").read_text())
    heavy = ("numpy", "scipy", "pandas", "sqlalchemy", "alembic", "pyarrow", "torch", "transformers")
    heavy += ("jinja2",)  # the prompt is text and `{{ q }}`: read without jinja2
    ours: tuple[str, ...] = ("evalkit.report", "evalkit.history", "evalkit.stages.conclude")
    ours += ("evalkit.human.calibrate",)
    # nor the figures and the outcome's tables (they show what the run concluded)
    ours += ("evalkit.compare.aggregate", "evalkit.compare.gate", "evalkit.cli.render")
    # nor what only some runs need: Ray replicas, pairing with a baseline's cases
    ours += ("evalkit.providers.ray_replicas", "evalkit.compare.pairing")
    # nor the other commands' modules (each command is imported and built when it is used)
    ours += tuple(f"evalkit.cli.{m}" for m in ("init", "baseline", "cache", "export", "labels", "list"))
    ours += ("evalkit.cli.history", "evalkit.cli.imports", "evalkit.cli.github", "evalkit.spec.scaffold")
    # but the history's feed (evalkit.history.feed: its class only, attached to the results
    # writer; SQLite and the history's store load with the first result) and its package
    feed = ("evalkit.history", "evalkit.history.feed")
    early = [m for m in loaded if (m.split(".")[0] in heavy or m.startswith(ours)) and m not in feed]
    assert early == [], early
    assert "evalkit.history.lite" not in loaded and "evalkit.history.record" not in loaded
    # and after the run, the run was concluded and recorded as usual
    assert (tmp_path / "out" / "report.html").exists() and "recorded in the history" in proc.stdout
