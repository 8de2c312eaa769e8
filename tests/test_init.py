"""`digest init` and what commands say without a config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_init_writes_a_private_random_secret_the_config_points_at(tmp_path, monkeypatch):
    from digest.config import load_config

    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    assert CliRunner().invoke(cli, ["init", str(tmp_path / "a")]).exit_code == 0
    assert CliRunner().invoke(cli, ["init", str(tmp_path / "b")]).exit_code == 0
    key = tmp_path / "a" / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600
    config = load_config(tmp_path / "a" / "config.toml")
    assert config.email.secret_file == key
    secret = config.link_secret()
    assert secret == key.read_text().strip() and len(secret.encode()) >= 32
    assert secret != load_config(tmp_path / "b" / "config.toml").link_secret()
    # The environment variable still wins over the file.
    monkeypatch.setenv("DIGEST_SECRET", "x" * 40)
    assert config.link_secret() == "x" * 40


def test_a_short_secret_is_refused_in_one_line_saying_how_to_make_one(tmp_path, monkeypatch):
    assert CliRunner().invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    config = str(tmp_path / "config.toml")
    monkeypatch.setenv("DIGEST_SECRET", "a")
    result = CliRunner().invoke(cli, ["--config", config, "preview", "--sample"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: the environment variable DIGEST_SECRET: the link secret is 1 byte, too short "
        "to be safe; use 32 or more, e.g. the output of "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`\n'
    )
    monkeypatch.delenv("DIGEST_SECRET")
    (tmp_path / "secret.key").write_text("short-file-secret\n")
    result = CliRunner().invoke(cli, ["--config", config, "preview", "--sample"])
    assert result.output.startswith(
        f"Error: {tmp_path / 'secret.key'}: the link secret is 17 bytes, too short"
    )
    assert result.output.count("\n") == 1


REPO = Path(__file__).resolve().parents[1]
CWD_GONE = (
    "the working folder no longer exists (it was deleted); cd to a folder that exists, "
    "or give absolute paths"
)


def digest_in_deleted_folder(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``digest ARGS`` in a real process whose working folder was deleted under it."""
    gone = tmp_path / "gone"
    gone.mkdir()
    shell = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    return subprocess.run(
        ["sh", "-c", shell, "sh", str(gone), sys.executable, "-m", "digest", *args],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_of_an_absolute_folder_works_from_a_deleted_working_folder(tmp_path):
    target = tmp_path / "mine"
    done = digest_in_deleted_folder(tmp_path, "init", str(target))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.splitlines()[0] == f"created {target / 'config.toml'}"
    assert f"(from {target}, or pass --config {target / 'config.toml'})" in done.stdout
    assert (target / "config.toml").is_file() and (target / "digest.db").is_file()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["init", "mine"], "mine"),
        (["demo"], "digest-demo"),
        (["papers", "list"], "config.toml"),  # the default --config is relative
        (["ingest", "listing.jsonl"], "listing.jsonl"),
        (["subscribers", "export", "-o", "team.toml"], "team.toml"),
        (["preview", "--sample", "--out", "sample.html"], "sample.html"),
    ],
)
def test_a_relative_path_from_a_deleted_working_folder_is_one_line(tmp_path, args, named):
    config = tmp_path / "instance" / "config.toml"
    if args[0] not in ("init", "demo", "papers"):
        assert CliRunner().invoke(cli, ["init", str(config.parent)]).exit_code == 0
        args = ["--config", str(config), *args]
    done = digest_in_deleted_folder(tmp_path, *args)
    assert done.returncode == 1, done.stdout
    assert done.stderr.splitlines()[-1] == f"Error: {named}: {CWD_GONE}", done.stderr
    assert "Traceback" not in done.stderr
