"""`digest init` and what commands say without a config."""

from __future__ import annotations

import sqlite_utils
from click.testing import CliRunner

from digest.cli import cli


def test_init_creates_config_database_and_folders(tmp_path):
    target = tmp_path / "mine"
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "config.toml").is_file()
    for folder in ("inbox", "inbox/processed", "inbox/failed", "outbox", "cache"):
        assert (target / folder).is_dir(), folder
    db = sqlite_utils.Database(target / "digest.db")
    assert {"papers", "listings", "paper_listings", "papers_fts", "migrations"} <= set(
        db.table_names()
    )
    assert db.journal_mode == "wal"
    from digest.store import MIGRATIONS

    assert [r["name"] for r in db["migrations"].rows] == [name for name, _ in MIGRATIONS]


def test_init_refuses_to_overwrite(tmp_path):
    CliRunner().invoke(cli, ["init", str(tmp_path)])
    config = tmp_path / "config.toml"
    config.write_text(config.read_text() + "\n# mine\n")
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config}: a config file is already here; edit it, or remove it to start over\n"
    )
    assert config.read_text().endswith("# mine\n")


def test_commands_without_config_say_how_to_create_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["papers", "list"])
    assert result.exit_code == 1
    assert "config.toml: no config file here; run `digest init` to create one" in result.output


def test_config_from_environment_variable(tmp_path, monkeypatch):
    CliRunner().invoke(cli, ["init", str(tmp_path / "x")])
    monkeypatch.setenv("DIGEST_CONFIG", str(tmp_path / "x" / "config.toml"))
    result = CliRunner().invoke(cli, ["papers", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "[]"


def test_database_missing_says_run_init(tmp_path):
    CliRunner().invoke(cli, ["init", str(tmp_path)])
    (tmp_path / "digest.db").unlink()
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.toml"), "papers", "list"])
    assert result.exit_code == 1
    assert "no database here; run `digest init` first" in result.output
