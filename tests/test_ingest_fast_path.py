"""Issue 16: well-formed plain records take a fast path; it must build exactly the record
the full path (validate and clean every field) builds, and leave everything else to it.
So must the other shortcuts of a large ingest: a JSON line read as clean text, ASCII
title keys, and the collector and checkpoints paused while it runs."""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import json
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import digest.store.papers as store_module
from digest.errors import ListingError
from digest.records import PaperRecord
from digest.sources import normalize_title
from digest.sources.ids import _NOT_ALNUM
from digest.sources.json_fields import FieldProblem
from digest.sources.plain_records import (
    _checked_record,
    _clean_json_text,
    _plain_record,
    _records,
    _well_formed_record,
)
from digest.store import ListingInfo, Store

# Text with the characters that decide cleaning: blanks, tabs, newlines, the "|" the fast
# path joins on, non-ASCII and control characters.
TEXT = st.text(alphabet=st.sampled_from("ab Z|\t\n\u00e9\x00-9."), max_size=12)
IDS = st.one_of(TEXT, st.sampled_from(["2311.00001v2", " 2311.00001", "arXiv:2401.01234"]))
RECORDS = st.fixed_dictionaries(
    {"title": TEXT, "abstract": TEXT, "id": IDS},
    optional={
        "authors": st.one_of(st.lists(TEXT, max_size=4), TEXT, st.just([{"name": "A B"}])),
        "published": st.one_of(st.none(), st.sampled_from(["2026-11-20", "2026-13-01", " x"])),
        "upvotes": st.one_of(st.none(), st.integers(-2, 2**64), st.booleans(), st.just("7")),
        "url": st.just("https://arxiv.org/abs/2311.00002"),
    },
)


def full_path(item: dict[str, Any]) -> object:
    try:
        return _checked_record(item)
    except FieldProblem as problem:
        return f"problem: {problem}"


@settings(max_examples=500, deadline=None)
@given(RECORDS)
def test_the_fast_path_builds_what_the_full_path_builds(item: dict[str, Any]) -> None:
    fast = _well_formed_record(item)
    if fast is not None:
        assert fast == full_path(item)
    try:
        assert _plain_record(item) == full_path(item)
    except FieldProblem as problem:
        assert full_path(item) == f"problem: {problem}"


def test_a_typical_export_record_takes_the_fast_path() -> None:
    item = {
        "id": "2311.00001v2",
        "title": "Program Synthesis With Models 1",
        "abstract": "We study program synthesis.",
        "authors": ["Author 1", "Author 2"],
        "published": "2026-11-20",
        "upvotes": 12,
    }
    fast = _well_formed_record(item)
    assert fast is not None and fast == _checked_record(item)
    assert fast.arxiv_id == "2311.00001" and fast.authors == ("Author 1", "Author 2")


def test_fields_that_need_cleaning_or_checking_take_the_full_path() -> None:
    base = {"id": "x-1", "title": "A title", "abstract": "An abstract."}
    for change in (
        {"title": "A  title"},
        {"title": " A title"},
        {"abstract": "Ünïcode"},
        {"authors": ["A ", "B"]},
        {"authors": "A, B and C"},
        {"upvotes": True},
        {"upvotes": -1},
        {"published": "yesterday"},
        {"url": "https://example.org/x"},
        {"categories": ["cs.LG"]},
    ):
        assert _well_formed_record({**base, **change}) is None, change


# JSON Lines text: a record as json.dumps writes it (escaping or not, compact or padded),
# with DEL, escapes and double blanks among the characters.
LINE_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from("ab Z-9."), max_size=12),  # clean but for blanks
    st.text(alphabet=st.sampled_from('ab Z|\t\u00e9\x7f\\"-9.'), max_size=12),
)
LINE_RECORDS = st.fixed_dictionaries(
    {"title": LINE_TEXT, "abstract": LINE_TEXT, "id": IDS},
    optional={"authors": st.lists(LINE_TEXT, max_size=3), "upvotes": st.integers(0, 9)},
)


@settings(max_examples=500, deadline=None)
@given(
    LINE_RECORDS,
    st.booleans(),
    st.sampled_from([(", ", ": "), (",", ":"), (",  ", ":  ")]),
)
def test_a_json_line_read_as_clean_text_gives_what_the_full_path_gives(
    item: dict[str, Any], ensure_ascii: bool, separators: tuple[str, str]
) -> None:
    raw = json.dumps(item, ensure_ascii=ensure_ascii, separators=separators)
    if _clean_json_text(raw):
        # What the line says of its strings is true of the decoded item.
        for value in (item["title"], item["abstract"], item["id"], *item.get("authors", [])):
            assert value.isascii() and value.isprintable() and "  " not in value
    fast = _well_formed_record(json.loads(raw), clean_text=_clean_json_text(raw))
    if fast is not None:
        assert fast == full_path(item)
    expected = full_path(item)
    try:
        assert list(_records(raw + "\n", "x.jsonl")) == [expected]
    except ListingError as exc:  # the full path's problem, located
        assert isinstance(expected, str)
        assert expected.removeprefix("problem: ") in str(exc)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_an_ascii_title_key_is_the_regex_key(title: str) -> None:
    # normalize_title deletes ASCII bytes in C; the rule is still the regex's.
    assert normalize_title(title) == _NOT_ALNUM.sub("", title.lower())


