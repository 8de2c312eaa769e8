"""Identity across versions (issue 12, item 1): one paper row whatever its versions,
titles and sources; the newest version's text; every title an alias; sent once."""

from __future__ import annotations

import datetime as dt
import email
import json
import re
from email import policy
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

import digest.store.papers as store_module
import digest.store.schema as schema_module
from digest.cli import cli
from digest.config import load_config
from digest.records import PaperRecord
from digest.store import ListingInfo, Store

from .listing_fixtures import Item, write_listing
from .shared_data import shared_path

PAPER = "2408.08754"
V1 = "Graph Transformers for Signed Link Prediction"
V2 = "Self-Explainable Graph Transformer for Link Sign Prediction"
V3 = "Explaining Signed Links with Graph Transformers"
ABSTRACT = (
    "Signed networks carry positive and negative edges. We adapt graph transformers to "
    "predict the sign of a link, version {v}."
)
SUBSCRIBERS = """
[[subscribers]]
email = "kim@example.org"
keywords = ["graph transformer", "signed link", "link sign", "signed networks"]
min_score = 0.01

[[subscribers]]
email = "lee@example.org"
keywords = ["graph transformers", "sign prediction"]
min_score = 0.01
"""


def make_instance(root: Path, subscribers: str = SUBSCRIBERS) -> Path:
    """`digest init` plus the subscribers; the config's path."""
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0
    config = root / "config.toml"
    (root / "subs.toml").write_text(subscribers, encoding="utf-8")
    assert invoke(config, "subscribers", "import", str(root / "subs.toml")).exit_code == 0
    return config


