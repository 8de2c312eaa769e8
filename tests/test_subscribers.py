"""Subscribers and profiles through the CLI, checked in the real database."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from digest.cli import cli

CODET5_PLUS = "CodeT5+: Open Code Large Language Models for Code Understanding and Generation"
GRAPHCODEBERT = "GraphCodeBERT: Pre-training Code Representations with Data Flow"

ADA_TOML = f"""
[[subscribers]]
email = "Ada@Example.org"
name = "Ada"
keywords = ["code generation", "program synthesis^2"]   # ^N = weight
exclude = ["medical imaging"]
liked = ["2305.07922", "{GRAPHCODEBERT}"]
disliked = []
description = "I build code LLMs."
frequency = "daily"
max_papers = 10
"""


def db_of(instance) -> sqlite_utils.Database:
    return sqlite_utils.Database(instance.store.database)


def ingest_shared_with_ids(run_cli, shared_listings, tmp_path: Path) -> None:
    """The shared dumps carry no ids; an API-style export then names CodeT5+ by arXiv id."""
    assert run_cli("ingest", "--date", "2026-11-22", *map(str, shared_listings)).exit_code == 0
    export = tmp_path / "ids.jsonl"
    export.write_text(
        json.dumps({"id": "2305.07922v2", "title": CODET5_PLUS, "abstract": "x"}) + "\n",
        encoding="utf-8",
    )
    assert run_cli("ingest", "--date", "2026-11-22", str(export)).exit_code == 0


def test_add_list_show_edit_pause_resume(run_cli, instance):
    result = run_cli(
        "subscribers",
        "add",
        " Ada@Example.ORG ",
        "--name",
        "Ada",
        "--keyword",
        "code generation",
        "--keyword",
        "program synthesis^2",
    )
    assert result.exit_code == 0, result.output
    db = db_of(instance)
    (row,) = db["subscribers"].rows
    assert row["email"] == "ada@example.org" and row["status"] == "active"
    assert row["max_papers"] == 10 and row["frequency"] == "daily"
    (profile,) = db["profiles"].rows
    assert json.loads(profile["keywords"]) == [
        {"text": "code generation", "weight": 1.0},
        {"text": "program synthesis", "weight": 2.0},
    ]

    again = run_cli("subscribers", "add", "ADA@example.org")
    assert again.exit_code == 1
    assert "ada@example.org is already a subscriber" in again.output

    bad = run_cli("subscribers", "add", "not-an-email")
    assert bad.exit_code == 1
    assert bad.output == (
        "Error: add: 'not-an-email' is not a valid email address; "
        "give one such as ada@example.org\n"
    )

    assert (
        run_cli(
            "subscribers",
            "edit",
            "ada@example.org",
            "--frequency",
            "weekly:fri",
            "--max-papers",
            "5",
        ).exit_code
        == 0
    )
    row = next(iter(db["subscribers"].rows))
    assert (row["frequency"], row["max_papers"]) == ("weekly:fri", 5)
    wrong = run_cli("subscribers", "edit", "ada@example.org", "--frequency", "hourly")
    assert wrong.exit_code == 1
    assert 'frequency \'hourly\' is not valid; use "daily" or "weekly:mon"' in wrong.output

    assert run_cli("subscribers", "pause", "ada@example.org").exit_code == 0
    assert next(iter(db["subscribers"].rows))["status"] == "paused"
    listed = json.loads(run_cli("subscribers", "list", "--status", "paused", "--json").output)
    assert [s["email"] for s in listed] == ["ada@example.org"]
    assert run_cli("subscribers", "resume", "ada@example.org").exit_code == 0
    assert next(iter(db["subscribers"].rows))["status"] == "active"

    shown = json.loads(run_cli("subscribers", "show", "ada@example.org", "--json").output)
    assert shown["keywords"] == ["code generation", "program synthesis^2"]


def test_remove_keeps_history_unless_purged(run_cli, instance, shared_listings, tmp_path):
    ingest_shared_with_ids(run_cli, shared_listings, tmp_path)
    run_cli("subscribers", "add", "bob@example.org", "--keyword", "retrieval")
    db = db_of(instance)
    sub_id = next(iter(db["subscribers"].rows))["id"]
    db["sends"].insert({"subscriber_id": sub_id, "paper_id": "2305.07922", "sent_at": "x"})

    assert run_cli("subscribers", "remove", "bob@example.org").exit_code == 0
    assert next(iter(db["subscribers"].rows))["status"] == "unsubscribed"
    assert db["sends"].count == 1 and db["profile_history"].count == 1

    assert run_cli("subscribers", "remove", "bob@example.org", "--purge", "--yes").exit_code == 0
    assert db["subscribers"].count == 0
    assert db["sends"].count == 0 and db["profile_history"].count == 0 and db["profiles"].count == 0


def test_import_toml_resolves_ids_and_titles(run_cli, instance, shared_listings, tmp_path):
    ingest_shared_with_ids(run_cli, shared_listings, tmp_path)
    source = tmp_path / "team.toml"
    source.write_text(ADA_TOML, encoding="utf-8")
    result = run_cli("subscribers", "import", str(source))
    assert result.exit_code == 0, result.output
    assert result.output == "imported 1 subscriber (1 new, 0 updated)\n"
    db = db_of(instance)
    (profile,) = db["profiles"].rows
    graph_id = db.execute("SELECT id FROM papers WHERE title = ?", [GRAPHCODEBERT]).fetchone()[0]
    assert json.loads(profile["liked"]) == ["2305.07922", graph_id]
    assert json.loads(profile["exclude"]) == ["medical imaging"]

    # Re-importing updates in place.
    source.write_text(ADA_TOML.replace("max_papers = 10", "max_papers = 3"), encoding="utf-8")
    result = run_cli("subscribers", "import", str(source))
    assert result.output == "imported 1 subscriber (0 new, 1 updated)\n"
    assert db["subscribers"].count == 1
    assert next(iter(db["subscribers"].rows))["max_papers"] == 3


def test_import_with_unknown_liked_paper_stores_it_as_a_reference_paper(
    run_cli, instance, shared_listings, tmp_path
):
    ingest_shared_with_ids(run_cli, shared_listings, tmp_path)
    source = tmp_path / "team.toml"
    source.write_text(
        ADA_TOML
        + '\n[[subscribers]]\nemail = "eve@example.org"\nliked = ["Attention Is Not Here"]\n',
        encoding="utf-8",
    )
    result = run_cli("subscribers", "import", str(source))
    assert result.exit_code == 0, result.output
    assert (
        "1 liked or disliked paper not in the store stored as reference papers: "
        "'Attention Is Not Here'" in result.output
    )
    db = db_of(instance)
    (row,) = db.query("SELECT reference FROM papers WHERE title = 'Attention Is Not Here'")
    assert row["reference"] == 1


def test_import_errors_name_file_and_subscriber(run_cli, tmp_path):
    source = tmp_path / "bad.toml"
    source.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\nkeywords = ["rag^-1"]\n', encoding="utf-8"
    )
    result = run_cli("subscribers", "import", str(source))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {source}: subscriber 1 (ada@example.org): keyword 'rag^-1': write a weight "
        "as a number after ^, e.g. rag^2\n"
    )


def test_export_import_round_trip_toml_and_csv(run_cli, instance, shared_listings, tmp_path):
    ingest_shared_with_ids(run_cli, shared_listings, tmp_path)
    source = tmp_path / "team.toml"
    source.write_text(
        ADA_TOML
        + textwrap.dedent(
            """
            [[subscribers]]
            email = "zoe@example.org"
            name = "Zoë \\"Z\\" Ng, PhD"
            keywords = ["speech", "diffusion^1.5"]
            frequency = "weekly:wed"
            timezone = "Europe/Paris"
            min_score = 0.2
            quiet_day = "note"
            """
        ),
        encoding="utf-8",
    )
    assert run_cli("subscribers", "import", str(source)).exit_code == 0
    for suffix in ("toml", "csv"):
        exported = tmp_path / f"out.{suffix}"
        assert run_cli("subscribers", "export", "-o", str(exported)).exit_code == 0
        before = run_cli("subscribers", "export", "--format", suffix).output
        # Import into a second, fresh instance that holds the same papers.
        other = tmp_path / f"other-{suffix}"
        CliRunner().invoke(cli, ["init", str(other)])
        config = str(other / "config.toml")
        for path in shared_listings:
            CliRunner().invoke(
                cli, ["--config", config, "ingest", "--date", "2026-11-22", str(path)]
            )
        CliRunner().invoke(cli, ["--config", config, "ingest", str(tmp_path / "ids.jsonl")])
        result = CliRunner().invoke(
            cli, ["--config", config, "subscribers", "import", str(exported)]
        )
        assert result.exit_code == 0, result.output
        after = CliRunner().invoke(
            cli, ["--config", config, "subscribers", "export", "--format", suffix]
        )
        assert after.output == before
        assert "zoe@example.org" in before and "diffusion^1.5" in before


def test_profile_set_history_restore(run_cli, instance, shared_listings, tmp_path):
    ingest_shared_with_ids(run_cli, shared_listings, tmp_path)
    run_cli("subscribers", "add", "ada@example.org", "--keyword", "code generation")
    assert (
        run_cli(
            "profile",
            "set",
            "ada@example.org",
            "--keyword",
            "program synthesis^2",
            "--exclude",
            "vision",
            "--like",
            "2305.07922v1",
            "--description",
            "code LLMs",
        ).exit_code
        == 0
    )
    shown = json.loads(run_cli("profile", "show", "ada@example.org", "--json").output)
    assert shown["keywords"] == [
        {"text": "code generation", "weight": 1.0},
        {"text": "program synthesis", "weight": 2.0},
    ]
    assert shown["liked"] == ["2305.07922"] and shown["exclude"] == ["vision"]

    assert run_cli("profile", "set", "ada@example.org", "--remove", "vision").exit_code == 0
    history = json.loads(run_cli("profile", "history", "ada@example.org", "--json").output)
    assert [h["change"] for h in history] == [
        "-exclude vision",
        "+keyword program synthesis^2; +exclude vision; +like 2305.07922; description changed",
        "+keyword code generation",
    ]
    assert all(h["changed_by"].startswith("cli") for h in history)

    assert (
        run_cli("profile", "restore", "ada@example.org", str(history[1]["version"])).exit_code == 0
    )
    shown = json.loads(run_cli("profile", "show", "ada@example.org", "--json").output)
    assert shown["exclude"] == ["vision"]
    assert len(json.loads(run_cli("profile", "history", "ada@example.org", "--json").output)) == 4

    unknown = run_cli("profile", "set", "ada@example.org", "--like", "No Such Paper")
    assert unknown.exit_code == 1
    assert "liked paper 'No Such Paper' is not in the store" in unknown.output


def test_profile_edit_reopens_on_error(run_cli, instance, tmp_path, monkeypatch):
    run_cli("subscribers", "add", "ada@example.org")
    # An "editor" that writes a bad weight the first time and a good profile the second.
    editor = tmp_path / "editor.py"
    counter = tmp_path / "count"
    editor.write_text(
        textwrap.dedent(
            f"""
            import pathlib, re, sys
            counter = pathlib.Path({str(counter)!r})
            n = int(counter.read_text()) if counter.exists() else 0
            counter.write_text(str(n + 1))
            path = pathlib.Path(sys.argv[1])
            text = path.read_text()
            seen = pathlib.Path({str(tmp_path / "seen")!r})
            seen.write_text(seen.read_text() + "\\n----\\n" + text if seen.exists() else text)
            keyword = '"rag^0"' if n == 0 else '"rag^3"'
            path.write_text(re.sub(r"(?m)^keywords = .*$", "keywords = [" + keyword + "]", text))
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    result = run_cli("profile", "edit", "ada@example.org", input="y\n")
    assert result.exit_code == 0, result.output
    assert "keyword 'rag^0': weight must be above 0 and at most 10" in result.output
    assert counter.read_text() == "2"
    # The second opening showed the error at the top of the file.
    assert (
        "# ERROR: profile: subscriber 1 (ada@example.org): keyword 'rag^0'"
        in (tmp_path / "seen").read_text()
    )
    shown = json.loads(run_cli("profile", "show", "ada@example.org", "--json").output)
    assert shown["keywords"] == [{"text": "rag", "weight": 3.0}]


