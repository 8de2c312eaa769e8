"""`digest demo`: the README's first command, offline, into a fresh folder."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import sqlite_utils
from click.testing import CliRunner

from digest.cli import cli
from digest.demo import SAMPLE_SUBSCRIBERS, sample_listings
from tests.run_helpers import outbox_titles


def test_demo_simulates_days_and_says_where_the_emails_are(tmp_path):
    target = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if re.match(r"^\d{4}-\d\d-\d\d ", line)]
    assert len(rows) == len(sample_listings()) >= 5
    sent_per_day = [int(line.split()[-1]) for line in rows]
    emails = sorted((target / "outbox").glob("*/*.eml"))
    assert len(emails) == sum(sent_per_day) > 0
    match = re.search(r"open one in a browser: (\S+\.html)", result.output)
    assert match, result.output
    html = Path(match.group(1)).read_text(encoding="utf-8")
    assert "Picked for you" in html

    # Every subscriber got papers, and nobody got one twice.
    per_recipient = outbox_titles(target / "outbox")
    assert set(per_recipient) == {s.email.replace("@", "_at_") for s in SAMPLE_SUBSCRIBERS}
    for titles in per_recipient.values():
        assert len(titles) == len(set(titles))
    message = email.message_from_bytes(emails[0].read_bytes(), policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    db = sqlite_utils.Database(target / "digest.db")
    assert db["runs"].count == len(rows)
    # The demo takes public sign-ups (issue 15), and every email links to its own page.
    assert 'signup = "open"' in (target / "config.toml").read_text(encoding="utf-8")
    assert "View in browser</a>" in html and db["digest_pages"].count == len(emails)


def test_demo_twice_starts_clean(tmp_path):
    target = tmp_path / "demo"
    first = CliRunner().invoke(cli, ["demo", "--dir", str(target)])
    second = CliRunner().invoke(cli, ["demo", "--dir", str(target)])
    assert second.exit_code == 0, second.output
    table = [line for line in first.output.splitlines() if line[:4].isdigit()]
    assert [line for line in second.output.splitlines() if line[:4].isdigit()] == table


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path):
    (tmp_path / "mine.txt").write_text("precious", encoding="utf-8")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path}: folder exists and is not a digest demo; "
        "pass --dir with a new or empty folder\n"
    )
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "precious"