def invoke(config: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def rows(config: Path) -> list[dict]:
    db = sqlite_utils.Database(load_config(config).store.database)
    return list(db["papers"].rows)


def titles(config: Path) -> set[str]:
    db = sqlite_utils.Database(load_config(config).store.database)
    return {r["title"] for r in db["paper_titles"].rows}


def sends(config: Path) -> list[tuple[int, str]]:
    db = sqlite_utils.Database(load_config(config).store.database)
    return sorted((r["subscriber_id"], r["paper_id"]) for r in db["sends"].rows)


def outbox_mentions(config: Path, needle: str) -> dict[str, int]:
    """How many emails in the outbox mention ``needle`` (in the text body), per recipient."""
    counts: dict[str, int] = {}
    for eml in sorted(load_config(config).delivery.outbox.glob("*/*.eml")):
        message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        if needle in text:
            counts[str(message["To"])] = counts.get(str(message["To"]), 0) + 1
    return counts


def ingest(config: Path, day: str, path: Path) -> str:
    result = invoke(config, "ingest", "--date", day, str(path))
    assert result.exit_code == 0, result.output
    return result.output


def run(config: Path, day: str) -> dict:
    result = invoke(config, "run", "--date", day, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def instance_with_a_page(tmp_path: Path, title: str, *, v: int) -> tuple[Path, dt.date]:
    """An instance (:func:`make_instance`) that ingested, on 2024-08-17, a daily-papers
    page listing one title-only paper (``title``, the abstract of version ``v``); its
    config and the listing day."""
    config = make_instance(tmp_path / "inst")
    day = dt.date(2024, 8, 17)
    page = Item(title=title, abstract=ABSTRACT.format(v=v))
    ingest(config, "2024-08-17", write_listing(tmp_path, "page", day, [page]))
    return config, day


# --- the case files --------------------------------------------------------------------


def test_case_v1_sent_v2_updates_page_attaches_nothing_sent_again(tmp_path):
    v1 = shared_path("cases", "atom-title-change-v1.xml")
    v2 = shared_path("cases", "atom-title-change-v2.xml")
    page = shared_path("cases", "page-title-change-v2.txt")
    config = make_instance(tmp_path / "inst")

    ingest(config, "2024-08-17", v1)
    assert run(config, "2024-08-17")["sent"] == 2
    assert outbox_mentions(config, V1) == {"kim@example.org": 1, "lee@example.org": 1}

    output = ingest(config, "2024-08-21", v2)
    assert "0 new papers, 1 updated, 0 duplicates" in output
    (row,) = rows(config)
    assert (row["id"], row["version"], row["title"]) == (PAPER, 2, V2)
    assert row["abstract"].startswith(
        "Signed networks carry positive and negative edges. We present"
    )
    assert row["first_seen"] == "2024-08-17"  # the first-seen day stays
    assert row["published"] == "2024-08-16"

    output = ingest(config, "2024-08-21", page)
    assert "0 new papers, 0 updated, 1 duplicate" in output
    assert [r["id"] for r in rows(config)] == [PAPER]  # the page's title-only record attached
    assert titles(config) == {V1, V2}

    report = run(config, "2024-08-21")
    assert report["sent"] == 0
    assert sends(config) == [(1, PAPER), (2, PAPER)]
    assert outbox_mentions(config, V2) == {}
    # Searching finds the paper by its new text, not its old one.
    store = Store.open(load_config(config).store.database)
    try:
        assert [p.id for p in store.search_papers("self-explainable")] == [PAPER]
        assert store.search_papers("adapt graph transformers") == []
        assert store.paper_by_title(V1.upper()).id == PAPER  # type: ignore[union-attr]
    finally:
        store.close()


# --- generated listings ----------------------------------------------------------------


def version(v: int, title: str) -> Item:
    return Item(title=title, abstract=ABSTRACT.format(v=v), arxiv_id=PAPER, version=v)


def test_an_older_version_arriving_later_changes_nothing(tmp_path):
    config = make_instance(tmp_path / "inst")
    ingest(
        config,
        "2024-08-17",
        write_listing(tmp_path, "atom", dt.date(2024, 8, 17), [version(1, V1)]),
    )
    ingest(
        config,
        "2024-08-20",
        write_listing(tmp_path, "atom", dt.date(2024, 8, 20), [version(3, V3)]),
    )
    (before,) = rows(config)
    output = ingest(
        config, "2024-08-22", write_listing(tmp_path, "rss", dt.date(2024, 8, 22), [version(2, V2)])
    )
    assert "0 new papers, 0 updated, 1 duplicate" in output
    (after,) = rows(config)
    assert after == before
    assert (after["version"], after["title"], after["abstract"]) == (3, V3, ABSTRACT.format(v=3))
    assert titles(config) == {V1, V2, V3}  # v2's title was still seen: it names the paper


def test_title_only_records_match_any_alias_normalised(tmp_path):
    config = make_instance(tmp_path / "inst")
    day = dt.date(2024, 8, 17)
    ingest(config, "2024-08-17", write_listing(tmp_path, "atom", day, [version(1, V1)]))
    ingest(config, "2024-08-18", write_listing(tmp_path, "atom", day, [version(2, V2)], n=1))
    # The v1 title, in other case and punctuation, on a page and in a JSON record.
    page = Item(title="GRAPH TRANSFORMERS FOR SIGNED-LINK PREDICTION", abstract="Old text. Two.")
    record = Item(title="graph transformers: for signed link prediction", abstract="x")
    out = ingest(config, "2024-08-19", write_listing(tmp_path, "page", day, [page], n=2))
    assert "0 new papers, 0 updated, 1 duplicate" in out
    out = ingest(config, "2024-08-19", write_listing(tmp_path, "records", day, [record], n=3))
    assert "0 new papers, 0 updated, 1 duplicate" in out
    (row,) = rows(config)
    assert (row["id"], row["title"]) == (PAPER, V2)  # a title-only record changes no text


def test_an_alias_shared_by_two_papers_is_ambiguous(tmp_path):
    config = make_instance(tmp_path / "inst")
    day = dt.date(2024, 8, 17)
    other = Item(
        title=V3, abstract="Another paper. Same title as a version.", arxiv_id="2409.00001"
    )
    ingest(config, "2024-08-17", write_listing(tmp_path, "atom", day, [version(1, V1), other]))
    ingest(config, "2024-08-18", write_listing(tmp_path, "atom", day, [version(2, V3)], n=1))
    page = Item(title=V3, abstract="Which one is it? Nobody knows.")
    out = ingest(config, "2024-08-19", write_listing(tmp_path, "page", day, [page], n=2))
    assert "1 ambiguous title, not attached" in out
    assert sorted(r["id"] for r in rows(config)) == [PAPER, "2409.00001"]


@pytest.mark.parametrize("chunk", [1, 2, 5000])
def test_versions_within_one_listing_across_chunks(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", chunk)
    store = Store.open(tmp_path / "s.db", create=True)
    try:
        records = [
            PaperRecord(title=V1, abstract="v1.", arxiv_id=PAPER, version=1),
            PaperRecord(title=V2, abstract="v2.", arxiv_id=PAPER, version=2),
            PaperRecord(title=V1.lower(), abstract="page."),
            PaperRecord(title=V3, abstract="v1 again?", arxiv_id=PAPER, version=1),
        ]
        counts = store.ingest_listing(
            ListingInfo("l.jsonl", "sha", "records", None),
            records,
            first_seen=dt.date(2024, 8, 17),
            now=dt.datetime(2024, 8, 17, 8),
        )
        assert (counts.new, counts.duplicates) == (1, 3)
        db = sqlite_utils.Database(tmp_path / "s.db")
        (row,) = db["papers"].rows
        assert (row["title"], row["abstract"], row["version"]) == (V2, "v2.", 2)
        assert {r["title"] for r in db["paper_titles"].rows} == {V1, V2, V3}
        assert [p.id for p in store.search_papers("v2")] == [PAPER]
        assert store.search_papers("v1") == []
        # The full-text index agrees with the rows (a retitled staged row re-indexed right).
        store.db.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        store.close()


def test_a_failed_listing_leaves_no_titles_behind(tmp_path):
    config = make_instance(tmp_path / "inst")
    bad = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "2409.00002v1", "title": "A Paper That Fails", "abstract": "x"})
    bad.write_text(good + "\n" + json.dumps({"id": "2409.00003", "title": 3}) + "\n")
    result = invoke(config, "ingest", str(bad))
    assert result.exit_code == 1
    assert rows(config) == []
    assert titles(config) == set()


def test_sends_follow_the_paper_row_when_a_title_only_paper_gets_its_id(tmp_path):
    """A paper first seen on a page (no id) and sent, then seen with its arXiv id and a
    newer version's title: the row is renamed, its send mark follows it, nothing is sent
    again under either title."""
    config, day = instance_with_a_page(tmp_path, V1, v=0)
    assert run(config, "2024-08-17")["sent"] == 2
    (row,) = rows(config)
    assert row["id"].startswith("t:")

    ingest(config, "2024-08-18", write_listing(tmp_path, "atom", day, [version(1, V1)], n=1))
    ingest(config, "2024-08-19", write_listing(tmp_path, "atom", day, [version(2, V2)], n=2))
    (row,) = rows(config)
    assert (row["id"], row["title"]) == (PAPER, V2)
    assert sends(config) == [(1, PAPER), (2, PAPER)]
    assert run(config, "2024-08-19")["sent"] == 0
    assert sum(outbox_mentions(config, "Graph Transformer").values()) == 2


def test_the_migration_gives_stored_papers_their_title(tmp_path, monkeypatch):
    database = tmp_path / "old.db"
    before = [
        m for m in schema_module.MIGRATIONS if not m[0].endswith("_versions_titles_announcements")
    ]
    monkeypatch.setattr(schema_module, "MIGRATIONS", tuple(before))
    db = sqlite_utils.Database(database)
    schema_module.migrate(db, database)
    db.execute(
        "INSERT INTO papers (id, id_kind, title, abstract, title_key, first_seen, updated_at) "
        "VALUES ('2408.08754', 'arxiv', ?, 'a', 'graphtransformersforsignedlinkprediction', "
        "'2024-08-17', '2024-08-17T00:00:00')",
        [V1],
    )
    db.conn.commit()
    db.close()
    monkeypatch.undo()
    store = Store.open(database)
    try:
        assert store.paper_by_title(V1).id == PAPER  # type: ignore[union-attr]
        (row,) = sqlite_utils.Database(database)["papers"].rows
        assert (row["version"], row["is_new"]) == (None, 1)
    finally:
        store.close()


def test_title_lookups_use_the_alias_index(tmp_path):
    """Each chunk looks its titles up by index, never by a scan of every paper's titles:
    ingest time stays linear in the listing's length."""
    store = Store.open(tmp_path / "s.db", create=True)
    try:
        plan = store.db.execute(
            "EXPLAIN QUERY PLAN SELECT paper_id, title_key FROM paper_titles "
            "WHERE title_key IN (?, ?)",
            ["a", "b"],
        ).fetchall()
        (step,) = [row[-1] for row in plan]
        assert "USING COVERING INDEX paper_titles_key" in step, step
        # A paper deleted or renamed finds its titles by the primary key.
        plan = store.db.execute(
            "EXPLAIN QUERY PLAN SELECT 1 FROM paper_titles WHERE paper_id = ?", ["x"]
        ).fetchall()
        assert "USING PRIMARY KEY" in plan[-1][-1] or "USING COVERING INDEX" in plan[-1][-1]
    finally:
        store.close()


def test_a_page_with_a_title_not_seen_yet_is_folded_into_the_paper_later(tmp_path):
    """The page carries v2's title before any arXiv listing does: it is a paper of its own
    until v2 arrives, then it is folded into the arXiv paper (listings, sends and titles
    move over) and nothing is sent again."""
    config = make_instance(tmp_path / "inst")
    day = dt.date(2024, 8, 17)
    ingest(config, "2024-08-17", write_listing(tmp_path, "atom", day, [version(1, V1)]))
    assert run(config, "2024-08-17")["sent"] == 2
    page = Item(title=V2, abstract=ABSTRACT.format(v=2))
    ingest(config, "2024-08-20", write_listing(tmp_path, "page", day, [page], n=1))
    assert len(rows(config)) == 2  # nothing tells yet that it is the same paper

    output = ingest(
        config, "2024-08-20", write_listing(tmp_path, "atom", day, [version(2, V2)], n=2)
    )
    assert "0 new papers, 1 updated, 0 duplicates" in output
    (row,) = rows(config)
    assert (row["id"], row["title"], row["first_seen"]) == (PAPER, V2, "2024-08-17")
    db = sqlite_utils.Database(load_config(config).store.database)
    assert {r["paper_id"] for r in db["paper_listings"].rows} == {PAPER}
    assert len(list(db["paper_listings"].rows)) == 3
    assert run(config, "2024-08-20")["sent"] == 0
    assert sends(config) == [(1, PAPER), (2, PAPER)]
    db.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")


def test_a_folded_paper_already_sent_keeps_one_send_mark(tmp_path):
    config = make_instance(tmp_path / "inst")
    day = dt.date(2024, 8, 17)
    ingest(config, "2024-08-17", write_listing(tmp_path, "atom", day, [version(1, V1)]))
    run(config, "2024-08-17")
    page = Item(title=V2, abstract=ABSTRACT.format(v=2))
    ingest(config, "2024-08-20", write_listing(tmp_path, "page", day, [page], n=1))
    assert run(config, "2024-08-20")["sent"] == 2  # sent again: it looked like a new paper
    ingest(config, "2024-08-21", write_listing(tmp_path, "rss", day, [version(2, V2)], n=2))
    assert [r["id"] for r in rows(config)] == [PAPER]
    assert sends(config) == [(1, PAPER), (2, PAPER)]
    for later in ("2024-08-21", "2024-08-22"):
        assert run(config, later)["sent"] == 0


def test_a_failed_listing_folds_no_stored_paper_into_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", 1)  # merged before the bad record
    config, _ = instance_with_a_page(tmp_path, V2, v=2)
    run(config, "2024-08-17")
    (stray,) = rows(config)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        "\n".join(
            [
                json.dumps({"id": f"{PAPER}v1", "title": V1, "abstract": "one"}),
                json.dumps({"id": f"{PAPER}v2", "title": V2, "abstract": "two"}),
                json.dumps({"id": "2409.00003", "title": 3}),
            ]
        )
        + "\n"
    )
    assert invoke(config, "ingest", str(bad)).exit_code == 1
    assert rows(config) == [stray]
    assert sends(config) == [(1, stray["id"]), (2, stray["id"])]


