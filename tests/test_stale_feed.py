"""A stale feed is told apart from an empty one (issue 12, item 3): a listing whose every
paper was already known, and a listing with no papers at all, each get their own note in
`digest ingest` (text and --json), the run report (text and --json) and the stored run."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from digest.config import load_config

from .listing_fixtures import Item, atom_feed, rss_feed, write_listing
from .shared_data import shared_path
from .test_paper_versions import invoke, make_instance

CODE = """
[[subscribers]]
email = "ada@example.org"
keywords = ["speech recognition", "retrieval"]
min_score = 0.01
"""
ABSTRACT = "We study speech recognition. Small models listen well."


def stale(path: Path) -> str:
    return f"every paper in {path} was already known: a stale feed?"


def empty(path: Path) -> str:
    return f"{path} had no papers: a holiday or an empty feed"


def drop_in_inbox(config: Path, listing: Path) -> Path:
    inbox = load_config(config).ingest.inbox
    return Path(shutil.copy(listing, inbox / listing.name))


def run_json(config: Path, day: str) -> dict:
    result = invoke(config, "run", "--date", day, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_case_files_the_repeat_is_reported_stale_by_the_run(tmp_path):
    day1 = shared_path("cases", "rss-stale-day1.xml")
    repeat = shared_path("cases", "rss-stale-repeat.xml")
    config = make_instance(tmp_path / "inst", CODE)

    drop_in_inbox(config, day1)
    first = run_json(config, "2026-11-20")
    assert (first["listings_ingested"], first["notes"]) == (1, [])
    assert first["sent"] == 1

    inboxed = drop_in_inbox(config, repeat)
    second = run_json(config, "2026-11-23")
    assert second["listings_ingested"] == 1
    assert second["notes"] == [stale(inboxed)]
    assert (second["new_papers"], second["sent"]) == (0, 0)

    (latest, _) = json.loads(invoke(config, "runs", "--json").output)
    assert latest["notes"] == [stale(inboxed)]
    status = invoke(config, "status").output
    assert f"           {stale(inboxed)}" in status


def test_case_files_through_digest_ingest(tmp_path):
    day1 = shared_path("cases", "rss-stale-day1.xml")
    repeat = shared_path("cases", "rss-stale-repeat.xml")
    config = make_instance(tmp_path / "inst", CODE)
    first = invoke(config, "ingest", "--date", "2026-11-20", str(day1)).output
    assert "note:" not in first
    result = invoke(config, "ingest", "--json", "--date", "2026-11-23", str(repeat))
    (entry,) = json.loads(result.output)
    assert (entry["found"], entry["new"], entry["duplicates"]) == (5, 0, 5)
    assert entry["note"] == stale(repeat)


def test_an_empty_feed_is_a_holiday_not_a_stale_feed(tmp_path):
    config = make_instance(tmp_path / "inst", CODE)
    day = dt.date(2026, 12, 25)
    feeds = {"rss": rss_feed(day, []), "atom": atom_feed(day, [])}
    for kind, text in feeds.items():
        path = tmp_path / f"{kind}-empty.xml"
        path.write_text(text, encoding="utf-8")
        output = invoke(config, "ingest", "--date", "2026-12-25", str(path)).output
        assert output.endswith(f"\n  note: {empty(path)}\n")
        assert "stale" not in output

    inboxed = drop_in_inbox(config, tmp_path / "rss-empty.xml")
    inboxed.write_text(rss_feed(dt.date(2026, 12, 26), []), encoding="utf-8")  # new content
    report = invoke(config, "run", "--date", "2026-12-26")
    assert report.exit_code == 0, report.output
    assert f"  note: {empty(inboxed)}\n" in report.output
    assert "stale" not in report.output


def test_a_listing_with_anything_new_gets_no_note(tmp_path):
    config = make_instance(tmp_path / "inst", CODE)
    day = dt.date(2026, 11, 20)
    known = Item(title="Speech Recognition Small", abstract=ABSTRACT, arxiv_id="2611.00001")
    fresh = Item(title="Retrieval for Speech", abstract=ABSTRACT, arxiv_id="2611.00002")
    first = write_listing(tmp_path, "records", day, [known])
    assert "note:" not in invoke(config, "ingest", str(first)).output
    mixed = write_listing(tmp_path, "records", day, [known, fresh], n=1)
    assert "note:" not in invoke(config, "ingest", str(mixed)).output
    # The same papers again, in another format: stale.
    again = write_listing(tmp_path, "atom", day, [known, fresh], n=2)
    assert invoke(config, "ingest", str(again)).output.endswith(f"  note: {stale(again)}\n")
