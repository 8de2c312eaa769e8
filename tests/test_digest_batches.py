"""The store's bulk state changes (digest/store/digest_batches.py) do what the one-digest
methods do, digest for digest: the same rows, sends, counts and answers.

Two copies of one database, with digests in every state a run meets (pending, a crashed
run's claim, another run's claim, already sent, subscribers active, unsubscribed, paused
and with hard failures), go through the same steps: one copy with the one-digest methods
the SMTP path uses, the other with the bulk ones the outbox path uses. After each step
both databases hold the same rows.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import Config
from digest.ingest import ingest_file
from digest.records import Keyword, Pick, Profile
from digest.store import DigestClaim, SentDigest, Store
from digest.store.subscribers import SubscriberSettings, SubscriberUpdate

DAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)
OURS = "run 7 pid 100"
CRASHED = "run 6 pid 99"  # a run that died holding its claims
OTHER = "run 8 pid 101"  # a run that is still going
EMAILS = [f"p{n}@example.org" for n in range(9)]
PICKS = (Pick("2611.00001", 0.5, ("matches retrieval",)), Pick("2611.00002", 0.25, ()))


@pytest.fixture
def copies(instance: Config, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """The prepared database twice: (for the one-digest methods, for the bulk ones)."""
    store = Store.open(instance.store.database)
    listing = tmp_path / "papers.jsonl"
    listing.write_text(
        '{"id": "2611.00001", "title": "Dense retrieval at scale", "abstract": "A."}\n'
        '{"id": "2611.00002", "title": "Sparse retrieval revisited", "abstract": "B."}\n',
        encoding="utf-8",
    )
    assert not ingest_file(store, listing, today=DAY, now=NOW).failed
    profile = Profile(keywords=(Keyword("retrieval"),))
    store.save_subscribers(
        [SubscriberUpdate(e, SubscriberSettings(), profile) for e in EMAILS], who="test", now=NOW
    )
    ids = [store.subscriber(e).id for e in EMAILS]
    rows = store.open_digests(ids, DAY, now=NOW)
    # p1 unsubscribed and p2 paused before the claim; p3 has two hard failures.
    store.set_status_by_id(ids[1], "unsubscribed", now=NOW)
    store.set_status_by_id(ids[2], "paused", now=NOW)
    store.db.execute("UPDATE subscribers SET hard_failures = 2 WHERE id = ?", [ids[3]])
    store.db.conn.commit()
    # p4's digest was claimed by a run that crashed; p5's by a run still going; p6's sent.
    for row, claim in ((rows[4], CRASHED), (rows[5], OTHER), (rows[6], OURS)):
        assert store.claim_digest(
            row.id,
            from_status="pending",
            claimed_by=claim,
            previous_claim=None,
            picks=PICKS,
            message_id="<m@x>",
            run_id=1,
            now=NOW,
        )
    assert store.mark_digest_sent(
        rows[6].id, subscriber_id=ids[6], paper_ids=["2611.00001"], claimed_by=OURS, now=NOW
    )
    store.close()
    copy = tmp_path / "copy.db"
    shutil.copy(instance.store.database, copy)
    one, bulk = Store.open(instance.store.database), Store.open(copy)
    yield one, bulk
    one.close()
    bulk.close()


def dump(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: sorted(store.db.execute(sql).fetchall())
        for table, sql in (
            ("digests", "SELECT * FROM digests"),
            ("sends", "SELECT * FROM sends"),
            ("subscribers", "SELECT id, status, hard_failures FROM subscribers"),
            ("digest_pages", "SELECT * FROM digest_pages"),
        )
    }


def claims(store: Store) -> list[DigestClaim]:
    """What the run would claim: every digest it read as not final, as it read it.

    p5's digest is read as pending although another run has just claimed it (the run
    opened the digests before that run's claim): its claim must fail."""
    found = []
    for email in EMAILS:
        row = store.digest_row(store.subscriber(email).id, DAY)
        assert row is not None
        if row.status in ("sent", "skipped", "failed"):
            continue
        status, claim = (
            ("pending", None) if row.claimed_by == OTHER else (row.status, row.claimed_by)
        )
        found.append(DigestClaim(row.id, status, claim, PICKS, f"<{row.id}@x>"))
    return found


