from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import Config, load_config
from digest.instance import init_instance
from digest.store import Store

from .shared_data import shared_path


@pytest.fixture
def shared_listings() -> list[Path]:
    """The three real daily-papers dumps in ``../shared/listings`` (skipped when absent)."""
    folder = shared_path("listings")
    listings = sorted(folder.glob("*.txt"))
    assert len(listings) == 3, f"expected 3 listings in {folder}"
    return listings


@pytest.fixture
def instance(tmp_path: Path) -> Config:
    """A fresh instance made by `digest init`: config, database, folders."""
    return load_config(init_instance(tmp_path / "instance"))


@pytest.fixture
def store(instance: Config):  # type: ignore[no-untyped-def]
    s = Store.open(instance.store.database)
    yield s
    s.close()


@pytest.fixture
def run_cli(instance: Config):  # type: ignore[no-untyped-def]
    """Invoke the CLI against the fresh instance; returns click's Result."""

    def invoke(*args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, ["--config", str(instance.path), *args], input=input)

    return invoke
