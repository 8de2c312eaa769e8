"""Every subscriber's message lands in a file of its own, and no address digest cannot
send to stops a run: outbox names are one recipient's only (``a+b@x`` and ``a_b@x`` once
shared a file, so one message overwrote another and its papers were lost), and a
non-ASCII address is refused when added and failed alone in a run."""

from __future__ import annotations

import email
import sqlite3
from email import policy
from pathlib import Path

import pytest

from digest.errors import SubscriberError
from digest.profiles import normalize_email
from digest.transports.outbox import outbox_name
from tests.run_helpers import TEST_SECRET, invoke, setup_instance

REPO = Path(__file__).resolve().parents[1]
DAY = "2026-11-21"
TRICKY = [
    "a+b@example.org",
    "a_b@example.org",
    "a=b@example.org",
    "a%b@example.org",
    "a" * 125 + "1@example.org",
    "a" * 125 + "2@example.org",
    ".hidden@example.org",
    "hidden@example.org",
    "../x@example.org",
]


def test_outbox_names_are_one_recipients_only_and_never_hidden() -> None:
    names = [outbox_name(r) for r in TRICKY]
    assert len(set(names)) == len(names)
    assert all(not n.startswith(".") and "/" not in n and len(n) <= 140 for n in names)
    assert outbox_name("ada@example.org") == "ada_at_example.org"  # plain ones stay readable
    assert outbox_name("signup-2") == "signup-2"
    # A plain address can never take a mangled one's name: "~" is only in the latter.
    assert all("~" not in outbox_name(r) for r in ("ada@example.org", "a-b@x.org"))
    assert all("~" in outbox_name(r) for r in TRICKY if r != "hidden@example.org")


def test_a_non_ascii_address_is_refused_when_added() -> None:
    with pytest.raises(SubscriberError) as caught:
        normalize_email("Zoë@example.org")
    assert str(caught.value) == "'zoë@example.org': digest can only send to plain ASCII addresses"


def test_addresses_that_mangle_alike_each_get_their_own_message(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    config = setup_instance(tmp_path / "inst")
    for address in TRICKY:
        added = invoke(config, "subscribers", "add", address, "--keyword", "speaker verification")
        assert added.exit_code == 0, added.output
    refused = invoke(config, "subscribers", "add", "müller@example.org", "--keyword", "code")
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: add: 'müller@example.org': digest can only send to plain ASCII addresses\n"
    )
    ingest = invoke(config, "ingest", "--date", DAY, str(REPO / "examples" / "records.jsonl"))
    assert ingest.exit_code == 0, ingest.output
    run = invoke(config, "run", "--date", DAY)
    assert run.exit_code == 0, run.output
    outbox = tmp_path / "inst" / "outbox" / DAY
    recipients = {}
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        recipients[message["To"].addresses[0].addr_spec] = path.name
    assert set(TRICKY) <= set(recipients), run.output
    database = tmp_path / "inst" / "digest.db"
    with sqlite3.connect(database) as conn:
        sent = conn.execute("SELECT count(*) FROM digests WHERE status = 'sent'").fetchone()[0]
    assert sent == len(recipients)  # one file per sent digest: none overwrote another


def test_a_stored_non_ascii_address_fails_alone(tmp_path, monkeypatch):
    """A subscriber stored before addresses were checked fails with one line; everyone
    else is sent to."""
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    config = setup_instance(tmp_path / "inst")
    database = tmp_path / "inst" / "digest.db"
    with sqlite3.connect(database) as conn:
        conn.execute(
            "UPDATE subscribers SET email = 'zoë@example.org' WHERE email = ?", ["alan@example.org"]
        )
    ingest = invoke(config, "ingest", "--date", DAY, str(REPO / "examples" / "records.jsonl"))
    assert ingest.exit_code == 0, ingest.output
    run = invoke(config, "run", "--date", DAY)
    assert "zoë@example.org: digest can only send to plain ASCII addresses" in run.output
    assert "Traceback" not in run.output
    names = {p.name for p in (tmp_path / "inst" / "outbox" / DAY).glob("*.eml")}
    assert names  # the others were sent to
    assert not any("zo" in name for name in names)
