"""Dedupe inside one listing, straight against the store."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlite_utils

import digest.store as store_module
from digest.models import PaperRecord
from digest.store import ListingInfo, Store


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
        first_seen="2026-11-22",
        now=dt.datetime(2026, 11, 22).isoformat(),
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
        first_seen="2026-11-22",
        now="t",
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
        first_seen="2026-11-21",
        now="t",
    )
    counts = store.ingest_listing(
        ListingInfo("b", "sha-b", "records", None),
        [
            PaperRecord(title="old name", abstract="a", arxiv_id="2311.00009"),
            PaperRecord(title="Retitled in another feed", abstract="a", source_id="s1"),
        ],
        first_seen="2026-11-22",
        now="t",
    )
    assert (counts.new, counts.updated, counts.duplicates) == (0, 1, 1)
    assert [p.id for p in store.papers()] == ["2311.00009"]
    store.close()
