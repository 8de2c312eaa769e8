"""The run report counts each digest that did not go out under what happened to it:
skipped (nothing above the threshold), unsubscribed or removed during the run, left
pending by a delivery error (the next run retries it) or failed for good. The report, the
stored run (`digest runs --json`, `digest status`) and the database agree."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from digest.config import Config, load_config
from digest.records import Keyword, Profile
from digest.render import make_renderer
from digest.run import RunContext, RunReport, run_digests
from digest.store import Store
from digest.store.subscribers import SubscriberSettings, SubscriberUpdate
from digest.transports import OutboxTransport, OutgoingMessage, Receipt
from tests.run_helpers import (
    TEST_SECRET,
    ingest_synthesis_papers,
    invoke,
    set_config,
    setup_instance,
)
from tests.smtp_server import Handler, smtp_server

DAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC)
EMAILS = [f"s{n:02d}@example.org" for n in range(12)]
LEAVING = EMAILS[1:11]  # loaded by the run, then gone before their turn


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


class Meanwhile(OutboxTransport):
    """The outbox; on the first message, ``LEAVING`` unsubscribe or are purged on another
    connection (as `digest serve` or `digest subscribers remove --purge` would)."""

    def __init__(self, config: Config, how: str, *, one_at_a_time: bool = False) -> None:
        super().__init__(config.delivery.outbox)
        self.database, self.how = config.store.database, how
        self.recipients: list[str] = []
        if one_at_a_time:  # the path SMTP takes: a claim, a hand-off and a mark per digest
            self.idempotent_redelivery = False

    def send(self, message: OutgoingMessage) -> Receipt:
        if not self.recipients:
            other = Store.open(self.database)
            try:
                for email in LEAVING:
                    if self.how == "purge":
                        other.remove_subscriber(email, purge=True, now=NOW)
                    else:
                        other.set_status_by_id(other.subscriber(email).id, self.how, now=NOW)
            finally:
                other.close()
        self.recipients.append(message.recipient)
        return super().send(message)


def prepared(
    tmp_path: Path, *, listed_on: dt.date = DAY, tz: dict[str, str] | None = None
) -> Config:
    """An instance with the twelve subscribers of EMAILS (all interested in the listing's
    papers, in UTC unless ``tz`` says otherwise) and eight papers first seen on ``listed_on``."""
    config = load_config(setup_instance(tmp_path / "inst"))
    ingest_synthesis_papers(config.path, tmp_path, listed_on)
    profile = Profile(keywords=(Keyword("program synthesis"), Keyword("code generation")))
    store = Store.open(config.store.database)
    try:
        for email in ("ada@example.org", "grace@example.org", "alan@example.org"):
            store.remove_subscriber(email, purge=True, now=NOW)  # setup_instance's three
        store.save_subscribers(
            [
                SubscriberUpdate(
                    email,
                    SubscriberSettings(max_papers=3, timezone=(tz or {}).get(email, "UTC")),
                    profile,
                )
                for email in EMAILS
            ],
            who="test",
            now=NOW,
        )
    finally:
        store.close()
    return config


def run(config: Config, transport: OutboxTransport, *, on_date: dt.date | None = DAY) -> RunReport:
    store = Store.open(config.store.database)
    try:
        ctx = RunContext(transport=transport, renderer=make_renderer(config), now=lambda: NOW)
        return run_digests(store, config, ctx, date_override=on_date)
    finally:
        store.close()


def counts(report: RunReport | dict) -> dict[str, int]:
    names = ("sent", "skipped", "unsubscribed", "removed", "already_done", "pending", "failed")
    get = report.get if isinstance(report, dict) else lambda name: getattr(report, name)
    return {name: get(name) for name in names}


def stored(config: Config) -> dict:
    """The last run as `digest runs --json` shows it."""
    result = invoke(config.path, "runs", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)[0]


def expect(**given: int) -> dict[str, int]:
    zero = dict.fromkeys(("skipped", "unsubscribed", "removed", "already_done", "pending"), 0)
    return {"sent": 0, **zero, "failed": 0, **given}


@pytest.mark.parametrize("one_at_a_time", [False, True], ids=["batch", "one-at-a-time"])
def test_unsubscribed_during_the_run_are_not_counted_as_quiet_days(
    tmp_path: Path, one_at_a_time: bool
) -> None:
    config = prepared(tmp_path)
    transport = Meanwhile(config, "unsubscribed", one_at_a_time=one_at_a_time)
    report = run(config, transport)
    assert transport.recipients == [EMAILS[0], EMAILS[11]]
    assert counts(report) == expect(sent=2, unsubscribed=10)
    assert counts(stored(config)) == counts(report)
    status = invoke(config.path, "status").output
    assert ": ok, 2 sent, 0 skipped, 10 unsubscribed during the run, 0 failed" in status


@pytest.mark.parametrize("one_at_a_time", [False, True], ids=["batch", "one-at-a-time"])
def test_purged_during_the_run_are_counted_as_removed_and_get_nothing(
    tmp_path: Path, one_at_a_time: bool
) -> None:
    config = prepared(tmp_path)
    transport = Meanwhile(config, "purge", one_at_a_time=one_at_a_time)
    report = run(config, transport)
    # Batch: the ten were claimed with the first one, before the purge; they get nothing.
    assert transport.recipients == [EMAILS[0], EMAILS[11]]
    assert counts(report) == expect(sent=2, removed=10)
    assert counts(stored(config)) == counts(report)
    outbox = config.delivery.outbox / DAY.isoformat()
    assert sorted(p.name for p in outbox.glob("*.eml")) == [
        "s00_at_example.org.eml",
        "s11_at_example.org.eml",
    ]
    status = invoke(config.path, "status").output
    assert ": ok, 2 sent, 0 skipped, 10 removed during the run, 0 failed" in status


def test_purged_before_their_digest_is_opened_are_removed_not_a_failed_run(tmp_path: Path) -> None:
    """Subscribers due on two dates (one in Honolulu, where it is still the 15th): the run
    delivers the 15th first, and the people purged meanwhile are due on the 16th."""
    honolulu = EMAILS[0]
    config = prepared(
        tmp_path, listed_on=DAY - dt.timedelta(days=1), tz={honolulu: "Pacific/Honolulu"}
    )
    transport = Meanwhile(config, "purge")
    report = run(config, transport, on_date=None)
    assert report.status == "ok", report.notes
    assert transport.recipients == [honolulu, EMAILS[11]]
    assert counts(report) == expect(sent=2, removed=10)
    assert counts(stored(config)) == counts(report)


def test_an_outbox_write_error_leaves_the_digest_pending_not_failed(tmp_path: Path) -> None:
    config_path = setup_instance(tmp_path / "inst")
    listing = tmp_path / "papers.jsonl"
    listing.write_text(
        json.dumps({"id": "2611.00001", "title": "Program synthesis", "abstract": "Code."}) + "\n",
        encoding="utf-8",
    )
    assert invoke(config_path, "ingest", "--date", DAY.isoformat(), str(listing)).exit_code == 0
    for email in ("grace@example.org", "alan@example.org"):
        assert invoke(config_path, "subscribers", "pause", email).exit_code == 0
    config = load_config(config_path)
    blocker = config.delivery.outbox / DAY.isoformat()  # a file where the date folder goes
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder", encoding="utf-8")

    result = invoke(config_path, "run", "--date", DAY.isoformat())
    assert result.exit_code == 1  # the run failed: nothing could be written
    reason = f"{blocker}/ada_at_example.org.eml: cannot write to the outbox (Not a directory)"
    assert (
        "  left pending:      1 (a delivery error; the next run retries)\n"
        f"    ada@example.org: {reason}\n"
        "  failed:            0\n"
    ) in result.output
    row = stored(config)
    assert (row["status"], row["pending"], row["failed"]) == ("failed", 1, 0)
    assert row["failures"] == [{"email": "ada@example.org", "reason": reason, "retry": True}]
    status = invoke(config_path, "status").output
    assert ": failed, 0 sent, 0 skipped, 1 left pending (retried next run), 0 failed" in status
    store = Store.open(config.store.database)
    try:
        row = store.digest_row(store.subscriber("ada@example.org").id, DAY)
        assert row is not None and row.status == "pending"
    finally:
        store.close()

    blocker.unlink()  # the retry the report promised
    again = json.loads(invoke(config_path, "run", "--date", DAY.isoformat(), "--json").output)
    assert counts(again) == expect(sent=1)


def test_a_transient_smtp_refusal_leaves_the_digest_pending_not_failed(
    tmp_path: Path, shared_listings: list[Path]
) -> None:
    """A 4xx that outlasts the retries puts the digest back to pending (the next run tries
    again): it is not a failure for good, as a 5xx is."""
    handler = Handler(refuse={"grace@example.org": "450 4.2.1 mailbox busy, try later"})
    with smtp_server(handler) as port:
        config_path = setup_instance(tmp_path / "inst")
        for section, key, value in (
            ("delivery", "transport", '"smtp"'),
            ("smtp", "host", '"127.0.0.1"'),
            ("smtp", "port", str(port)),
            ("smtp", "security", '"none"'),
            ("smtp", "backoff_seconds", "0.01"),
        ):
            set_config(config_path, section, key, value)
        for path in shared_listings:
            result = invoke(config_path, "ingest", "--date", DAY.isoformat(), str(path))
            assert result.exit_code == 0, result.output
        result = invoke(config_path, "run", "--date", DAY.isoformat(), "--json")
    assert result.exit_code == 1  # not everything went out
    report = json.loads(result.output)
    assert counts(report) == expect(sent=2, pending=1)
    assert [(f["email"], f["retry"]) for f in report["failures"]] == [("grace@example.org", True)]
    row = stored(load_config(config_path))
    assert counts(row) == counts(report) and row["failures"] == report["failures"]
    store = Store.open(load_config(config_path).store.database)
    try:
        digest = store.digest_row(store.subscriber("grace@example.org").id, DAY)
        assert digest is not None and digest.status == "pending"
    finally:
        store.close()