@pytest.mark.parametrize("chunk", [1, 5000], ids=["v1-and-v2-in-two-chunks", "in-one-chunk"])
def test_a_sent_title_only_paper_is_folded_into_a_paper_new_in_the_same_file(
    tmp_path, monkeypatch, chunk
):
    """Found by a fresh tester: a title-only paper was sent; then one file carries the
    arXiv paper twice, v1 under another title (a new paper) and v2 under the sent title.
    It is one paper: folded when the file is published (it was not folded at all, so the
    subscribers got it twice)."""
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", chunk)
    config, day = instance_with_a_page(tmp_path, V2, v=2)
    assert run(config, "2024-08-17")["sent"] == 2
    (stray,) = rows(config)
    both = tmp_path / "both.jsonl"
    both.write_text(
        json.dumps({"id": f"{PAPER}v1", "title": V1, "abstract": ABSTRACT.format(v=1)})
        + "\n"
        + json.dumps({"id": f"{PAPER}v2", "title": V2, "abstract": ABSTRACT.format(v=2)})
        + "\n"
    )
    output = ingest(config, "2024-08-20", both)
    assert "0 new papers, 1 updated, 1 duplicate" in output, output
    (row,) = rows(config)
    assert (row["id"], row["title"], row["version"]) == (PAPER, V2, 2)
    assert row["first_seen"] == stray["first_seen"] == "2024-08-17"
    assert titles(config) == {V1, V2}
    assert run(config, "2024-08-20")["sent"] == 0
    assert sends(config) == [(1, PAPER), (2, PAPER)]
    db = sqlite_utils.Database(load_config(config).store.database)
    assert {r["paper_id"] for r in db["paper_listings"].rows} == {PAPER}
    assert db.execute("SELECT count(*) FROM staged_folds").fetchone() == (0,)
    db.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('integrity-check', 1)")
    # A title-only record of the same title later is the same paper too.
    again = Item(title=V2, abstract=ABSTRACT.format(v="seen again"))
    output = ingest(config, "2024-08-21", write_listing(tmp_path, "page", day, [again], n=3))
    assert "0 new papers" in output and [r["id"] for r in rows(config)] == [PAPER]


