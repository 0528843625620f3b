"""Command-line interface. Kept thin: parse, call, render, exit code."""

from __future__ import annotations


def main() -> None:
    from evalkit.cli.app import app

    app()
