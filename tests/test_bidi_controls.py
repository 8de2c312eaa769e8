"""Bidirectional controls in listings (issue 15): stripped from every record's title,
abstract and authors as it is stored, and from text shown in pages and emails (for rows
stored before). Real instance: `digest ingest`, the public page, `digest run`'s outbox."""

# The fixtures come from test_web_signup (one instance set-up for both files).
# ruff: noqa: F811

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import pytest
import sqlite_utils

from digest.config import Config
from digest.text import BIDI_CONTROLS, strip_bidi_controls
from tests.run_helpers import invoke
from tests.test_web_signup import (  # noqa: F401 - fixtures
    DAY,
    TestClient,
    client,
    clock,
    config,
    prepared,
    rows,
)

RLO, PDF, LRI, PDI = "\u202e", "\u202c", "\u2066", "\u2069"
TITLE = f"Program synthesis {RLO}gnissecorp edoc{PDF} with {LRI}bidi{PDI} tricks"
CLEAN_TITLE = "Program synthesis gnissecorp edoc with bidi tricks"


@pytest.mark.parametrize("control", list(BIDI_CONTROLS))
def test_each_bidi_control_is_stripped_and_marks_stay(control: str) -> None:
    assert strip_bidi_controls(f"a{control}b {control}") == "ab "
    kept = "\u200fשלום\u200e and العربية"  # right-to-left text and its marks are text
    assert strip_bidi_controls(kept) is kept
    ascii_text = "plain"
    assert strip_bidi_controls(ascii_text) is ascii_text


def has_bidi(text: str) -> bool:
    return any(c in text for c in BIDI_CONTROLS)


def test_ingest_strips_bidi_controls_from_every_field_and_pages_and_emails_show_none(
    client: TestClient, config: Config, tmp_path: Path
) -> None:
    listing = tmp_path / "bidi.jsonl"
    record = {
        "id": "2611.96001",
        "title": TITLE,
        "abstract": f"We study program synthesis {RLO}and code generation{PDF} in {LRI}x{PDI}.",
        "authors": [f"{RLO}Eve{PDF} Mallory", f"{LRI}{PDI}", "Ada Lovelace"],
        "upvotes": 500,  # first on the day's page
    }
    listing.write_text(json.dumps(record), encoding="utf-8")
    result = invoke(config.path, "ingest", "--date", DAY, str(listing))  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    (row,) = rows(config, "SELECT * FROM papers WHERE id = ?", ["2611.96001"])
    assert row["title"] == CLEAN_TITLE
    assert row["abstract"] == "We study program synthesis and code generation in x."
    assert json.loads(row["authors"]) == ["Eve Mallory", "Ada Lovelace"]

    page = client.get("/")
    assert CLEAN_TITLE in page.text and not has_bidi(page.text)

    result = invoke(config.path, "run", "--date", DAY)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    eml = config.delivery.outbox / DAY / "ada_at_example.org.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert CLEAN_TITLE in text and CLEAN_TITLE in html
    assert not has_bidi(text) and not has_bidi(html) and not has_bidi(str(message["Subject"]))


def test_rows_stored_before_are_shown_without_bidi_controls(
    client: TestClient, config: Config
) -> None:
    db = sqlite_utils.Database(config.store.database)
    paper_id = rows(config, "SELECT id FROM papers WHERE first_seen = ? LIMIT 1", [DAY])[0]["id"]
    db.execute("UPDATE papers SET title = ?, upvotes = 999 WHERE id = ?", [TITLE, paper_id])
    db.conn.commit()
    db.conn.close()
    page = client.get(f"/papers/{DAY}")
    assert page.status_code == 200
    assert CLEAN_TITLE in page.text and not has_bidi(page.text)
