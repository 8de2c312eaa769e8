"""Dedupe inside one listing, straight against the store."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlite_utils

import digest.store.papers as store_module
from digest.errors import StoreError
from digest.records import PaperRecord
from digest.store import ListingInfo, Store

NOW = dt.datetime(2026, 11, 22, 8)


@pytest.mark.parametrize("chunk", [1, 2, 5000])
def test_repeats_later_in_a_listing_fill_in_and_rename(tmp_path, monkeypatch, chunk):
    # With small chunks, later records change rows already inserted from earlier chunks.
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", chunk)
    store = Store.open(tmp_path / "s.db", create=True)
    records = [
        PaperRecord(title="Alpha Paper", abstract="a"),  # title-hash id, no authors
        PaperRecord(title="Beta Paper", abstract="b", source_id="beta-1"),
        PaperRecord(title="Gamma Paper", abstract="c"),
        PaperRecord(title="ALPHA paper", abstract="x", arxiv_id="2311.00001", authors=("Ann",)),
        PaperRecord(title="beta paper", abstract="y", upvotes=5),
        PaperRecord(title="Delta Paper", abstract="d", arxiv_id="2311.00002"),
    ]
    counts = store.ingest_listing(
        ListingInfo("x", "sha", "records", None),
        records,
        first_seen=dt.date(2026, 11, 22),
        now=dt.datetime(2026, 11, 22),
    )
    store.close()
    assert (counts.found, counts.new, counts.updated, counts.duplicates) == (6, 4, 0, 2)
    db = sqlite_utils.Database(tmp_path / "s.db")
    rows = {r["title"]: r for r in db["papers"].rows}
    assert set(rows) == {"Alpha Paper", "Beta Paper", "Gamma Paper", "Delta Paper"}
    assert rows["Alpha Paper"]["id"] == "2311.00001"
    assert json.loads(rows["Alpha Paper"]["authors"]) == ["Ann"]
    assert rows["Beta Paper"]["upvotes"] == 5
    links = sorted((r["paper_id"], r["position"]) for r in db["paper_listings"].rows)
    assert links == sorted(
        [("2311.00001", 0), ("beta-1", 1), (rows["Gamma Paper"]["id"], 2), ("2311.00002", 5)]
    )
    # The full-text index followed the rename.
    hits = db.execute(
        "SELECT p.id FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid "
        "WHERE papers_fts MATCH 'alpha'"
    ).fetchall()
    assert hits == [("2311.00001",)]


def test_search_index_follows_title_edits_but_ignores_upvote_updates(tmp_path):
    store = Store.open(tmp_path / "s.db", create=True)
    store.ingest_listing(
        ListingInfo("x", "sha", "records", None),
        [PaperRecord(title="Sparse Attention Kernels", abstract="fast kernels", upvotes=1)],
        first_seen=dt.date(2026, 11, 22),
        now=NOW,
    )
    store.db.execute("UPDATE papers SET upvotes = 9")
    assert [p.title for p in store.search_papers("kernels")] == ["Sparse Attention Kernels"]
    store.db.execute("UPDATE papers SET title = 'Dense Attention Kernels'")
    assert [p.title for p in store.search_papers("dense")] == ["Dense Attention Kernels"]
    assert store.search_papers("sparse") == []
    store.close()


@pytest.mark.parametrize("chunk", [1, 5000])
def test_an_id_renamed_in_this_listing_still_names_the_same_paper(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", chunk)
    store = Store.open(tmp_path / "s.db", create=True)
    store.ingest_listing(
        ListingInfo("a", "sha-a", "records", None),
        [PaperRecord(title="Old Name", abstract="a", source_id="s1")],
        first_seen=dt.date(2026, 11, 21),
        now=NOW,
    )
    counts = store.ingest_listing(
        ListingInfo("b", "sha-b", "records", None),
        [
            PaperRecord(title="old name", abstract="a", arxiv_id="2311.00009"),
            PaperRecord(title="Retitled in another feed", abstract="a", source_id="s1"),
        ],
        first_seen=dt.date(2026, 11, 22),
        now=NOW,
    )
    assert (counts.new, counts.updated, counts.duplicates) == (0, 1, 1)
    assert [p.id for p in store.papers()] == ["2311.00009"]
    store.close()


def _fts_is_consistent(db: sqlite_utils.Database) -> bool:
    """FTS5's own check that the index holds exactly the content table's text."""
    try:
        db.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")
    except Exception:
        return False
    return True


def _matches(db: sqlite_utils.Database, word: str) -> list[str]:
    return [
        row[0]
        for row in db.execute(
            "SELECT p.title FROM papers_fts JOIN papers p ON p.rowid = papers_fts.rowid "
            "WHERE papers_fts MATCH ? ORDER BY p.title",
            [word],
        )
    ]


@pytest.mark.parametrize("chunk", [1, 3, 5000])
def test_an_ingest_indexes_its_papers_and_leaves_the_insert_trigger_in_place(
    tmp_path, monkeypatch, chunk
):
    # Each chunk's papers are indexed by the store itself (on a helper thread, beside the
    # parsing of the next chunk) while the per-row insert trigger is dropped.
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", chunk)
    store = Store.open(tmp_path / "s.db", create=True)
    store.ingest_listing(
        ListingInfo("old", "sha0", "records", None),
        [PaperRecord(title="Earlier Work", abstract="stored before")],
        first_seen=dt.date(2026, 11, 21),
        now=dt.datetime(2026, 11, 21, 8),
    )
    records = [
        PaperRecord(title=f"Paper {n} zebra{n}", abstract=f"word{n} tokens") for n in range(8)
    ]
    store.ingest_listing(
        ListingInfo("x", "sha1", "records", None),
        iter(records),  # a stream, as ingest_file passes it
        first_seen=dt.date(2026, 11, 22),
        now=dt.datetime(2026, 11, 22, 8),
    )
    store.close()
    db = sqlite_utils.Database(tmp_path / "s.db")
    assert db.execute("SELECT count(*) FROM papers_fts").fetchone()[0] == 9
    assert _fts_is_consistent(db)
    assert all(_matches(db, f"zebra{n}") == [f"Paper {n} zebra{n}"] for n in range(8))
    assert _matches(db, "stored") == ["Earlier Work"]
    # Another program inserting a paper directly still gets it indexed by the trigger.
    db.execute(
        "INSERT INTO papers (id, id_kind, title, abstract, title_key, first_seen, updated_at) "
        "VALUES ('manual-1', 'source', 'Typed By Hand', 'okapi', 'typedbyhand', "
        "'2026-11-22', '2026-11-22')"
    )
    assert _matches(db, "okapi") == ["Typed By Hand"]
    assert _fts_is_consistent(db)


@pytest.mark.parametrize("chunk", [2, 5000])
def test_a_record_that_fails_midway_leaves_no_paper_and_no_index_entry(
    tmp_path, monkeypatch, chunk
):
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", chunk)
    store = Store.open(tmp_path / "s.db", create=True)

    def records():
        for n in range(5):
            yield PaperRecord(title=f"Paper {n}", abstract="fine")
        raise StoreError("the parser found a bad line 6")

    with pytest.raises(StoreError, match="bad line 6"):
        store.ingest_listing(
            ListingInfo("x", "sha", "records", None),
            records(),
            first_seen=dt.date(2026, 11, 22),
            now=dt.datetime(2026, 11, 22, 8),
        )
    assert not store.db.conn.in_transaction
    store.close()
    db = sqlite_utils.Database(tmp_path / "s.db")
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM listings").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM papers_fts").fetchone()[0] == 0
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'papers_ai'").fetchall()
    assert _fts_is_consistent(db)
