"""The tests-need-data rule itself: absent ``../shared`` skips locally and fails in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import shared_data


def test_absent_shared_data_skips_with_the_reason_outside_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_data, "SHARED", tmp_path / "shared")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as info:
        shared_data.shared_path("listings")
    assert str(info.value.msg) == (
        f"needs {tmp_path / 'shared' / 'listings'} (the project's shared data beside the "
        "checkout); not found"
    )


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_absent_shared_data_fails_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setattr(shared_data, "SHARED", tmp_path / "shared")
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception) as info:
        shared_data.shared_path("listings")
    assert "CI=true, so every test must run" in str(info.value.msg)


def test_present_shared_data_is_returned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shared" / "cases").mkdir(parents=True)
    monkeypatch.setattr(shared_data, "SHARED", tmp_path / "shared")
    assert shared_data.shared_path("cases") == tmp_path / "shared" / "cases"
