"""The tests-need-data rule: data in ``../shared`` beside the checkout.

Tests that read ``../shared`` (the real listings, the case files, the datasets) get their
paths from :func:`shared_path`. Where the folder is absent (a fresh clone on its own) they
skip and say why; in CI (``CI=true``), which always has ``../shared`` beside the checkout,
a missing file is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def in_ci() -> bool:
    """True when the suite runs in CI (``CI`` set to ``true`` or ``1``)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def shared_path(*parts: str) -> Path:
    """``../shared/<parts>``; skips the calling test when absent (fails it in CI)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"needs {path} (the project's shared data beside the checkout); not found"
        if in_ci():
            pytest.fail(f"{reason} (CI=true, so every test must run)")
        pytest.skip(reason)
    return path