def test_bulk_claims_skips_marks_and_releases_agree_with_one_digest_at_a_time(copies):
    one, bulk = copies
    assert dump(one) == dump(bulk)

    # Claims: p0, p3, p7, p8 and the crashed run's p4 are claimed; p1 (unsubscribed) and p2
    # (paused) become skipped with their status as the reason; p5 is another run's.
    wanted = claims(one)
    assert wanted == claims(bulk)
    answers = {}
    for c in wanted:
        claimed = one.claim_digest(
            c.digest_id,
            from_status=c.from_status,
            claimed_by=OURS,
            previous_claim=c.previous_claim,
            picks=c.picks,
            message_id=c.message_id,
            run_id=7,
            now=LATER,
        )
        row = one.db.execute("SELECT status FROM digests WHERE id = ?", [c.digest_id]).fetchone()
        answers[c.digest_id] = (
            "claimed" if claimed else ("skipped" if row[0] == "skipped" else "taken")
        )
    outcomes = bulk.claim_digests(wanted, claimed_by=OURS, run_id=7, now=LATER)
    assert outcomes == answers
    assert sorted(outcomes.values()) == ["claimed"] * 5 + ["skipped"] * 2 + ["taken"]
    assert dump(one) == dump(bulk)
    errors = bulk.db.execute("SELECT error FROM digests WHERE status = 'skipped'").fetchall()
    assert sorted(e for (e,) in errors) == ["paused", "unsubscribed"]

    # Pages are saved with the claims.
    mine = sorted(i for i, o in outcomes.items() if o == "claimed")
    for digest_id in mine:
        one.save_compressed_digest_page(digest_id, b"page %d" % digest_id, now=LATER)
    bulk.save_compressed_digest_pages([(i, b"page %d" % i) for i in mine], now=LATER)
    assert dump(one) == dump(bulk)

    # p7 unsubscribes after the claim: only their digest is skipped, before its hand-off.
    for store in (one, bulk):
        store.set_status_by_id(store.subscriber(EMAILS[7]).id, "unsubscribed", now=LATER)
    gone = {i for i in mine if one.skip_claim_if_inactive(i, claimed_by=OURS, now=LATER)}
    assert bulk.skip_claims_if_inactive(mine, claimed_by=OURS, now=LATER) == gone
    assert len(gone) == 1
    assert dump(one) == dump(bulk)

    # Marks: the rest are sent (their papers recorded, p3's hard failures reset); p7's
    # skipped digest and p5's (another run's) are not.
    owners = dict(one.db.execute("SELECT id, subscriber_id FROM digests"))
    marking = [i for i in mine if i not in gone]
    release = marking.pop()  # handed back instead, below
    extra = [i for i, o in outcomes.items() if o != "claimed"] + sorted(gone)
    sent = [SentDigest(i, owners[i], ("2611.00001", "2611.00002")) for i in marking + extra]
    marked = {
        s.digest_id
        for s in sent
        if one.mark_digest_sent(
            s.digest_id,
            subscriber_id=s.subscriber_id,
            paper_ids=s.paper_ids,
            claimed_by=OURS,
            now=LATER,
        )
    }
    assert bulk.mark_digests_sent(sent, claimed_by=OURS, now=LATER) == marked == set(marking)
    assert dump(one) == dump(bulk)
    assert dict(bulk.db.execute("SELECT email, hard_failures FROM subscribers"))[EMAILS[3]] == 0

    # Release: the last claimed digest goes back to pending; nothing else moves.
    for digest_id in (release, *marking):
        one.release_digest(digest_id, claimed_by=OURS, now=LATER)
    bulk.release_digests([release, *marking], claimed_by=OURS, now=LATER)
    assert dump(one) == dump(bulk)
    status = bulk.db.execute("SELECT status, claimed_by FROM digests WHERE id = ?", [release])
    assert status.fetchone() == ("pending", None)

    # Skips of quiet days: only pending digests move.
    reasons = [(i, "0 candidate papers, none above the threshold") for i in owners]
    skipped = sum(one.mark_digest_skipped(i, reason=r, now=LATER) for i, r in reasons)
    assert bulk.mark_digests_skipped(reasons, now=LATER) == skipped == 1
    assert dump(one) == dump(bulk)


def test_data_version_moves_only_for_another_connections_commits(instance: Config) -> None:
    store, other = Store.open(instance.store.database), Store.open(instance.store.database)
    try:
        update = SubscriberUpdate("a@example.org", SubscriberSettings(), Profile())
        store.save_subscribers([update], who="test", now=NOW)
        sub = store.subscriber("a@example.org")
        # Read inside a write transaction (as the run reads it with a batch's claims):
        # its own commit does not count, another connection's next commit does.
        with store.transaction():
            store.set_status_by_id(sub.id, "paused", now=NOW)
            before = store.data_version()
        assert store.data_version() == before
        other.set_status_by_id(sub.id, "unsubscribed", now=NOW)
        assert store.data_version() != before
    finally:
        store.close()
        other.close()
