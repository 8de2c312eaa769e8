"""What a killed ingest leaves (staged papers, nobody alive to publish or discard them) and
the other writers of papers: a library import or a subscribers TOML liking one of those
papers stores it once, with no traceback. Real `digest ingest` processes killed with
SIGKILL, real SQLite files."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import load_config
from digest.instance import init_instance
from digest.records import PaperRecord
from digest.store import Store

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)
LISTED = 100_000  # about 2 s of ingest here: staged for most of it


def count(database: Path, sql: str, *args: object) -> int:
    conn = sqlite3.connect(database)
    try:
        return int(conn.execute(sql, args).fetchone()[0])
    finally:
        conn.close()


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance whose `digest ingest` of a big listing was killed (SIGKILL) while its
    papers were staged; its folder (copy it before use)."""
    root = tmp_path_factory.mktemp("killed")
    config = init_instance(root / "instance")
    database = load_config(config).store.database
    listing = root / "big.jsonl"
    with listing.open("w", encoding="utf-8") as out:
        for i in range(LISTED):
            row = {"id": f"2609.{i:05d}", "title": f"Zyzzyva staged paper {i}", "abstract": "A."}
            out.write(json.dumps(row) + "\n")
    child = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "ingest", str(listing)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not database.exists() or count(database, "SELECT count(*) FROM staged_papers") == 0:
            assert child.poll() is None, "the ingest ended before it staged a paper"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert count(database, "SELECT count(*) FROM staged_papers") > 0, "it published first"
    assert count(database, "SELECT count(*) FROM listings") == 0
    return root / "instance"


@pytest.fixture
def instance(killed: Path, tmp_path: Path) -> Path:
    """A copy of the killed instance (its WAL too: what the dead ingest committed)."""
    copy = tmp_path / "instance"
    shutil.copytree(killed, copy, ignore=shutil.ignore_patterns("*-shm", "*.ingest-lock"))
    return copy


def digest(instance: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(instance / "config.toml"), *args])


def assert_clean(result: Result) -> None:
    """Exit 0, and no exception escaped (click's runner keeps it: it would be a traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_a_library_liking_a_staged_paper_imports_after_a_killed_ingest(instance: Path):
    database = instance / "digest.db"
    assert count(database, "SELECT count(*) FROM papers WHERE id = '2609.00003'") == 1  # staged
    assert_clean(digest(instance, "subscribers", "add", "bob@example.org", "--keyword", "zyzzyva"))
    library = instance / "lib.txt"
    library.write_text("2609.00003\n", encoding="utf-8")

    result = digest(instance, "profile", "import-library", "bob@example.org", str(library))

    assert_clean(result)
    assert "1 paper liked (1 new to the profile, 1 stored as reference papers)" in result.output
    assert count(database, "SELECT count(*) FROM papers WHERE id = '2609.00003'") == 1
    assert count(database, "SELECT reference FROM papers WHERE id = '2609.00003'") == 1
    assert count(database, "SELECT count(*) FROM papers") == 1  # the dead ingest's are gone
    assert count(database, "SELECT count(*) FROM staged_papers") == 0
    store = Store.open(database)
    assert store.profile(store.subscriber("bob@example.org").id).liked == ("2609.00003",)
    store.close()


def test_a_subscribers_toml_liking_a_staged_paper_imports_after_a_killed_ingest(instance: Path):
    database = instance / "digest.db"
    toml = instance / "like_staged.toml"
    toml.write_text(
        '[[subscribers]]\nemail = "eve@example.org"\nkeywords = ["zyzzyva"]\n'
        'liked = ["2609.00001", "Zyzzyva staged paper 7"]\n',
        encoding="utf-8",
    )

    result = digest(instance, "subscribers", "import", str(toml))

    assert_clean(result)
    assert "imported 1 subscriber (1 new, 0 updated)" in result.output
    assert count(database, "SELECT count(*) FROM papers WHERE id = '2609.00001'") == 1
    assert (
        count(database, "SELECT count(*) FROM papers WHERE title = 'Zyzzyva staged paper 7'") == 1
    )
    assert count(database, "SELECT count(*) FROM papers") == 2
    assert count(database, "SELECT count(*) FROM staged_papers") == 0
    # The listing ingested again stores each paper once; the liked ones become its own.
    listing = instance.parent / "again.jsonl"
    listing.write_text(
        "".join(
            json.dumps(
                {"id": f"2609.{i:05d}", "title": f"Zyzzyva staged paper {i}", "abstract": "A."}
            )
            + "\n"
            for i in range(10)
        ),
        encoding="utf-8",
    )
    assert_clean(digest(instance, "ingest", str(listing)))
    assert count(database, "SELECT count(*) FROM papers") == 10
    assert count(database, "SELECT count(*) FROM papers WHERE reference = 1") == 0


CRASHING_INGEST = """
import datetime as dt, json, sys, time
from pathlib import Path
import digest.store.papers as papers_module
from digest.records import PaperRecord
from digest.store import ListingInfo, Store

papers_module._INGEST_CHUNK = 1
store = Store.open(Path(sys.argv[1]))

def records():
    for i, title in enumerate(json.loads(sys.argv[3])):
        yield PaperRecord(title=title, abstract="Listed.", arxiv_id=f"2609.{i:05d}")
    time.sleep(0.5)  # the last chunk is committed meanwhile
    Path(sys.argv[2]).write_text("staged")
    time.sleep(60)

now = dt.datetime(2026, 11, 30, 7, tzinfo=dt.UTC)
store.ingest_listing(ListingInfo("x.jsonl", "sha-x", "records", None), records(),
                     first_seen=now.date(), now=now)
"""


def crash_mid_ingest(database: Path, tmp_path: Path, titles: list[str]) -> None:
    """An ingest of ``titles`` (arXiv ids 2609.00000 on) killed once each is staged."""
    marker = tmp_path / "staged"
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_INGEST, str(database), str(marker), json.dumps(titles)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


def test_a_killed_ingest_that_listed_only_reference_papers_blocks_no_import(tmp_path):
    """A dead ingest whose listing carried a reference paper leaves it in
    ``staged_references`` (no staged paper at all); importing it again stores nothing
    twice."""
    database = tmp_path / "s.db"
    store = Store.open(database, create=True)
    liked = PaperRecord(title="A liked paper", abstract="", arxiv_id="2609.00000")
    assert store.store_reference_papers([liked], day=NOW.date(), now=NOW) == ["2609.00000"]
    crash_mid_ingest(database, tmp_path, ["A liked paper"])
    assert count(database, "SELECT count(*) FROM staged_references") == 1
    assert count(database, "SELECT count(*) FROM staged_papers") == 0

    assert store.store_reference_papers([liked], day=NOW.date(), now=NOW) == ["2609.00000"]
    assert count(database, "SELECT count(*) FROM papers") == 1
    assert count(database, "SELECT count(*) FROM staged_references") == 0
    store.close()
