"""The [fetch] section and the [[sources]] tables: every bad key is one line naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.errors import ConfigError, FetchError
from digest.fetch.collect import request_url, user_agent
from digest.fetch.state import FetchLock

GOOD = """
[[sources]]
name = "hf-daily"
kind = "daily-papers"
url = "https://huggingface.co/api/daily_papers"

[[sources]]
name = "arxiv-query"
kind = "arxiv-api"
url = "http://export.arxiv.org/api/query"
query = "cat:cs.CL AND abs:retrieval"
max_results = 200
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value).removeprefix(f"{tmp_path / 'config.toml'}: ")


def test_good_sources_load_in_order(tmp_path: Path) -> None:
    config = load(tmp_path, GOOD)
    assert [(s.name, s.kind, s.max_results) for s in config.sources] == [
        ("hf-daily", "daily-papers", 100),
        ("arxiv-query", "arxiv-api", 200),
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'name = "a b"\nkind = "arxiv-rss"\nurl = "https://x.org/rss"',
            "sources[1].name is 'a b'; expected a name of letters, digits, '.', '-' or '_' "
            '(up to 64; it names the inbox files), e.g. "arxiv-cs-cl"',
        ),
        (
            'name = "x"\nkind = "rss"\nurl = "https://x.org/rss"',
            "sources[1].kind is 'rss'; expected one of daily-papers, arxiv-rss, arxiv-api",
        ),
        (
            'name = "x"\nkind = "arxiv-rss"\nurl = "ftp://x.org/rss"',
            "sources[1].url is 'ftp://x.org/rss'; expected an http:// or https:// URL",
        ),
        (
            'name = "x"\nkind = "arxiv-rss"\nurl = "https://"',
            "sources[1].url is 'https://'; expected an http:// or https:// URL",
        ),
        (
            'name = "x"\nkind = "arxiv-api"\nurl = "http://export.arxiv.org/api/query"',
            "sources[1].query is ''; expected an arXiv search such as \"cat:cs.CL\"",
        ),
        (
            'name = "x"\nkind = "arxiv-api"\nurl = "http://e.org/q"\nquery = "cat:cs.CL"\n'
            "max_results = 5000",
            "sources[1].max_results is 5000; expected 1 to 2000",
        ),
        (
            'name = "x"\nkind = "arxiv-api"\nurl = "http://e.org/q"\nquery = "cat:cs.CL"\n'
            "max_results = 0",
            "sources[1].max_results is 0; expected 1 to 2000",
        ),
        (
            'name = "x"\nkind = "arxiv-rss"\nurl = "https://x.org/rss"\nquery = "cat:cs.CL"',
            "sources[1].query is 'cat:cs.CL'; expected no query (only arxiv-api sources take one)",
        ),
        (
            'name = "x"\nkind = "arxiv-rss"\nurl = "https://x.org/rss"\nmax_results = "ten"',
            "sources[1].max_results must be a whole number, got 'ten'",
        ),
    ],
)
def test_a_bad_source_key_is_named(tmp_path: Path, table: str, message: str) -> None:
    assert error(tmp_path, f"[[sources]]\n{table}\n") == message


def test_an_unknown_source_key_is_named(tmp_path: Path) -> None:
    message = error(tmp_path, '[[sources]]\nname = "x"\nurll = "https://x.org"\n')
    assert message.startswith("unknown key sources[1].urll; ")
    assert "kind, max_results, name, query, url" in message


def test_source_names_are_unique(tmp_path: Path) -> None:
    text = GOOD + '\n[[sources]]\nname = "hf-daily"\nkind = "arxiv-rss"\nurl = "https://a.org"\n'
    assert (
        error(tmp_path, text)
        == "sources[3].name is 'hf-daily'; expected a name no other source has"
    )