def test_profile_versions_are_numbered_per_subscriber(run_cli, instance):
    """Issue 14, item 7: each person's history reads 1, 2, 3 …, and restore uses that."""
    run_cli("subscribers", "add", "ada@example.org", "--keyword", "agents")
    run_cli("subscribers", "add", "bob@example.org", "--keyword", "vision")
    run_cli("profile", "set", "ada@example.org", "--keyword", "rag")
    run_cli("profile", "set", "bob@example.org", "--keyword", "diffusion")
    run_cli("profile", "set", "bob@example.org", "--remove", "vision")
    history = json.loads(run_cli("profile", "history", "bob@example.org", "--json").output)
    assert [h["version"] for h in history] == [3, 2, 1]
    text = run_cli("profile", "history", "bob@example.org").output
    assert [line.split()[0] for line in text.splitlines()[1:]] == ["3", "2", "1"]

    restored = run_cli("profile", "restore", "bob@example.org", "1")
    assert restored.exit_code == 0, restored.output
    (row,) = db_of(instance).query(
        "SELECT p.keywords FROM profiles p JOIN subscribers s ON s.id = p.subscriber_id "
        "WHERE s.email = 'bob@example.org'"
    )
    assert json.loads(row["keywords"]) == [{"text": "vision", "weight": 1.0}]
    missing = run_cli("profile", "restore", "ada@example.org", "3")
    assert missing.exit_code == 1
    assert missing.output == (
        "Error: no profile version 3 for this subscriber; see `digest profile history`\n"
    )


