from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load_config
from digest.errors import ConfigError
from tests.shared_data import REPO


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_with_paths_relative_to_its_folder() -> None:
    config = load_config(REPO / "config.example.toml")
    assert config.store.database == REPO / "digest.db"
    assert config.ingest.inbox == REPO / "inbox"
    assert config.email.secret_env == "DIGEST_SECRET"
    assert config.web.admin_password_env == "DIGEST_ADMIN_PASSWORD"
    assert config.delivery.transport == "outbox"
    assert config.email.templates is None


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.toml")
    assert str(err.value) == (
        f"{tmp_path / 'nope.toml'}: no config file here; run `digest init` to create one, "
        "or pass --config PATH (or set DIGEST_CONFIG)"
    )


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[ranking]\nlookback_dayz = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(
        f"{path}: unknown key ranking.lookback_dayz; [ranking] accepts"
    )


def test_unknown_section_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[smpt]\nhost = 'x'\n")
    with pytest.raises(ConfigError, match=r"unknown section \[smpt\]"):
        load_config(path)


def test_wrong_type_names_key_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, '[ranking]\nlookback_days = "seven"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: ranking.lookback_days must be a whole number, got 'seven'"


def test_bad_value_names_key_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, '[delivery]\ntransport = "pigeon"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: delivery.transport is 'pigeon'; expected one of 'outbox', 'smtp'"
    )


def test_bad_timezone(tmp_path: Path) -> None:
    path = write(tmp_path, '[schedule]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(
        ConfigError, match=r"schedule\.timezone is 'Mars/Olympus'; expected an IANA"
    ):
        load_config(path)


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[store\n")
    with pytest.raises(ConfigError, match=rf"^{path}: not valid TOML"):
        load_config(path)


def test_secret_comes_from_named_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, '[email]\nsecret_env = "MY_SECRET"\n'))
    monkeypatch.delenv("MY_SECRET", raising=False)
    with pytest.raises(ConfigError, match="MY_SECRET, which is not set"):
        config.secret(config.email.secret_env, key="email.secret_env")
    monkeypatch.setenv("MY_SECRET", "s3cret")
    assert config.secret(config.email.secret_env, key="email.secret_env") == "s3cret"


def test_search_url_is_arxivs_search_and_the_old_broken_one_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert load_config(REPO / "config.example.toml").email.search_url == (
        "https://arxiv.org/search/?query={title}&searchtype=all"
    )
    # Configs written before the fix carry arXiv's author-page path, which searches nothing.
    path = write(tmp_path, '[email]\nsearch_url = "https://arxiv.org/a/search?query={title}"\n')
    with caplog.at_level("WARNING", logger="digest.config"):
        config = load_config(path)
    assert config.email.search_url == "https://arxiv.org/search/?query={title}&searchtype=all"
    assert "author-page path, not its search" in caplog.text


@pytest.mark.parametrize(
    ("key", "value", "placeholder"),
    [
        ("search_url", "https://arxiv.org/search/?query=x", "{title}"),
        ("paper_url", "https://arxiv.org/abs/", "{id}"),
        ("paper_url", "javascript:{id}", "{id}"),
    ],
)
def test_link_templates_need_http_and_their_placeholder(
    tmp_path: Path, key: str, value: str, placeholder: str
) -> None:
    path = write(tmp_path, f'[email]\n{key} = "{value}"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"email.{key}" in str(err.value)
    assert f"an http:// or https:// URL with {placeholder}" in str(err.value)
