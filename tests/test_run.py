"""The daily run end to end: real SQLite, the outbox, real processes."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from digest.compose import rank_subscribers
from digest.config import load_config
from digest.sources import normalize_title
from digest.store import Store
from tests.run_helpers import (
    TEST_SECRET,
    extra_listings,
    invoke,
    outbox_titles,
    picked_titles,
    setup_instance,
)

DAYS = [dt.date(2026, 11, 16) + dt.timedelta(days=n) for n in range(5)]


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


def test_five_days_never_repeat_a_paper_and_lose_none(tmp_path, shared_listings):
    config_path = setup_instance(tmp_path / "inst")
    config = load_config(config_path)
    listings = [*shared_listings, *extra_listings(shared_listings, tmp_path)]
    for day, listing in zip(DAYS, listings, strict=True):
        shutil.copy(listing, config.ingest.inbox / listing.name)
        # What the ranker holds above each threshold before the run (the store after ingest).
        assert invoke(config_path, "ingest", "--inbox", "--date", day.isoformat()).exit_code == 0
        store = Store.open(config.store.database)
        subs = store.subscribers(status="active")
        above = rank_subscribers(store, config, subs, today=day, limit=10_000)
        store.close()
        result = invoke(config_path, "run", "--date", day.isoformat())
        assert result.exit_code == 0, result.output
        store = Store.open(config.store.database)
        sent = store.sent_paper_ids([s.id for s in subs])
        for sub in subs:
            eml = config.delivery.outbox / day.isoformat() / f"{sub.email.replace('@', '_at_')}.eml"
            offered = [pick.paper_id for pick in above.picks.get(sub.id, [])]
            titles = {normalize_title(t) for t in picked_titles(eml)} if eml.exists() else set()
            expected = {
                normalize_title(above.candidates[p].title) for p in offered[: sub.max_papers]
            }
            assert titles == expected, (sub.email, day)
            # What max_papers cut stays unsent, so it remains a candidate tomorrow.
            assert not set(offered[sub.max_papers :]) & sent[sub.id]
        store.close()

    per_recipient = outbox_titles(config.delivery.outbox)
    assert set(per_recipient) == {
        "ada_at_example.org",
        "grace_at_example.org",
        "alan_at_example.org",
    }
    for recipient, titles in per_recipient.items():
        assert len(titles) == len(set(titles)), f"{recipient} got a paper twice"
    assert sum(len(t) for t in per_recipient.values()) > 15


def prepared(tmp_path: Path, shared_listings: list[Path], name: str = "inst") -> Path:
    config_path = setup_instance(tmp_path / name)
    for path in shared_listings:
        assert (
            invoke(config_path, "ingest", "--date", DAYS[0].isoformat(), str(path)).exit_code == 0
        )
    return config_path


def test_rerun_of_a_date_sends_nothing_and_says_so(tmp_path, shared_listings):
    config_path = prepared(tmp_path, shared_listings)
    first = invoke(config_path, "run", "--date", DAYS[0].isoformat(), "--json")
    assert json.loads(first.output)["sent"] == 3
    again = invoke(config_path, "run", "--date", DAYS[0].isoformat())
    assert again.exit_code == 0
    assert "digests sent:      0" in again.output
    assert "already done:      3" in again.output
    assert f"every digest for {DAYS[0]} was already sent or skipped; nothing to do" in again.output
    db = sqlite_utils.Database(tmp_path / "inst" / "digest.db")
    assert [r["status"] for r in db["digests"].rows] == ["sent"] * 3
    runs = json.loads(invoke(config_path, "runs", "--json").output)
    assert [r["sent"] for r in runs] == [0, 3]


def test_dry_run_records_and_sends_nothing(tmp_path, shared_listings):
    config_path = prepared(tmp_path, shared_listings)
    result = invoke(config_path, "run", "--date", DAYS[0].isoformat(), "--dry-run", "--json")
    report = json.loads(result.output)
    assert report["sent"] == 3 and report["dry_run"] is True
    db = sqlite_utils.Database(tmp_path / "inst" / "digest.db")
    assert db["digests"].count == 0 and db["sends"].count == 0 and db["runs"].count == 0
    assert not list((tmp_path / "inst" / "outbox").glob("*/*.eml"))


def test_weekly_subscriber_is_due_on_their_weekday_only(tmp_path, shared_listings):
    config_path = prepared(tmp_path, shared_listings)
    invoke(config_path, "subscribers", "edit", "ada@example.org", "--frequency", "weekly:wed")
    monday, wednesday = DAYS[0], DAYS[2]
    assert monday.weekday() == 0 and wednesday.weekday() == 2
    report = json.loads(invoke(config_path, "run", "--date", monday.isoformat(), "--json").output)
    assert report["subscribers_due"] == 2
    assert "1 weekly subscriber is not due on this day" in report["notes"]
    report = json.loads(
        invoke(config_path, "run", "--date", wednesday.isoformat(), "--json").output
    )
    assert report["subscribers_due"] == 3


def test_two_runs_started_together_send_each_digest_once(tmp_path, shared_listings):
    config_path = prepared(tmp_path, shared_listings)
    command = [
        sys.executable,
        "-m",
        "digest",
        "--config",
        str(config_path),
        "run",
        "--date",
        DAYS[0].isoformat(),
        "--json",
    ]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    sent = 0
    for proc, (out, err) in zip(procs, outputs, strict=True):
        if proc.returncode == 0:
            sent += json.loads(out)["sent"]
        else:
            assert "a digest run is already in progress (pid" in err
    assert sent == 3
    db = sqlite_utils.Database(tmp_path / "inst" / "digest.db")
    assert [r["status"] for r in db["digests"].rows] == ["sent"] * 3
    assert len(list((tmp_path / "inst" / "outbox").glob("*/*.eml"))) == 3


def test_claim_is_conditional(tmp_path, shared_listings):
    config_path = prepared(tmp_path, shared_listings)
    store = Store.open(load_config(config_path).store.database)
    sub = store.subscriber("ada@example.org")
    row = store.open_digest(sub.id, dt.date(2026, 11, 16), now=dt.datetime(2026, 11, 16, 7))
    claims = [
        store.claim_digest(
            row.id,
            from_status="pending",
            claimed_by=who,
            previous_claim=None,
            picks=[],
            message_id="<m@x>",
            run_id=1,
            now=dt.datetime(2026, 11, 16, 7),
        )
        for who in ("run A", "run B")
    ]
    assert claims == [True, False]
    assert store.digest_row(sub.id, dt.date(2026, 11, 16)).claimed_by == "run A"
    store.close()
