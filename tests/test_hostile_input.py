"""Hostile input at the edges: control characters, non-UTF-8 files, dates and numbers out
of range. Each is one line naming what is wrong, a non-zero exit and nothing written."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import given
from hypothesis import strategies as st

from digest.compose import lookback_window
from digest.config import load_config
from digest.errors import ConfigError, SubscriberError
from digest.profiles import (
    entries_to_toml,
    entry_from_mapping,
    parse_subscribers_toml,
    toml_string,
)
from tests.run_helpers import set_config


def rows(instance) -> list[dict]:
    return list(sqlite_utils.Database(instance.store.database)["subscribers"].rows)


def test_import_rejects_control_characters_and_writes_nothing(run_cli, instance, tmp_path):
    source = tmp_path / "n.toml"
    source.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\nname = "\\u0000evil\\u001b[31m"\n',
        encoding="utf-8",
    )
    result = run_cli("subscribers", "import", str(source))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {source}: subscriber 1 (ada@example.org): name '\\x00evil\\x1b[31m' holds "
        "the control character U+0000; remove it and retry\n"
    )
    assert rows(instance) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("subscribers", "add", "ada@example.org", "--name", "a\x9bb"),
            "add (ada@example.org): name 'a\\x9bb' holds the control character U+009B",
        ),
        (
            ("subscribers", "add", "ada@example.org", "--description", "x\x07"),
            "add (ada@example.org): description 'x\\x07' holds the control character U+0007",
        ),
    ],
)
def test_cli_rejects_control_characters(run_cli, instance, args, message):
    result = run_cli(*args)
    assert result.exit_code == 1
    assert result.output == f"Error: {message}; remove it and retry\n"
    assert rows(instance) == []


def test_profile_set_rejects_control_characters(run_cli, instance):
    assert run_cli("subscribers", "add", "ada@example.org").exit_code == 0
    result = run_cli("profile", "set", "ada@example.org", "--keyword", "rag\x1b[0m")
    assert result.exit_code == 1
    assert result.output == (
        "Error: profile set (ada@example.org): keywords 'rag\\x1b[0m' holds the control "
        "character U+001B; remove it and retry\n"
    )
    db = sqlite_utils.Database(instance.store.database)
    assert "rag" not in str(list(db["profiles"].rows))


@given(st.text())
def test_toml_string_reads_back_equal(value):
    assert tomllib.loads(f"v = {toml_string(value)}")["v"] == value


@given(name=st.text(max_size=60), description=st.text(max_size=200), like=st.text(max_size=60))
def test_export_import_round_trips_any_accepted_text(name, description, like):
    data = {
        "email": "ada@example.org",
        "name": name,
        "description": description,
        "liked": [like],
        "exclude": [f"x{like}"[:150]],
    }
    try:
        entry = entry_from_mapping(data, where="t")
    except SubscriberError:
        return  # rejected input is never stored
    (back,) = parse_subscribers_toml(entries_to_toml([entry]), source="t")
    assert back.name == entry.name
    assert back.description == entry.description
    assert back.liked == entry.liked
    assert back.exclude == entry.exclude


def test_export_escapes_a_stored_control_character(run_cli, instance):
    # A value stored before the check existed still exports as TOML that parses.
    assert run_cli("subscribers", "add", "ada@example.org").exit_code == 0
    db = sqlite_utils.Database(instance.store.database)
    db.execute(
        "UPDATE subscribers SET name = ? WHERE email = ?", ["\x00evil\x1b", "ada@example.org"]
    )
    db.conn.commit()
    result = run_cli("subscribers", "export")
    assert result.exit_code == 0
    assert tomllib.loads(result.output)["subscribers"][0]["name"] == "\x00evil\x1b"


@pytest.mark.parametrize(
    ("name", "content", "byte"),
    [("t.toml", b"\xff\xfe\x00garbage", "0xff"), ("c.csv", b"email\n\xc6\x00\xff", "0xc6")],
)
def test_import_of_a_file_that_is_not_utf8(run_cli, instance, tmp_path, name, content, byte):
    source = tmp_path / name
    source.write_bytes(content)
    result = run_cli("subscribers", "import", str(source))
    assert result.exit_code == 1
    offset = content.index(bytes.fromhex(byte[2:]))
    assert result.output == (
        f"Error: {source}: not UTF-8 text (byte {byte} at offset {offset}); "
        "save it as UTF-8 and retry\n"
    )
    assert rows(instance) == []


def test_config_that_is_not_utf8(run_cli, instance):
    instance.path.write_bytes(b"\xff\xfe[ranking]\n")
    result = run_cli("subscribers", "list")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {instance.path}: cannot read the config file (")
    assert "\n" not in result.output.rstrip("\n")


@pytest.mark.parametrize(
    "command", [("run",), ("preview", "ada@example.org"), ("rank", "ada@example.org")]
)
@pytest.mark.parametrize("day", ["0000-01-01", "0001-01-01", "1969-12-31", "9999-12-31"])
def test_dates_out_of_range(run_cli, instance, command, day):
    assert run_cli("subscribers", "add", "ada@example.org").exit_code == 0
    result = run_cli(*command, "--date", day)
    assert result.exit_code == 2
    assert result.output.endswith(
        f"Error: Invalid value for '--date': '{day}' is out of range; "
        "give a day from 1970-01-01 to 9999-12-30\n"
    )
    db = sqlite_utils.Database(instance.store.database)
    assert "runs" not in db.table_names() or db["runs"].count == 0


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("lookback_days", "100000000", "100000000; expected 1 to 3650 days"),
        ("lookback_days", "0", "0; expected 1 to 3650 days"),
        ("min_score", "nan", "nan; expected a number from 0.0 to 1.0"),
        ("min_score", "-5.0", "-5.0; expected a number from 0.0 to 1.0"),
        ("min_score", "1.5", "1.5; expected a number from 0.0 to 1.0"),
    ],
)
def test_ranking_config_bounds(instance, key, value, expected):
    set_config(instance.path, "ranking", key, value)
    with pytest.raises(ConfigError) as caught:
        load_config(instance.path)
    message = str(caught.value)
    if value == "nan":
        assert message == f"{instance.path}: ranking.min_score must be a finite number, got nan"
    else:
        assert message == f"{instance.path}: ranking.{key} is {expected}"


def test_lookback_window_clamps_to_date_min(instance):
    config = instance
    import dataclasses

    wide = dataclasses.replace(
        config, ranking=dataclasses.replace(config.ranking, lookback_days=10**8)
    )
    assert lookback_window(wide, dt.date(1, 1, 2)) == (dt.date.min, dt.date(1, 1, 2))
    assert lookback_window(config, dt.date(2026, 1, 10))[0] == dt.date(2026, 1, 4)


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "1.01"])
def test_min_score_edit_and_import(run_cli, instance, tmp_path, value):
    assert run_cli("subscribers", "add", "ada@example.org").exit_code == 0
    result = run_cli("subscribers", "edit", "ada@example.org", "--min-score", value)
    assert result.exit_code == 1
    shown = repr(float(value))
    assert result.output == (
        f"Error: edit (ada@example.org): min_score is {shown}; expected a number from 0.0 "
        "to 1.0 (or leave it out to use the config's ranking.min_score)\n"
    )
    source = tmp_path / "s.csv"
    source.write_text(f"email,min_score\nada@example.org,{value}\n", encoding="utf-8")
    result = run_cli("subscribers", "import", str(source))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {source}:2 (ada@example.org): min_score is {shown}; expected a number from 0.0 "
        "to 1.0 (or leave it out to use the config's ranking.min_score)\n"
    )
    assert [r["min_score"] for r in rows(instance)] == [None]


def test_read_text_names_a_missing_file(tmp_path):
    from click import ClickException

    from digest.cli.app import read_text_file

    with pytest.raises(ClickException) as caught:
        read_text_file(Path(tmp_path / "gone.toml"))
    assert caught.value.message.startswith(f"{tmp_path / 'gone.toml'}: cannot read the file (")