def test_a_fold_into_a_new_paper_waits_for_the_whole_file(tmp_path, monkeypatch):
    """The fold above happens only when the file is published: a file that fails after it
    leaves the sent title-only paper exactly as it was, and a later good file folds it."""
    monkeypatch.setattr(store_module, "_INGEST_CHUNK", 1)
    config, _ = instance_with_a_page(tmp_path, V2, v=2)
    run(config, "2024-08-17")
    (stray,) = rows(config)
    records = [
        json.dumps({"id": f"{PAPER}v1", "title": V1, "abstract": "one"}),
        json.dumps({"id": f"{PAPER}v2", "title": V2, "abstract": "two"}),
        # A title-only record of the sent title, after the fold: the new paper's.
        json.dumps({"title": V2, "abstract": "page"}),
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*records, json.dumps({"id": "2409.00003", "title": 3})]) + "\n")
    assert invoke(config, "ingest", str(bad)).exit_code == 1
    assert rows(config) == [stray]
    db = sqlite_utils.Database(load_config(config).store.database)
    assert db.execute("SELECT count(*) FROM staged_folds").fetchone() == (0,)
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(records) + "\n")
    ingest(config, "2024-08-20", good)
    assert [(r["id"], r["first_seen"]) for r in rows(config)] == [(PAPER, "2024-08-17")]
    assert run(config, "2024-08-20")["sent"] == 0
    assert sends(config) == [(1, PAPER), (2, PAPER)]


