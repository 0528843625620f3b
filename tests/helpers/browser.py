"""A real browser for the report tests: Debian chromium driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned2 = 1"></script>'


def browser() -> Any:
    """Playwright's sync API, or a skip (a failure on CI) when it or chromium is missing."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it with apt")
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    return playwright