def test_profile_show_lists_feedback_votes(run_cli, instance, tmp_path):
    """Issue 14, item 9: "more"/"less" clicks show in the profile, marked as feedback."""
    import datetime as dt

    from digest.store import Store

    export = tmp_path / "papers.jsonl"
    export.write_text(
        "".join(
            json.dumps({"id": f"2611.0000{i}", "title": f"Paper {i}", "abstract": "x"}) + "\n"
            for i in (1, 2, 3)
        ),
        encoding="utf-8",
    )
    assert run_cli("ingest", str(export)).exit_code == 0
    run_cli("subscribers", "add", "ada@example.org", "--keyword", "agents")
    run_cli("profile", "set", "ada@example.org", "--like", "2611.00003")
    store = Store.open(instance.store.database)
    sub = store.subscriber("ada@example.org")
    now = dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)
    store.record_feedback(sub.id, "2611.00001", 1, source="email", now=now)
    store.record_feedback(sub.id, "2611.00002", -1, source="email", now=now)
    store.record_feedback(sub.id, "2611.00003", -1, source="email", now=now)
    store.close()

    shown = run_cli("profile", "show", "ada@example.org").output
    assert "liked:       2611.00001  Paper 1 (from feedback)" in shown
    assert "disliked:    2611.00002  Paper 2 (from feedback)" in shown
    assert "disliked:    2611.00003  Paper 3 (from feedback)" in shown  # the later vote wins
    assert "liked:       2611.00003" not in shown
    data = json.loads(run_cli("profile", "show", "ada@example.org", "--json").output)
    assert data["liked"] == ["2611.00003"]  # the profile as edited
    assert data["liked_from_feedback"] == ["2611.00001"]
    assert data["disliked_from_feedback"] == ["2611.00002", "2611.00003"]