@pytest.mark.parametrize("one_file", [True, False], ids=["v1-and-v2-in-one-feed", "in-two-feeds"])
def test_a_new_title_only_paper_folded_into_a_replacement_stays_new(tmp_path, one_file):
    """Found by a fresh tester: a title-only paper not sent yet (its subscriber paused),
    then arXiv feeds announcing v1 (another title) and v2 (its title) as `replace`: the
    arXiv paper is an old paper, and folding the new paper into it made it old too, so it
    was never sent (and the ingest said "-1 new papers"). A paper new once stays new."""
    config, day = instance_with_a_page(tmp_path, V2, v=2)
    for address in ("kim@example.org", "lee@example.org"):
        assert invoke(config, "subscribers", "pause", address).exit_code == 0
    assert run(config, "2024-08-17")["sent"] == 0
    v1 = Item(V1, ABSTRACT.format(v=1), PAPER, 1, "replace")
    v2 = Item(V2, ABSTRACT.format(v=2), PAPER, 2, "replace")
    feeds = [[v1, v2]] if one_file else [[v1], [v2]]
    outputs = [
        ingest(config, "2024-08-20", write_listing(tmp_path, "rss", day, items, n=n))
        for n, items in enumerate(feeds, start=1)
    ]
    # No count below zero (it said "-1 new papers, 1 old paper").
    assert not any(re.search(r"-\d+ (new|old|updated|dupl)", out) for out in outputs), outputs
    assert "0 new papers, 1 updated" in outputs[-1], outputs
    (row,) = rows(config)
    assert (row["id"], row["is_new"], row["first_seen"]) == (PAPER, 1, "2024-08-17")
    for address in ("kim@example.org", "lee@example.org"):
        assert invoke(config, "subscribers", "resume", address).exit_code == 0
    assert run(config, "2024-08-20")["sent"] == 2
    assert sends(config) == [(1, PAPER), (2, PAPER)]