def records_with_a_bad_one(good: int, name: str = "Paper") -> Iterator[PaperRecord]:
    for i in range(good):
        yield PaperRecord(title=f"{name} {i}", abstract="a", arxiv_id=f"2311.{i:05d}")
    raise ListingError("a bad record", source="x.jsonl", line=good + 1)


@pytest.mark.parametrize("gc_was_on", [True, False])
def test_an_ingest_puts_back_the_collector_the_switch_interval_and_the_checkpoint_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gc_was_on: bool
) -> None:
    # The ingest pauses the cyclic collector and SQLite's automatic checkpoint (its helper
    # thread checkpoints instead): both are as they were after it, whether it failed or not.
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", 2)
    monkeypatch.setattr(store_module, "_CHECKPOINT_EVERY", 2)
    store = Store.open(tmp_path / "s.db", create=True)
    conn = store.db.conn
    conn.execute("PRAGMA wal_autocheckpoint = 777")
    seen: list[bool] = []  # the collector's state at each indexing on the helper thread
    intervals: list[float] = []  # and Python's thread switch interval
    index = store._index_staged

    def spy() -> None:
        if threading.current_thread() is not threading.main_thread():
            seen.append(gc.isenabled())
            intervals.append(sys.getswitchinterval())
        index()

    monkeypatch.setattr(store, "_index_staged", spy)
    day, now = dt.date(2026, 11, 22), dt.datetime(2026, 11, 22, 8)
    (gc.enable if gc_was_on else gc.disable)()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.004)
    try:
        with pytest.raises(ListingError):
            store.ingest_listing(
                ListingInfo("bad", "sha-bad", "records", day),
                records_with_a_bad_one(5),
                first_seen=day,
                now=now,
            )
        assert gc.isenabled() is gc_was_on
        assert sys.getswitchinterval() == pytest.approx(0.004)
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (777,)
        assert store.paper_count() == 0  # the failed file left nothing
        counts = store.ingest_listing(
            ListingInfo("good", "sha-good", "records", day),
            itertools.islice(records_with_a_bad_one(5, "Good paper"), 5),
            first_seen=day,
            now=now,
        )
        assert gc.isenabled() is gc_was_on
        assert sys.getswitchinterval() == pytest.approx(0.004)
    finally:
        gc.enable()
        sys.setswitchinterval(interval)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (777,)
    assert counts.new == 5 and store.paper_count() == 5
    assert seen and not any(seen)  # the chunks were indexed with the collector paused
    assert max(intervals) <= 0.0005  # and the switch interval short (see store/indexer.py)
    # The helper thread copied the first two chunks into the database file itself (the WAL
    # stays far below 777 pages, so SQLite's own checkpoint never ran).
    assert b"Good paper 3" in (tmp_path / "s.db").read_bytes()
    store.close()


def test_an_ingest_inside_a_transaction_of_the_callers_commits_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside a transaction of the caller's the chunks are savepoints of it (its helper
    # neither commits nor looks up on a connection of its own, which could not see the
    # chunks before): nothing is visible elsewhere until the caller commits, and every
    # chunk's repeats of the one before are still found (one paper each).
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", 2)
    monkeypatch.setattr(store_module, "_CHECKPOINT_EVERY", 1)
    store = Store.open(tmp_path / "s.db", create=True)
    day = dt.date(2026, 11, 22)
    records = [
        PaperRecord(title=f"Paper {i % 3}", abstract="a", arxiv_id=f"2311.{i % 3:05d}")
        for i in range(6)
    ]
    store.db.conn.execute("BEGIN")
    counts = store.ingest_listing(
        ListingInfo("in-a-transaction", "sha", "records", day),
        records,
        first_seen=day,
        now=dt.datetime(2026, 11, 22, 8),
    )
    other = sqlite3.connect(tmp_path / "s.db")
    assert other.execute("SELECT count(*) FROM papers").fetchone() == (0,)
    store.db.conn.execute("COMMIT")
    assert other.execute("SELECT count(*) FROM papers").fetchone() == (3,)
    other.close()
    assert (counts.new, counts.duplicates) == (3, 3) and store.paper_count() == 3
    store.close()
