"""Ingest beside other work: short write transactions, nothing visible until a file is
complete, nothing left by a failure or a crash, a bounded busy wait, and two inbox
ingests at once. Real SQLite files and real processes."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

import digest.store.papers as papers_module
from digest.config import Config
from digest.errors import ListingError, StoreError
from digest.records import PaperRecord
from digest.store import ListingInfo, Store

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 30)


def record(i: int) -> PaperRecord:
    return PaperRecord(title=f"Paper number {i}", abstract=f"Sparse kernels, part {i}.")


def raw_count(path: Path, table: str = "papers") -> int:
    return int(sqlite_utils.Database(path).execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def fts_consistent(path: Path) -> bool:
    db = sqlite_utils.Database(path)
    try:
        db.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError:
        return False
    return True


def test_each_chunk_commits_and_hides_its_papers_until_the_file_is_complete(tmp_path, monkeypatch):
    monkeypatch.setattr(papers_module, "_INGEST_CHUNK", 10)
    path = tmp_path / "s.db"
    store = Store.open(path, create=True)
    seen: dict[str, object] = {}

    def failing() -> Iterator[PaperRecord]:
        for i in range(25):
            if i == 15:  # chunk 1 is committed; the reader of chunk 2 runs now
                other = sqlite3.connect(path, timeout=2.0)
                started = time.perf_counter()
                other.execute("BEGIN IMMEDIATE")  # the write lock is free
                other.rollback()
                seen["wait"] = time.perf_counter() - started
                reader = Store.open(path)
                seen["papers"] = reader.papers()
                seen["count"] = reader.paper_count()
                seen["search"] = reader.search_papers("sparse")
                seen["texts"] = list(reader.iter_paper_texts())
                seen["raw"] = raw_count(path)
                reader.close()
            if i == 24:
                raise ListingError("record 24 is broken", source="x.jsonl", line=25)
            yield record(i)

    with pytest.raises(ListingError):
        store.ingest_listing(
            ListingInfo("x.jsonl", "sha-x", "records", None), failing(), first_seen=DAY, now=NOW
        )
    assert seen["wait"] < 1.0  # type: ignore[operator]
    assert seen["raw"] == 10  # written and committed ...
    assert (seen["papers"], seen["count"], seen["search"], seen["texts"]) == ([], 0, [], [])
    # ... and gone with the failure: nothing of the file is left.
    assert raw_count(path) == 0
    for table in ("staged_papers", "staged_placements", "staged_aliases", "listings"):
        assert raw_count(path, table) == 0
    assert fts_consistent(path)

    counts = store.ingest_listing(
        ListingInfo("x.jsonl", "sha-x", "records", None),
        (record(i) for i in range(24)),
        first_seen=DAY,
        now=NOW,
    )
    assert (counts.found, counts.new, counts.updated, counts.duplicates) == (24, 24, 0, 0)
    assert store.paper_count() == 24
    assert len(store.search_papers("sparse", limit=100)) == 24
    assert raw_count(path, "paper_listings") == 24
    assert raw_count(path, "staged_papers") == 0
    assert fts_consistent(path)
    store.close()


def test_repeats_across_chunks_count_once(tmp_path, monkeypatch):
    monkeypatch.setattr(papers_module, "_INGEST_CHUNK", 3)
    store = Store.open(tmp_path / "s.db", create=True)
    records = [record(i) for i in range(5)] + [
        PaperRecord(title="paper NUMBER 1", abstract="again", arxiv_id="2311.00001"),
        record(2),
    ]
    counts = store.ingest_listing(
        ListingInfo("x", "sha", "records", None), records, first_seen=DAY, now=NOW
    )
    assert (counts.found, counts.new, counts.updated, counts.duplicates) == (7, 5, 0, 2)
    assert "2311.00001" in {p.id for p in store.papers()}
    assert raw_count(tmp_path / "s.db", "paper_listings") == 5
    store.close()


CRASHING_INGEST = """
import datetime as dt, sys, time
from pathlib import Path
import digest.store.papers as papers_module
from digest.records import PaperRecord
from digest.store import ListingInfo, Store

papers_module._INGEST_CHUNK = 50
store = Store.open(Path(sys.argv[1]))

def records():
    for i in range(1000):
        if i == 120:
            Path(sys.argv[2]).write_text("staged")
            time.sleep(60)
        yield PaperRecord(title=f"Paper number {i}", abstract=f"Sparse kernels, part {i}.")

now = dt.datetime(2026, 11, 30, 7, tzinfo=dt.UTC)
store.ingest_listing(ListingInfo("big.jsonl", "sha-big", "records", None), records(),
                     first_seen=now.date(), now=now)
