"""Sphinx configuration for evalkit's documentation: Markdown pages (MyST) with the Furo theme.

Build it with `python -m sphinx -W -n --keep-going -b html docs docs/_build/html` (what
tests/docs/test_build.py runs): every warning - a broken link, a missing page, a page in no
table of contents - fails the build. Why Sphinx and MyST: docs/explanation/docs-engine.md.
"""

from __future__ import annotations

from importlib.metadata import version as _version

project = "evalkit"
author = "the evalkit authors"
copyright = "the evalkit authors"  # Sphinx reads this name
release = _version("evalkit")
version = release

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_heading_anchors = 3  # `page.md#a-section` links resolve (and are checked) to h1-h3
myst_enable_extensions = ["colon_fence"]
highlight_language = "text"  # an unlabelled block is shown as typed (terminal output)

html_theme = "furo"
html_title = f"evalkit {release}"
html_static_path: list[str] = []
html_copy_source = False
html_show_sourcelink = False
