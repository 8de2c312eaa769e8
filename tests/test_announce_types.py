"""arXiv's announce types (issue 12, item 2): ``new`` is new; ``replace`` and
``replace-cross`` update a known paper or add an unknown one as an old paper (stored, never
sent); ``cross`` is new unless ``[ingest] cross_lists = false``; ``published`` is the
paper's own date, never the feed's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlite_utils

from digest.config import load_config
from digest.errors import ConfigError
from digest.sources import parse_listing

from .listing_fixtures import Item, rss_feed, write_listing
from .run_helpers import set_config
from .shared_data import shared_path
from .test_paper_versions import ingest, invoke, make_instance, outbox_mentions, run

CODE = """
[[subscribers]]
email = "ada@example.org"
keywords = ["code generation", "program synthesis"]
min_score = 0.01
"""
ABSTRACT = "We study code generation and program synthesis. Models write programs."


def papers(config: Path) -> dict[str, dict]:
    db = sqlite_utils.Database(load_config(config).store.database)
    return {r["id"]: r for r in db["papers"].rows}


def sent_ids(config: Path) -> set[str]:
    db = sqlite_utils.Database(load_config(config).store.database)
    return {r["paper_id"] for r in db["sends"].rows}


# --- the case file ---------------------------------------------------------------------


@pytest.mark.parametrize("cross_lists", [True, False])
def test_case_new_and_cross_are_sent_replacements_are_old_papers(tmp_path, cross_lists):
    case = shared_path("cases", "rss-announce-types.xml")
    config = make_instance(tmp_path / "inst", CODE)
    if not cross_lists:
        set_config(config, "ingest", "cross_lists", "false")
    output = ingest(config, "2024-02-13", case)
    old = 2 if cross_lists else 3
    assert output.startswith(
        f"{case}: rss, 4 listings, {4 - old} new paper{'s' if 4 - old != 1 else ''}, "
        f"{old} old papers (kept for reference, never sent), 0 updated, 0 duplicates"
    )
    rows = papers(config)
    assert {k: (r["is_new"], r["version"]) for k, r in rows.items()} == {
        "2402.07001": (1, 1),
        "2402.06002": (int(cross_lists), 1),
        "2311.04567": (0, 3),
        "2309.01234": (0, 2),
    }
    # The paper's own date: the day announced for new papers, the id's month for old
    # ones (the feed's day is the day of their new version), never the channel's date.
    assert {k: r["published"] for k, r in rows.items()} == {
        "2402.07001": "2024-02-13",
        "2402.06002": "2024-02-13",
        "2311.04567": "2023-11-01",
        "2309.01234": "2023-09-01",
    }

    report = run(config, "2024-02-13")
    assert report["new_papers"] == 4 - old
    expected = {"2402.07001", "2402.06002"} if cross_lists else {"2402.07001"}
    assert sent_ids(config) == expected
    for paper_id in ("2402.07001", "2402.06002", "2311.04567", "2309.01234"):
        mentioned = outbox_mentions(config, f"arxiv.org/abs/{paper_id}")
        assert mentioned == ({"ada@example.org": 1} if paper_id in expected else {})

    # An old paper is still a reference: it can be looked up and liked.
    shown = invoke(config, "papers", "show", "2311.04567v3")
    assert shown.exit_code == 0 and "Code Generation Benchmarks Considered Harmful" in shown.output


# --- generated feeds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_description", "as_element"), [(True, False), (False, True), (True, True)]
)
def test_both_places_the_announce_type_is_written(in_description, as_element):
    items = [
        Item(
            title=f"Paper {t}",
            abstract=ABSTRACT,
            arxiv_id=f"2402.0000{n}",
            version=2,
            announce_type=t,
        )
        for n, t in enumerate(("new", "cross", "replace", "replace-cross"))
    ]
    text = rss_feed(
        dt.date(2024, 2, 13), items, in_description=in_description, as_element=as_element
    )
    records = parse_listing(text, source="feed.xml", today=dt.date(2024, 2, 13)).records
    assert [r.announce_type for r in records] == ["new", "cross", "replace", "replace-cross"]
    assert [r.version for r in records] == [2, 2, 2, 2]
    assert all(r.abstract == ABSTRACT for r in records)  # the "Announce Type" head is gone


def test_the_element_wins_over_the_description_and_unknown_types_are_none():
    text = rss_feed(
        dt.date(2024, 2, 13),
        [Item(title="T", abstract=ABSTRACT, arxiv_id="2402.00001", announce_type="replace")],
    ).replace("Announce Type: replace", "Announce Type: new")
    (record,) = parse_listing(text, source="f.xml", today=dt.date(2024, 2, 13)).records
    assert record.announce_type == "replace"
    odd = text.replace(">replace<", ">withdrawn<").replace("Announce Type: new", "Announce Type: x")
    (record,) = parse_listing(odd, source="f.xml", today=dt.date(2024, 2, 13)).records
    assert record.announce_type is None


def test_a_replacement_updates_a_known_paper_and_it_is_not_sent_again(tmp_path):
    config = make_instance(tmp_path / "inst", CODE)
    v1 = Item(
        title="Code Generation at Scale",
        abstract=ABSTRACT,
        arxiv_id="2402.01000",
        version=1,
        announce_type="new",
    )
    ingest(config, "2024-02-13", write_listing(tmp_path, "rss", dt.date(2024, 2, 13), [v1]))
    assert run(config, "2024-02-13")["sent"] == 1
    v2 = Item(
        title="Program Synthesis at Scale",
        abstract=ABSTRACT + " Revised.",
        arxiv_id="2402.01000",
        version=2,
        announce_type="replace",
    )
    output = ingest(
        config, "2024-02-15", write_listing(tmp_path, "rss", dt.date(2024, 2, 15), [v2])
    )
    assert "0 new papers, 1 updated, 0 duplicates" in output
    assert "note:" not in output  # a new version is news, not a stale feed
    row = papers(config)["2402.01000"]
    assert (row["title"], row["version"], row["is_new"]) == ("Program Synthesis at Scale", 2, 1)
    assert (row["first_seen"], row["published"]) == ("2024-02-13", "2024-02-13")
    assert run(config, "2024-02-15")["sent"] == 0
    assert sent_ids(config) == {"2402.01000"}


def test_an_item_without_a_date_is_dated_by_its_id_not_by_the_channel(tmp_path):
    config = make_instance(tmp_path / "inst", CODE)
    item = Item(
        title="Code Generation Without Dates",
        abstract=ABSTRACT,
        arxiv_id="2401.05000",
        version=1,
        announce_type="new",
    )
    path = tmp_path / "feed.xml"
    path.write_text(rss_feed(dt.date(2024, 2, 13), [item], item_dates=False), encoding="utf-8")
    ingest(config, "2024-02-13", path)
    assert papers(config)["2401.05000"]["published"] == "2024-01-01"


def test_a_cross_list_not_wanted_is_new_when_another_feed_of_the_day_announces_it(tmp_path):
    config = make_instance(tmp_path / "inst", CODE)
    set_config(config, "ingest", "cross_lists", "false")
    day = dt.date(2024, 2, 13)
    cross = Item(
        title="Program Synthesis Across Lists",
        abstract=ABSTRACT,
        arxiv_id="2402.02000",
        version=1,
        announce_type="cross",
    )
    ingest(config, "2024-02-13", write_listing(tmp_path, "rss", day, [cross]))
    assert papers(config)["2402.02000"]["is_new"] == 0
    home = Item(**{**cross.__dict__, "announce_type": "new"})
    ingest(config, "2024-02-13", write_listing(tmp_path, "rss", day, [home], n=1))
    assert papers(config)["2402.02000"]["is_new"] == 1
    assert run(config, "2024-02-13")["sent"] == 1
    # A day later, a "new" announcement of a paper stored as old changes nothing.
    old = Item(
        title="Code Generation Replaced",
        abstract=ABSTRACT,
        arxiv_id="2310.03000",
        version=2,
        announce_type="replace",
    )
    ingest(config, "2024-02-13", write_listing(tmp_path, "rss", day, [old], n=2))
    again = Item(**{**old.__dict__, "announce_type": "new"})
    ingest(config, "2024-02-14", write_listing(tmp_path, "rss", day, [again], n=3))
    assert papers(config)["2310.03000"]["is_new"] == 0


def test_cross_lists_is_a_documented_validated_config_key(tmp_path):
    config = make_instance(tmp_path / "inst", CODE)
    text = config.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("cross_lists"))
    assert line.split("#")[0].strip() == "cross_lists = true" and "#" in line
    assert load_config(config).ingest.cross_lists is True
    set_config(config, "ingest", "cross_lists", '"no"')
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value) == f"{config}: ingest.cross_lists must be true or false, got 'no'"
    result = invoke(config, "ingest", "--inbox")
    assert result.exit_code != 0
    assert "ingest.cross_lists must be true or false" in result.output


def test_json_report_counts_old_papers(tmp_path):
    config = make_instance(tmp_path / "inst", CODE)
    old = Item(
        title="Code Generation Replaced",
        abstract=ABSTRACT,
        arxiv_id="2310.03000",
        version=2,
        announce_type="replace-cross",
    )
    path = write_listing(tmp_path, "rss", dt.date(2024, 2, 13), [old])
    result = invoke(config, "ingest", "--json", "--date", "2024-02-13", str(path))
    (entry,) = json.loads(result.output)
    assert (entry["new"], entry["old_papers"], entry["note"]) == (1, 1, "")