def test_an_id_a_paper_had_before_names_it_in_later_listings(tmp_path):
    """Found by a fresh tester: a listing's own id, replaced by the paper's arXiv id the
    next day, named the paper only within the listing that replaced it; a day later a
    record under the old id (and a new title) was a second paper, sent again."""
    config = make_instance(tmp_path / "inst")

    def records(name: str, *items: dict) -> Path:
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
        return path

    own = {"id": "lab-42", "title": V1, "abstract": ABSTRACT.format(v=1)}
    ingest(config, "2024-08-17", records("own", own))
    assert run(config, "2024-08-17")["sent"] == 2
    with_arxiv = {"id": f"{PAPER}v1", "title": V1, "abstract": ABSTRACT.format(v=1)}
    ingest(config, "2024-08-18", records("arxiv", with_arxiv))
    assert [r["id"] for r in rows(config)] == [PAPER]
    again = {"id": "lab-42", "title": V3, "abstract": ABSTRACT.format(v=3)}
    output = ingest(config, "2024-08-19", records("again", again))
    assert "0 new papers" in output, output
    assert [r["id"] for r in rows(config)] == [PAPER]
    assert V3 in titles(config)  # its new title names it too
    assert run(config, "2024-08-19")["sent"] == 0
    assert sends(config) == [(1, PAPER), (2, PAPER)]


def test_a_liked_paper_follows_it_when_it_gets_its_arxiv_id(tmp_path):
    """Found by a fresh tester: a profile liking a title-only paper kept its title hash
    once the paper got its arXiv id: `profile show` said "(not in the store)", the ranker
    lost the like, and `subscribers export` wrote the internal id."""
    config, day = instance_with_a_page(tmp_path, V2, v=2)
    assert invoke(config, "profile", "set", "kim@example.org", "--like", V2).exit_code == 0
    ingest(config, "2024-08-18", write_listing(tmp_path, "atom", day, [version(2, V2)]))
    assert [r["id"] for r in rows(config)] == [PAPER]
    shown = invoke(config, "profile", "show", "kim@example.org")
    assert V2 in shown.output and "not in the store" not in shown.output, shown.output
    exported = invoke(config, "subscribers", "export")
    assert f'liked = ["{PAPER}"]' in exported.output, exported.output
    assert "t:" not in exported.output
