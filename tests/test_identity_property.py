"""The identity property of issue 12: any sequence of versions, titles and sources of one
paper (Atom with id and version, RSS with announce types, JSON records with or without an
id, title-only daily-papers pages) gives exactly one paper row, and each subscriber gets
it at most once. Real ingest into a real SQLite store, a real run into the outbox."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.config import load_config
from digest.records import ANNOUNCE_TYPES, REPLACEMENT_TYPES

from .listing_fixtures import Item, write_listing
from .test_paper_versions import ingest, make_instance, outbox_mentions, run

PAPER = "2408.08754"
TITLES = (
    "Graph Transformers for Signed Link Prediction",
    "Self-Explainable Graph Transformer for Link Sign Prediction",
    "Signed Link Prediction with Explainable Graph Transformers",
    "Graph Transformers Predict Signed Links",
)
START = dt.date(2024, 8, 12)


@dataclass(frozen=True)
class Step:
    kind: str  # atom, rss, records, records-no-id, page
    version: int | None
    title: int  # an index into TITLES (title-only kinds: into the titles seen so far)
    announce_type: str


ID_KINDS = ("atom", "rss", "records")
TITLE_ONLY_KINDS = ("records-no-id", "page")


@st.composite
def steps(draw: st.DrawFn) -> list[Step]:
    count = draw(st.integers(1, 5))
    # A title-only record names the paper only by a title already seen: the first one
    # carries an id (a page whose title was never seen is, rightly, another paper).
    kinds = [draw(st.sampled_from(ID_KINDS))] + [
        draw(st.sampled_from(ID_KINDS + TITLE_ONLY_KINDS)) for _ in range(count - 1)
    ]
    result = []
    for kind in kinds:
        if kind in ("atom", "rss"):
            version: int | None = draw(st.integers(1, 4))
        elif kind == "records":
            version = draw(st.none() | st.integers(1, 4))
        else:
            version = None
        result.append(
            Step(
                kind=kind,
                version=version,
                title=draw(st.integers(0, len(TITLES) - 1)),
                announce_type=draw(st.sampled_from(ANNOUNCE_TYPES)),
            )
        )
    return result


def item_for(step: Step, seen: list[str]) -> tuple[str, Item]:
    """The listing kind and the item a step writes."""
    abstract = f"Signed networks carry positive and negative edges. Graph transformers {step}."
    if step.kind in TITLE_ONLY_KINDS:
        title = seen[step.title % len(seen)]
        kind = "page" if step.kind == "page" else "records"
        return kind, Item(title=title, abstract=abstract)
    return step.kind, Item(
        title=TITLES[step.title],
        abstract=abstract,
        arxiv_id=PAPER,
        version=step.version,
        announce_type=step.announce_type if step.kind == "rss" else None,
    )


def expected_title(items: list[Item]) -> str:
    """The newest version's title: a record of a newer version than the one known
    (no known version is older than any) replaces the text; the first record's text
    stays until then."""
    title, version = items[0].title, items[0].version
    for item in items[1:]:
        if item.version is not None and (version is None or item.version > version):
            title = item.title
            version = item.version
    return title


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps())
def test_one_paper_row_and_at_most_one_send_whatever_the_sequence(sequence):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        config = make_instance(root / "inst")
        seen: list[str] = []
        items: list[Item] = []
        for n, step in enumerate(sequence):
            day = START + dt.timedelta(days=n)
            kind, item = item_for(step, seen)
            seen.append(item.title)
            items.append(item)
            ingest(config, day.isoformat(), write_listing(root, kind, day, [item], n=n))
            run(config, day.isoformat())

        db = sqlite_utils.Database(load_config(config).store.database)
        (row,) = db["papers"].rows
        assert row["id"] == PAPER
        assert row["first_seen"] == START.isoformat()
        assert row["title"] == expected_title(items)
        versions = [i.version for i in items if i.version is not None]
        assert row["version"] == (max(versions) if versions else None)
        assert {r["title"] for r in db["paper_titles"].rows} == set(seen)
        db.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")

        # Sent at most once per subscriber; exactly once when the first record announced a
        # new paper (a replacement of an unknown paper is an old one, never sent).
        first = sequence[0]
        old = first.kind == "rss" and first.announce_type in REPLACEMENT_TYPES
        sends = [r["subscriber_id"] for r in db["sends"].rows]
        assert sorted(sends) == ([] if old else [1, 2])
        mentions = outbox_mentions(config, f"arxiv.org/abs/{PAPER}")
        assert mentions == ({} if old else {"kim@example.org": 1, "lee@example.org": 1})


@st.composite
def steps_with_unseen_titles(draw: st.DrawFn) -> list[Step]:
    """As :func:`steps`, but a title-only record may carry any title of the paper, one no
    listing with an id has carried yet too."""
    return [
        Step(s.kind, s.version, draw(st.integers(0, len(TITLES) - 1)), s.announce_type)
        if s.kind in TITLE_ONLY_KINDS
        else s
        for s in draw(steps())
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps_with_unseen_titles())
def test_a_title_seen_first_without_an_id_joins_the_paper_once_an_id_carries_it(sequence):
    """A title-only record whose title no record with an id has carried is a paper of its
    own (nothing ties it to the paper) until a record with the id carries that title;
    then it is folded into the paper. At the end: one row per title never carried with
    the id, and one send mark per subscriber and row."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        config = make_instance(root / "inst")
        with_id: set[str] = set()
        title_only: set[str] = set()
        for n, step in enumerate(sequence):
            day = START + dt.timedelta(days=n)
            kind, item = item_for(step, list(TITLES))
            (with_id if item.arxiv_id else title_only).add(item.title)
            ingest(config, day.isoformat(), write_listing(root, kind, day, [item], n=n))
            run(config, day.isoformat())

        db = sqlite_utils.Database(load_config(config).store.database)
        papers = {r["id"]: r for r in db["papers"].rows}
        assert PAPER in papers
        assert len(papers) == 1 + len(title_only - with_id)
        assert {r["title"] for r in db["paper_titles"].rows if r["paper_id"] == PAPER} == (with_id)
        assert papers[PAPER]["first_seen"] == START.isoformat()
        marks = [(r["subscriber_id"], r["paper_id"]) for r in db["sends"].rows]
        assert len(marks) == len(set(marks)) and set(p for _, p in marks) <= set(papers)
        db.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")