def test_resume_does_not_undo_an_unsubscribe_without_force(run_cli, instance):
    """Issue 14, item 8: an unsubscribe is the person's choice; resuming says so."""
    import datetime as dt

    from digest.store import Store

    run_cli("subscribers", "add", "ada@example.org")
    store = Store.open(instance.store.database)
    ada = store.subscriber("ada@example.org")
    on = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    store.set_status_by_id(ada.id, "unsubscribed", now=on, by="web:subscriber")
    store.close()

    refused = run_cli("subscribers", "resume", "ada@example.org")
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: ada@example.org unsubscribed on 2026-11-02 (their own choice via the "
        "unsubscribe link); resume with --force to override it\n"
    )
    (row,) = db_of(instance)["subscribers"].rows
    assert row["status"] == "unsubscribed"

    forced = run_cli("subscribers", "resume", "ada@example.org", "--force")
    assert forced.exit_code == 0, forced.output
    (row,) = db_of(instance)["subscribers"].rows
    assert row["status"] == "active" and row["status_changed_by"].startswith("cli")

    run_cli("subscribers", "remove", "ada@example.org")
    again = run_cli("subscribers", "resume", "ada@example.org")
    assert again.exit_code == 1
    assert "on the command line); resume with --force to override it" in again.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'email,name\nc1@example.org,"unterminated\nc2@example.org,Bob\n',
            "not valid CSV after line 1 (unexpected end of data); check the quotes in the next row",
        ),
        ("email,email\na@example.org,b@example.org\n", "the column 'email' appears twice"),
        (
            "email,name\na@example.org,Ann,extra\n",
            "s.csv:2: more cells than the header has columns; quote cells that hold a comma",
        ),
    ],
)
def test_a_malformed_csv_is_refused_in_one_line(run_cli, instance, tmp_path, text, message):
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    result = run_cli("subscribers", "import", str(path))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert result.output.count("\n") == 1
    db = sqlite_utils.Database(instance.store.database)
    assert db["subscribers"].count == 0