"""


def test_a_crash_mid_file_leaves_nothing_a_run_would_send(tmp_path):
    path = tmp_path / "s.db"
    Store.open(path, create=True).close()
    marker = tmp_path / "staged"
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING_INGEST, str(path), str(marker)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)  # let the indexer of the last chunk finish or not: both are fine
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert raw_count(path) == 100  # two chunks committed before the kill
    store = Store.open(path)
    assert store.paper_count() == 0
    assert store.papers(since=DAY) == [] and store.new_paper_count(DAY) == 0
    assert store.search_papers("sparse") == []
    counts = store.ingest_listing(
        ListingInfo("big.jsonl", "sha-big", "records", None),
        (record(i) for i in range(130)),
        first_seen=DAY,
        now=NOW,
    )
    assert (counts.new, counts.duplicates) == (130, 0)
    assert store.paper_count() == 130 == raw_count(path)
    assert len(store.search_papers("sparse", limit=500)) == 130
    assert fts_consistent(path)
    store.close()


def test_a_lock_wait_that_runs_out_is_one_line(tmp_path):
    path = tmp_path / "s.db"
    Store.open(path, create=True).close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        store = Store.open(path, busy_timeout=0.2)
        with pytest.raises(StoreError) as info:
            store.record_failed_listing(path="x", sha256="s", error="e", fmt=None, now=NOW)
        assert str(info.value) == (
            f"{path}: the database is busy (another digest process has been writing to it "
            "for longer than the busy timeout); try again"
        )
        store.close()
    finally:
        holder.rollback()
        holder.close()


def test_an_ingest_lock_held_too_long_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    """Another process's ingest that never ends (a hung import) is waited for only
    ``ingest_lock_wait`` seconds; then the ingest fails with one line, nothing stored."""
    monkeypatch.setattr(Store, "ingest_lock_wait", 0.4)
    path = tmp_path / "s.db"
    store = Store.open(path, create=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a+b'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
            str(path.with_name(path.name + ".ingest-lock")),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            store.ingest_listing(
                ListingInfo("x", "sha", "records", None), [record(1)], first_seen=DAY, now=NOW
            )
        waited = time.monotonic() - started
        assert 0.4 <= waited < 5.0
        assert str(info.value) == (
            f"{path.with_name(path.name + '.ingest-lock')}: another ingest has held this lock "
            "for 0.4 s; try again once it finishes"
        )
        assert raw_count(path) == 0
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone the same store ingests at once.
    store.ingest_listing(
        ListingInfo("x", "sha", "records", None), [record(1)], first_seen=DAY, now=NOW
    )
    assert raw_count(path) == 1
    store.close()


def _inbox_listing(path: Path, start: int, count: int) -> None:
    lines = (
        json.dumps({"id": f"src-{i}", "title": f"Inbox paper {i}", "abstract": "Words."})
        for i in range(start, start + count)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_two_inbox_ingests_at_once_divide_the_files(instance: Config):
    inbox = instance.ingest.inbox
    for n in range(8):
        _inbox_listing(inbox / f"listing-{n}.jsonl", n * 3000, 3000)
    (inbox / "copy-of-0.jsonl").write_bytes((inbox / "listing-0.jsonl").read_bytes())
    command = [
        sys.executable,
        "-m",
        "digest",
        "--config",
        str(instance.path),
        "ingest",
        "--inbox",
        "--json",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in err
    results = [result for out, _ in outputs for result in json.loads(out)]
    statuses = sorted(r["status"] for r in results)
    assert statuses == ["ingested"] * 8 + ["skipped"]  # each file once, the copy skipped
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == sorted(
        ["copy-of-0.jsonl"] + [f"listing-{n}.jsonl" for n in range(8)]
    )
    assert list((inbox / "processing").iterdir()) == []
    assert raw_count(instance.store.database) == 24_000
    assert raw_count(instance.store.database, "listings") == 8


def test_files_claimed_by_a_dead_process_go_back_to_the_inbox(run_cli, instance: Config):
    inbox = instance.ingest.inbox
    (inbox / "processing").mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _inbox_listing(inbox / "processing" / f"{dead.pid}.left.jsonl", 0, 3)
    result = run_cli("ingest", "--inbox")
    assert result.exit_code == 0, result.output
    assert (inbox / "processed" / "left.jsonl").exists()
    assert f"{inbox / 'processed' / 'left.jsonl'}: records" in result.output
    assert raw_count(instance.store.database) == 3
