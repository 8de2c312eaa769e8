"""`digest preview`: the next digest, rendered, with nothing sent or recorded."""

from __future__ import annotations

import email
from email import policy

import pytest
import sqlite_utils

from tests.run_helpers import TEST_SECRET, invoke, picked_titles, set_config, setup_instance

DAY = "2026-11-16"


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


def test_preview_renders_without_recording(tmp_path, shared_listings):
    config = setup_instance(tmp_path / "inst")
    for path in shared_listings:
        invoke(config, "ingest", "--date", DAY, str(path))
    out, eml = tmp_path / "ada.html", tmp_path / "ada.eml"
    result = invoke(
        config,
        "preview",
        "ada@example.org",
        "--date",
        DAY,
        "--out",
        str(out),
        "--eml",
        str(eml),
        "--text",
    )
    assert result.exit_code == 0, result.output
    titles = picked_titles(eml)
    assert len(titles) == 5
    printed = " ".join(result.output.split())  # the --text part, wrapped at 76 columns
    assert all(title in printed for title in titles)
    assert all(title.replace("&", "&amp;") in out.read_text(encoding="utf-8") for title in titles)
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "Ada <ada@example.org>"
    ranked = invoke(config, "rank", "ada@example.org", "--date", DAY, "--json")
    import json

    assert [p["title"] for p in json.loads(ranked.output)][:5] == titles
    db = sqlite_utils.Database(tmp_path / "inst" / "digest.db")
    assert db["digests"].count == 0 and db["sends"].count == 0 and db["runs"].count == 0


def test_preview_sample_needs_no_subscriber(tmp_path, shared_listings):
    config = setup_instance(tmp_path / "inst")
    for path in shared_listings:
        invoke(config, "ingest", "--date", DAY, str(path))
    result = invoke(config, "preview", "--sample", "--date", DAY)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("subject: ")
    assert "code generation" in result.output


def test_preview_needs_email_or_sample(tmp_path):
    config = setup_instance(tmp_path / "inst")
    result = invoke(config, "preview")
    assert result.exit_code == 2
    assert "give a subscriber's EMAIL, or --sample" in result.output


def test_preview_without_secret_names_the_variable_and_the_file(tmp_path, monkeypatch):
    config = setup_instance(tmp_path / "inst")
    monkeypatch.delenv("DIGEST_SECRET")
    assert invoke(config, "preview", "ada@example.org").exit_code == 0  # the instance's file
    key = tmp_path / "inst" / "secret.key"
    key.unlink()
    result = invoke(config, "preview", "ada@example.org")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config}: email.secret_file {key} does not exist; write one with "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))" > '
        f"{key}` (then chmod 600), or export DIGEST_SECRET\n"
    )
    set_config(config, "email", "secret_file", '""')
    result = invoke(config, "preview", "ada@example.org")
    assert result.output == (
        f"Error: {config}: email.secret_env names the environment variable DIGEST_SECRET, "
        "which is not set; export DIGEST_SECRET=... before running this command\n"
    )
