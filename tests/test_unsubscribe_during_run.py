"""Issue 11, item 3: an unsubscribe that arrives while a run is going wins, as long as it
lands before that subscriber's digest is handed to the transport."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from digest.config import Config, load_config
from digest.records import Keyword, Profile
from digest.render import make_renderer
from digest.run import RunContext, run_digests
from digest.store import Store
from digest.store.subscribers import SubscriberSettings, SubscriberUpdate
from digest.transports import OutboxTransport, OutgoingMessage, Receipt
from tests.run_helpers import TEST_SECRET, ingest_synthesis_papers

DAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC)
SECRET = TEST_SECRET


class UnsubscribingTransport(OutboxTransport):
    """The outbox, and on the first message ten other people click "unsubscribe" (on
    their own connection, as `digest serve` would)."""

    def __init__(self, folder: Path, database: Path, leaving: list[str]) -> None:
        super().__init__(folder)
        self.database = database
        self.leaving = leaving
        self.recipients: list[str] = []

    def send(self, message: OutgoingMessage) -> Receipt:
        if not self.recipients:
            other = Store.open(self.database)
            try:
                for email in self.leaving:
                    other.set_status_by_id(other.subscriber(email).id, "unsubscribed", now=NOW)
            finally:
                other.close()
        self.recipients.append(message.recipient)
        return super().send(message)


def _instance(instance: Config, tmp_path: Path, emails: list[str]) -> Config:
    ingest_synthesis_papers(instance.path, tmp_path, DAY)
    profile = Profile(keywords=(Keyword("program synthesis"), Keyword("code generation")))
    store = Store.open(instance.store.database)
    try:
        store.save_subscribers(
            [
                SubscriberUpdate(email, SubscriberSettings(max_papers=3), profile)
                for email in emails
            ],
            who="test",
            now=NOW,
        )
    finally:
        store.close()
    return load_config(instance.path)


def test_people_who_unsubscribe_mid_run_get_nothing(
    instance: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    emails = [f"s{n:02d}@example.org" for n in range(12)]
    leaving = emails[1:11]  # loaded by the run, then gone before their turn
    config = _instance(instance, tmp_path, emails)
    transport = UnsubscribingTransport(config.delivery.outbox, config.store.database, leaving)
    store = Store.open(config.store.database)
    try:
        ctx = RunContext(transport=transport, renderer=make_renderer(config), now=lambda: NOW)
        report = run_digests(store, config, ctx, date_override=DAY)
        assert transport.recipients == [emails[0], emails[11]]
        # Counted as unsubscribed during the run, not as quiet days (skipped).
        assert (report.sent, report.skipped, report.unsubscribed, report.failed) == (2, 0, 10, 0)
        for email in leaving:
            sub = store.subscriber(email)
            row = store.digest_row(sub.id, DAY)
            assert row is not None
            assert (row.status, row.error, row.claimed_by) == ("skipped", "unsubscribed", None)
            assert store.sent_paper_ids([sub.id])[sub.id] == set()
        first = store.subscriber(emails[0]).id
        assert len(store.sent_paper_ids([first])[first]) == 3
    finally:
        store.close()
    assert sorted(p.name for p in (config.delivery.outbox / DAY.isoformat()).glob("*.eml")) == [
        "s00_at_example.org.eml",
        "s11_at_example.org.eml",
    ]
