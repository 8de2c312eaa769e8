from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import Config, load_config
from digest.instance import init_instance
from digest.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_LISTINGS = sorted((SHARED / "listings").glob("*.txt"))


@pytest.fixture
def shared_listings() -> list[Path]:
    """The three real daily-papers dumps (CI has ../shared beside the checkout)."""
    assert len(SHARED_LISTINGS) == 3, f"expected 3 listings in {SHARED / 'listings'}"
    return SHARED_LISTINGS


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