def test_sources_must_be_tables(tmp_path: Path) -> None:
    assert error(tmp_path, 'sources = ["https://x.org"]\n') == (
        "sources must be [[sources]] tables, one per source"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'contact = "nobody"',
            "fetch.contact is 'nobody'; expected an email address such as digest@example.org",
        ),
        ("timeout = 0", "fetch.timeout is 0.0; expected a number of seconds above 0"),
        ("retries = 50", "fetch.retries is 50; expected 0 to 10"),
        ("max_bytes = 10", "fetch.max_bytes is 10; expected 1024 bytes or more"),
        (
            "max_wait_seconds = -1",
            "fetch.max_wait_seconds is -1.0; expected a number of seconds above 0",
        ),
    ],
)
def test_a_bad_fetch_key_is_named(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, f"[fetch]\n{text}\n") == message


def test_cli_reports_a_bad_source_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[sources]]\nname = "x"\nkind = "rss"\nurl = "https://x.org"\n')
    result = CliRunner().invoke(cli, ["--config", str(path), "fetch"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: sources[1].kind is 'rss'; expected one of daily-papers, "
        "arxiv-rss, arxiv-api\n"
    )


def test_init_writes_the_three_example_sources_commented_out(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["init", str(tmp_path / "inst")]).exit_code == 0
    path = tmp_path / "inst" / "config.toml"
    assert load_config(path).sources == ()  # commented out: nothing is fetched
    text = path.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^# (\[\[sources\]\]|\w+ = .*)$", r"\1", text)
    path.write_text(uncommented, encoding="utf-8")
    config = load_config(path)
    assert [(s.name, s.kind, s.url) for s in config.sources] == [
        ("hf-daily", "daily-papers", "https://huggingface.co/api/daily_papers"),
        ("arxiv-cs-cl", "arxiv-rss", "https://rss.arxiv.org/rss/cs.CL+cs.LG"),
        ("arxiv-query", "arxiv-api", "http://export.arxiv.org/api/query"),
    ]
    assert (config.sources[2].query, config.sources[2].max_results) == (
        "cat:cs.CL AND abs:retrieval",
        200,
    )
    # The requests those sources make.
    import datetime as dt

    day = dt.date(2026, 12, 1)
    assert request_url(config.sources[0], day) == (
        "https://huggingface.co/api/daily_papers?date=2026-12-01"
    )
    assert request_url(config.sources[1], day) == "https://rss.arxiv.org/rss/cs.CL+cs.LG"
    assert request_url(config.sources[2], day) == (
        "http://export.arxiv.org/api/query?search_query=cat%3Acs.CL+AND+abs%3Aretrieval"
        "&start=0&max_results=200&sortBy=submittedDate&sortOrder=descending"
    )


def test_the_user_agent_names_digest_and_the_contact(tmp_path: Path) -> None:
    config = load(tmp_path, '[email]\nsender = "Team <news@lab.example>"\n')
    assert user_agent(config) == "digest/0.1.0 (mailto:news@lab.example)"
    config = load(tmp_path, '[fetch]\ncontact = "admin@lab.example"\n')
    assert user_agent(config) == "digest/0.1.0 (mailto:admin@lab.example)"


def test_two_fetches_of_one_instance_do_not_run_at_once(tmp_path: Path) -> None:
    with FetchLock(tmp_path), pytest.raises(FetchError) as caught, FetchLock(tmp_path):
        pass
    assert str(caught.value) == (
        "another `digest fetch` of this instance is in progress; wait for it to finish"
    )
    with FetchLock(tmp_path):  # released
        pass


def test_readme_source_table_lists_exactly_the_registered_kinds() -> None:
    from digest.fetch import SOURCE_KINDS
    from digest.sources import FORMATS
    from tests.shared_data import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Sources: fetching the day's listings", 1)[1].split("\n## ", 1)[0]
    rows = section.split("|---|---|---|---|\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [row.split("`")[1] for row in rows] == list(SOURCE_KINDS)
    for row, kind in zip(rows, SOURCE_KINDS.values(), strict=True):
        answer_cell = row.split("|")[3]
        assert all(f"`{fmt}`" in answer_cell for fmt in kind.formats)
        assert set(kind.formats) <= set(FORMATS)
        assert row.split("|")[4].strip() == f"`DAY.NAME{kind.suffix}`"
