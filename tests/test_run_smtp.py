"""The daily run delivering through a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import email
import json
from email import policy

import pytest
import sqlite_utils

from tests.run_helpers import TEST_SECRET, invoke, set_config, setup_instance
from tests.smtp_server import Handler, smtp_server

DAY = dt.date(2026, 11, 16)


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


def smtp_instance(tmp_path, shared_listings, port: int, **smtp: str):
    config = setup_instance(tmp_path / "inst")
    set_config(config, "delivery", "transport", '"smtp"')
    set_config(config, "smtp", "host", '"127.0.0.1"')
    set_config(config, "smtp", "port", str(port))
    set_config(config, "smtp", "security", '"none"')
    set_config(config, "smtp", "backoff_seconds", "0.01")
    set_config(config, "smtp", "max_hard_failures", "2")
    for key, value in smtp.items():
        set_config(config, "smtp", key, value)
    for path in shared_listings:
        assert invoke(config, "ingest", "--date", DAY.isoformat(), str(path)).exit_code == 0
    return config


def test_smtp_run_delivers_every_digest_intact(tmp_path, shared_listings):
    handler = Handler()
    with smtp_server(handler) as port:
        config = smtp_instance(tmp_path, shared_listings, port)
        result = invoke(config, "run", "--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == [
        "ada@example.org",
        "alan@example.org",
        "grace@example.org",
    ]
    msg = email.message_from_bytes(handler.messages[0].data, policy=policy.default)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_550_fails_one_digest_and_its_papers_stay_candidates(tmp_path, shared_listings):
    handler = Handler(refuse={"grace@example.org": "550 5.1.1 mailbox unavailable"})
    with smtp_server(handler) as port:
        config = smtp_instance(tmp_path, shared_listings, port)
        before = json.loads(
            invoke(config, "rank", "grace@example.org", "--json", "--date", DAY.isoformat()).output
        )
        result = invoke(config, "run", "--date", DAY.isoformat())
        assert result.exit_code == 1
        assert (
            "grace@example.org: the server replied 550 5.1.1 mailbox unavailable" in result.output
        )
        assert sorted(m.rcpt_tos[0] for m in handler.messages) == [
            "ada@example.org",
            "alan@example.org",
        ]
        after = json.loads(
            invoke(config, "rank", "grace@example.org", "--json", "--date", DAY.isoformat()).output
        )
        assert before and [p["id"] for p in after] == [p["id"] for p in before]
        db = sqlite_utils.Database(tmp_path / "inst" / "digest.db")
        grace = db.execute(
            "SELECT id FROM subscribers WHERE email = 'grace@example.org'"
        ).fetchone()[0]
        assert (
            db.execute("SELECT count(*) FROM sends WHERE subscriber_id = ?", [grace]).fetchone()[0]
            == 0
        )
        status = db.execute(
            "SELECT status FROM digests WHERE subscriber_id = ?", [grace]
        ).fetchone()[0]
        assert status == "failed"

        # A second hard failure on another day makes her bounced (max_hard_failures = 2).
        next_day = (DAY + dt.timedelta(days=1)).isoformat()
        result = invoke(config, "run", "--date", next_day)
        assert "grace@example.org is now bounced after repeated hard failures" in result.output
        assert db.execute("SELECT status FROM subscribers WHERE id = ?", [grace]).fetchone()[0] == (
            "bounced"
        )


def test_authentication_failure_is_clear_and_records_nothing(
    tmp_path, shared_listings, monkeypatch
):
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "wrong")
    handler = Handler()
    with smtp_server(handler, auth=("digest", "right")) as port:
        config = smtp_instance(tmp_path, shared_listings, port, username='"digest"')
        result = invoke(config, "run", "--date", DAY.isoformat())
    assert result.exit_code == 1
    assert (
        f"SMTP 127.0.0.1:{port}: login as 'digest' refused (535); check smtp.username and "
        "the password in $DIGEST_SMTP_PASSWORD" in result.output
    )
    assert handler.messages == []
    db = sqlite_utils.Database(tmp_path / "inst" / "digest.db")
    assert db["sends"].count == 0
    assert {r["status"] for r in db["digests"].rows} == {"pending"}


def test_flaky_server_drops_and_451s_but_everything_arrives_once(tmp_path, shared_listings):
    handler = Handler(drop_on={2}, temporary_failures=0)
    with smtp_server(handler) as port:
        config = smtp_instance(tmp_path, shared_listings, port)
        handler.temporary_failures = 1
        result = invoke(config, "run", "--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == [
        "ada@example.org",
        "alan@example.org",
        "grace@example.org",
    ]
