"""What a run reports and records: the counts people read, checked against the database."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import pytest
import sqlite_utils

from digest.config import load_config
from tests.run_helpers import TEST_SECRET, invoke, setup_instance

DAY = "2026-11-20"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


def write_records(path: Path, count: int) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {"id": f"2611.{n:05d}", "title": f"Sea shells {n}", "abstract": "On shells."}
            )
            + "\n"
            for n in range(count)
        ),
        encoding="utf-8",
    )
    return path


def test_only_an_unknown_email_records_no_run(tmp_path):
    """Issue 14, item 6: a typo in --only is an error, not a failed run in the history."""
    config_path = setup_instance(tmp_path / "inst")
    result = invoke(config_path, "run", "--date", DAY, "--only", "nobody@example.org")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no subscriber 'nobody@example.org'; see `digest subscribers list`\n"
    )
    db = sqlite_utils.Database(tmp_path / "inst" / "digest.db")
    assert db["runs"].count == 0 and db["digests"].count == 0


def test_new_papers_means_first_seen_on_the_day_everywhere(tmp_path):
    """Issue 14, item 11: the run report, `digest runs`, the dashboard's rows and the email
    all count the papers first seen on the digest's day, however they were ingested."""
    config_path = setup_instance(tmp_path / "inst")
    config = load_config(config_path)
    listing = write_records(tmp_path / "day.jsonl", 4)
    assert invoke(config_path, "ingest", "--date", DAY, str(listing)).exit_code == 0
    quiet = ("--quiet-day", "note", "--min-score", "0.99")
    assert invoke(config_path, "subscribers", "edit", "alan@example.org", *quiet).exit_code == 0

    result = invoke(config_path, "run", "--date", DAY)
    assert result.exit_code == 0, result.output
    assert f"  new papers:        4 (first seen on {DAY})" in result.output
    (row,) = sqlite_utils.Database(config.store.database)["runs"].rows
    assert row["new_papers"] == 4
    assert [r["new_papers"] for r in json.loads(invoke(config_path, "runs", "--json").output)] == [
        4
    ]
    eml = config.delivery.outbox / DAY / "alan_at_example.org.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "4 new papers today, none above your threshold." in text


def test_counts_read_in_the_singular_and_tables_have_headers(tmp_path):
    """Issue 14, item 5: "1 listing", "1 new paper", "1 subscriber"; header rows."""
    config_path = setup_instance(tmp_path / "inst")
    listing = write_records(tmp_path / "one.jsonl", 1)
    result = invoke(config_path, "ingest", "--date", DAY, str(listing))
    assert result.output == (
        f"{listing}: records, 1 listing, 1 new paper, 0 updated, 0 duplicates (dated {DAY})\n"
    )
    again = tmp_path / "again.jsonl"
    again.write_text(json.dumps({"id": "2611.00000", "title": "Sea shells 0", "abstract": "x"}))
    repeat = invoke(config_path, "ingest", "--date", DAY, str(again)).output
    assert repeat.endswith(
        f": records, 1 listing, 0 new papers, 0 updated, 1 duplicate (dated {DAY})\n"
        f"  note: every paper in {again} was already known: a stale feed?\n"
    )

    for email_address in ("grace@example.org", "alan@example.org"):
        invoke(config_path, "subscribers", "pause", email_address)
    listed = invoke(config_path, "subscribers", "list", "--status", "active")
    lines = listed.output.splitlines()
    assert lines[0].split() == ["EMAIL", "STATUS", "FREQUENCY", "MAX", "PAPERS", "NAME"]
    assert lines[1].split() == ["ada@example.org", "active", "daily", "5", "Ada"]
    assert lines[-1] == "1 subscriber"

    assert invoke(config_path, "run", "--date", DAY).exit_code == 0
    runs = invoke(config_path, "runs").output.splitlines()
    assert runs[0].split() == [
        "RUN", "STARTED", "DATE", "STATUS", "DUE", "SENT", "SKIPPED", "LEFT", "PENDING",
        "FAILED", "NEW", "PAPERS",
    ]  # fmt: skip
    assert runs[1].split()[0] == "1" and runs[1].split()[-1] == "1"


@pytest.mark.parametrize(
    ("command", "value", "why"),
    [
        ("run", "2026-11-31", "'2026-11-31' is not a date: November 2026 has 30 days"),
        ("ingest", "2027-02-29", "'2027-02-29' is not a date: February 2027 has 28 days"),
        ("rank", "2026-13-01", "'2026-13-01' is not a date: there is no month 13"),
        ("preview", "20261120", "'20261120' is not a date; write it YYYY-MM-DD, e.g. 2026-11-20"),
    ],
)
def test_a_date_that_does_not_exist_says_so(tmp_path, command, value, why):
    """Issue 14, item 5: not "does not match the format '%Y-%m-%d'"."""
    from click.testing import CliRunner

    from digest.cli import cli

    config_path = setup_instance(tmp_path / "inst")
    args = [command, "--date", value, *(["x.txt"] if command == "ingest" else [])]
    if command in ("rank", "preview"):
        args.append("ada@example.org")
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: Invalid value for '--date': {why}"


def test_papers_since_takes_the_same_dates(tmp_path):
    config_path = setup_instance(tmp_path / "inst")
    listing = write_records(tmp_path / "day.jsonl", 2)
    assert invoke(config_path, "ingest", "--date", DAY, str(listing)).exit_code == 0
    papers = json.loads(invoke(config_path, "papers", "list", "--since", DAY, "--json").output)
    assert len(papers) == 2


def test_ingest_errors_read_like_every_other_error(tmp_path):
    """Issue 14, item 5: `Error:` as click prints it, not `error:`."""
    config_path = setup_instance(tmp_path / "inst")
    missing = tmp_path / "missing.txt"
    result = invoke(config_path, "ingest", str(missing))
    assert result.exit_code == 1
    assert result.output == f"Error: {missing}: no such file or folder\n"
