"""Papers that share a title (issue 12): two arXiv ids are two papers, and a record
without an id whose title names several papers attaches to none and is reported."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import digest.store.papers as store_module
from digest.config import Config
from digest.records import PaperRecord
from digest.store import ListingInfo, Store

from .shared_data import shared_path

DAY = dt.date(2026, 11, 22)
NOW = dt.datetime(2026, 11, 22, 8)
TITLE = "Large Language Models: A Survey"


def summary(output: str) -> str:
    """The ingest line without its "(dated …)" (records files are dated today)."""
    return output.split(" (dated ")[0].rstrip("\n")


def papers(config: Config) -> dict[str, dict]:
    return {r["id"]: r for r in sqlite_utils.Database(config.store.database)["papers"].rows}


def test_case_file_two_ids_one_title_are_two_papers(run_cli, instance, tmp_path):
    case = shared_path("cases", "records-same-title-distinct-ids.jsonl")
    result = run_cli("ingest", str(case))
    assert result.exit_code == 0, result.output
    assert summary(result.output) == (
        f"{case}: records, 2 listings, 2 new papers, 0 updated, 0 duplicates"
    )
    rows = papers(instance)
    assert set(rows) == {"2402.11111", "2403.22222"}
    assert {r["title"] for r in rows.values()} == {TITLE}
    assert rows["2403.22222"]["abstract"].startswith("This survey organises")

    # A record with no id under that title could be either: it attaches to none, is not
    # a new paper (it would be sent again), and the result says so.
    page = tmp_path / "title-only.jsonl"
    page.write_text(json.dumps({"title": TITLE.upper(), "abstract": "which one?"}) + "\n")
    result = run_cli("ingest", str(page))
    assert result.exit_code == 0, result.output
    assert summary(result.output) == (
        f"{page}: records, 1 listing, 0 new papers, 0 updated, 0 duplicates, "
        "1 ambiguous title, not attached"
    )
    assert set(papers(instance)) == {"2402.11111", "2403.22222"}
    db = sqlite_utils.Database(instance.store.database)
    assert db["paper_listings"].count == 2  # the ambiguous record is placed nowhere

    page2 = tmp_path / "title-only-again.jsonl"
    page2.write_text(json.dumps({"title": TITLE, "abstract": "again", "id": "hf-7"}) + "\n")
    result = run_cli("ingest", "--json", str(page2))
    assert result.exit_code == 0, result.output
    (reported,) = json.loads(result.output)
    assert (reported["new"], reported["ambiguous"]) == (0, 1)


def test_a_single_match_by_title_still_attaches(run_cli, instance, tmp_path):
    first = tmp_path / "a.jsonl"
    first.write_text(json.dumps({"id": "2402.11111", "title": TITLE, "abstract": "a"}) + "\n")
    assert run_cli("ingest", str(first)).exit_code == 0
    page = tmp_path / "b.jsonl"
    page.write_text(json.dumps({"title": TITLE, "abstract": "b", "upvotes": 4}) + "\n")
    result = run_cli("ingest", str(page))
    assert summary(result.output).endswith("0 new papers, 1 updated, 0 duplicates")
    assert papers(instance)["2402.11111"]["upvotes"] == 4


def _ingest(store: Store, name: str, records: list[PaperRecord]) -> store_module.IngestCounts:
    return store.ingest_listing(
        ListingInfo(name, f"sha-{name}", "records", None), records, first_seen=DAY, now=NOW
    )


@pytest.mark.parametrize("chunk", [1, 2, 5000])
def test_title_only_then_ids_then_title_only(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", chunk)
    store = Store.open(tmp_path / "s.db", create=True)
    counts = _ingest(
        store,
        "one",
        [
            PaperRecord(title=TITLE, abstract="seen first without an id"),
            PaperRecord(title=TITLE, abstract="a", arxiv_id="2402.11111"),  # the same paper
            PaperRecord(title=TITLE, abstract="b", arxiv_id="2403.22222"),  # another one
            PaperRecord(title=TITLE, abstract="which?"),
            PaperRecord(title=TITLE, abstract="which?", source_id="hf-1"),
            PaperRecord(title=TITLE, abstract="b again", arxiv_id="2403.22222"),
        ],
    )
    assert (counts.found, counts.new, counts.duplicates, counts.ambiguous) == (6, 2, 2, 2)
    rows = {r["id"]: r for r in store.db["papers"].rows}
    assert set(rows) == {"2402.11111", "2403.22222"}
    assert rows["2402.11111"]["abstract"] == "seen first without an id"
    later = _ingest(store, "two", [PaperRecord(title=TITLE.lower(), abstract="?")])
    assert (later.new, later.ambiguous) == (0, 1)
    store.close()


def test_the_title_key_is_indexed_not_unique(tmp_path):
    # Titles are looked up in paper_titles (every title a paper was seen under), whose
    # key index is not unique: papers with different arXiv ids may share a title.
    store = Store.open(tmp_path / "s.db", create=True)
    indexes = {row[1]: row[2] for row in store.db.execute("PRAGMA index_list(paper_titles)")}
    store.close()
    assert indexes["paper_titles_key"] == 0


_RECORD = st.tuples(
    st.sampled_from([None, "2402.11111", "2403.22222v2", "cs/0112017", "2403.22222"]),
    st.sampled_from([TITLE, TITLE.upper(), "large language models a survey"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(_RECORD, min_size=1, max_size=8),
    split=st.integers(0, 8),
    chunk=st.sampled_from([1, 3, 5000]),
)
def test_any_sequence_keeps_one_paper_per_id(records, split, chunk):
    """However records of papers sharing a title arrive (ids, versions, no id; in one
    listing or two, in any chunks), each arXiv id is one paper and no paper is lost."""
    original = store_module._INGEST_CHUNK
    store_module._INGEST_CHUNK = chunk
    try:
        with tempfile.TemporaryDirectory() as folder:
            store = Store.open(Path(folder) / "s.db", create=True)
            made = [
                PaperRecord(title=title, abstract="x", arxiv_id=aid and aid.split("v")[0])
                for aid, title in records
            ]
            for name, part in (("one", made[:split]), ("two", made[split:])):
                if part:
                    _ingest(store, name, part)
            ids = {r["id"] for r in store.db["papers"].rows}
            store.close()
    finally:
        store_module._INGEST_CHUNK = original
    wanted = {aid.split("v")[0] for aid, _ in records if aid}
    assert (ids == wanted) if wanted else (len(ids) == 1)
