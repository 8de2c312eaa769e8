"""Headless Chromium for the tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright's own browser download does not work here. In CI (``CI=true``) a missing or
broken browser fails the test; elsewhere it skips with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[1]


def unavailable(reason: str) -> NoReturn:
    # CI promises a browser: there a missing one is a failure, not a reason to skip.
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so the browser tests must run)")
    pytest.skip(reason)


def launch_chromium() -> Iterator[Any]:
    """Yield a launched browser (a fixture body), or fail/skip saying why there is none."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing; install it with: apt-get install chromium")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Error as exc:
            unavailable(f"{CHROMIUM} would not start: {exc}")
        yield chromium
        chromium.close()


def artifacts_dir() -> Path:
    """Where screenshots go for a person to look at: test-artifacts/ or $DIGEST_ARTIFACTS."""
    folder = Path(os.environ.get("DIGEST_ARTIFACTS", REPO / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
