"""Issue 11, item 8: every file digest creates is 0600 and every folder 0700, whatever the
umask: the outbox's messages carry working links, the database every address."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.instance import init_instance
from digest.store import Store
from tests.run_helpers import TEST_SECRET, invoke

DAY = "2026-11-16"


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def store_now() -> dt.datetime:
    return dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_0600_and_folders_0700_under_umask_022(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_022: None
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    config_path = init_instance(tmp_path / "inst")
    config = load_config(config_path)
    inbox = config.ingest.inbox
    (inbox / "good.jsonl").write_text(
        "\n".join(
            json.dumps({"id": f"2611.{n:05d}", "title": f"Program synthesis {n}", "abstract": "A."})
            for n in range(4)
        )
        + "\n",
        encoding="utf-8",
    )
    (inbox / "bad.jsonl").write_text('{"id": "x", "title": \n', encoding="utf-8")
    subscribers = tmp_path / "subs.toml"
    subscribers.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\nkeywords = ["program synthesis"]\n',
        encoding="utf-8",
    )
    assert invoke(config_path, "subscribers", "import", str(subscribers)).exit_code == 0
    result = invoke(config_path, "run", "--date", DAY)
    assert result.exit_code == 0, result.output
    store = Store.open(config.store.database)  # WAL files exist while a connection is open
    try:
        store.update_subscriber("ada@example.org", now=store_now(), name="Ada")  # a write
        database = config.store.database
        files = [
            database,
            database.with_name(database.name + "-wal"),
            database.with_name(database.name + "-shm"),
            database.with_name(database.name + ".run.lock"),  # names the run's pid
            *config.delivery.outbox.glob("*/*.eml"),
            *config.delivery.outbox.glob("*/*.html"),
            *(inbox / "failed").glob("*.error.txt"),
            *config.store.cache_dir.glob("*"),
        ]
        folders = [
            config_path.parent,
            config.delivery.outbox,
            config.delivery.outbox / DAY,
            inbox,
            inbox / "processed",
            inbox / "failed",
            config.store.cache_dir,
        ]
        modes = {str(p): oct(mode(p)) for p in files}
    finally:
        store.close()
    assert len(list(config.delivery.outbox.glob("*/*.eml"))) == 1
    assert len(list((inbox / "failed").glob("*.error.txt"))) == 1
    assert [p for p in config.store.cache_dir.glob("*") if p.is_file()], "no model file"
    assert modes == {str(p): "0o600" for p in files}
    assert {str(p): oct(mode(p)) for p in folders} == {str(p): "0o700" for p in folders}


def test_an_existing_world_readable_database_is_made_private(
    tmp_path: Path, umask_022: None
) -> None:
    database = tmp_path / "old" / "digest.db"
    Store.open(database, create=True).close()
    database.chmod(0o644)
    Store.open(database).close()
    assert mode(database) == 0o600


@pytest.fixture(params=[0o000, 0o022], ids=["umask000", "umask022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def modes_under(*roots: Path) -> dict[str, str]:
    """Each root and everything in it: path -> its mode in octal."""
    paths = [p for root in roots for p in (root, *root.rglob("*"))]
    return {str(p): oct(mode(p)) for p in paths}


def private(modes: dict[str, str]) -> dict[str, str]:
    return {p: "0o700" if Path(p).is_dir() else "0o600" for p in modes}


def test_init_makes_everything_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    """config.toml names the SMTP account, the trusted proxies and where the link secret
    is: 0600 like the database, the folders 0700 (the missing parents too)."""
    target = tmp_path / "new" / "inst"
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    modes = modes_under(tmp_path / "new")
    assert str(target / "config.toml") in modes
    assert modes == private(modes)


def test_demo_makes_everything_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "new" / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    modes = modes_under(tmp_path / "new")
    for name in ("config.toml", ".digest-demo", "secret.key", "inbox/processed/records.jsonl"):
        assert str(target / name) in modes
    assert modes == private(modes)


def test_an_export_and_a_preview_are_written_0600_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    """An export holds every address, a preview working links: 0600 like the outbox."""
    config = init_instance(tmp_path / "inst")
    assert invoke(config, "subscribers", "add", "ada@example.org", "--keyword", "x").exit_code == 0
    written = [tmp_path / "team.toml", tmp_path / "sample.html", tmp_path / "sample.eml"]
    assert invoke(config, "subscribers", "export", "-o", str(written[0])).exit_code == 0
    result = invoke(
        config, "preview", "--sample", "--out", str(written[1]), "--eml", str(written[2])
    )
    assert result.exit_code == 0, result.output
    assert "ada@example.org" in written[0].read_text(encoding="utf-8")
    assert {str(p): oct(mode(p)) for p in written} == {str(p): "0o600" for p in written}
