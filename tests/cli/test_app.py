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
