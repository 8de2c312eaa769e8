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
