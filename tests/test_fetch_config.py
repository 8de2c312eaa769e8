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


@pytest.mark.parametrize("name", ["hf-daily", "HF-DAILY", "Hf-Daily"])
def test_source_names_are_unique_ignoring_case(tmp_path: Path, name: str) -> None:
    text = GOOD + f'\n[[sources]]\nname = "{name}"\nkind = "arxiv-rss"\nurl = "https://a.org"\n'
    assert error(tmp_path, text) == (
        f"sources[3].name is '{name}'; expected a name no other source has (ignoring case)"
    )


URL_SOURCE = '[[sources]]\nname = "x"\nkind = "arxiv-rss"\nurl = "{url}"\n'


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://127.0.0.1:8765/rss\\nX: y",
            "'http://127.0.0.1:8765/rss\\nX: y'; expected an http:// or https:// URL "
            "without spaces or control characters",
        ),
        (
            "http://h.org/a\\tb",
            "'http://h.org/a\\tb'; expected an http:// or https:// URL without spaces or "
            "control characters",
        ),
        (
            "http://h.org/a b",
            "'http://h.org/a b'; expected an http:// or https:// URL without spaces or "
            "control characters",
        ),
        (
            "http://h.org/\\u0085x",
            "'http://h.org/\\x85x'; expected an http:// or https:// URL without spaces or "
            "control characters",
        ),
        (
            "http://h.org:99999/rss",
            "'http://h.org:99999/rss'; expected an http:// or https:// URL (this one cannot "
            "be parsed)",
        ),
        (
            "http://[::1/rss",
            "'http://[::1/rss'; expected an http:// or https:// URL (this one cannot be parsed)",
        ),
        (
            "http://h%2Fx.org/rss",
            "'http://h%2Fx.org/rss'; expected an http:// or https:// URL whose host is a plain "
            "name or an IP address",
        ),
        ("file:///etc/passwd", "'file:///etc/passwd'; expected an http:// or https:// URL"),
        ("http:///rss", "'http:///rss'; expected an http:// or https:// URL"),
    ],
)
def test_a_source_url_is_checked_whole_at_load(tmp_path: Path, url: str, expected: str) -> None:
    assert error(tmp_path, URL_SOURCE.format(url=url)) == f"sources[1].url is {expected}"


# URLs the config accepts must be URLs httpx can request (the config does not load httpx).
ACCEPTED = [
    "https://rss.arxiv.org/rss/cs.CL+cs.LG",
    "http://127.0.0.1:8765/rss?x=1&y=%20",
    "http://[::1]:8080/rss",
    "https://xn--bcher-kva.example/feed",
    "http://my_host.internal/rss",
    "http://user:pw@h.org/x#frag",
    "http://h.org/caf\u00e9",
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_every_url_the_config_accepts_httpx_parses(tmp_path: Path, url: str) -> None:
    import httpx

    (source,) = load(tmp_path, URL_SOURCE.format(url=url)).sources
    assert source.url == url
    assert httpx.URL(url).host


def test_a_password_in_a_bad_url_is_not_repeated_in_the_error(tmp_path: Path) -> None:
    message = error(tmp_path, URL_SOURCE.format(url="ftp://ann:secretpw@h.org/x?token=tok123"))
    assert message == (
        "sources[1].url is 'ftp://***@h.org/x?token=***'; expected an http:// or https:// URL"
    )


@pytest.mark.parametrize(
    ("kind", "url", "clash"),
    [
        (
            "daily-papers",
            "https://hf.co/api/daily_papers?date=2026-01-01",
            "date (digest sets it for a daily-papers source; pick the day with --date)",
        ),
        (
            "daily-papers",
            "https://hf.co/api/daily_papers?limit=5&date=",
            "date (digest sets it for a daily-papers source; pick the day with --date)",
        ),
        (
            "arxiv-api",
            "http://e.org/q?start=5&max_results=9",
            "start, max_results (digest sets them for a arxiv-api source)",
        ),
    ],
)
def test_a_url_parameter_the_kind_sets_is_refused(
    tmp_path: Path, kind: str, url: str, clash: str
) -> None:
    query = 'query = "cat:cs.CL"\n' if kind == "arxiv-api" else ""
    text = f'[[sources]]\nname = "x"\nkind = "{kind}"\nurl = "{url}"\n{query}'
    assert error(tmp_path, text) == f"sources[1].url is '{url}'; expected a URL without {clash}"


def test_the_other_query_parameters_of_a_daily_papers_url_stay(tmp_path: Path) -> None:
    import datetime as dt

    text = '[[sources]]\nname = "x"\nkind = "daily-papers"\nurl = "https://hf.co/api?limit=5&a=b"\n'
    (source,) = load(tmp_path, text).sources
    assert request_url(source, dt.date(2026, 12, 1)) == (
        "https://hf.co/api?limit=5&a=b&date=2026-12-01"
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
        (
            "timeout = 0",
            "fetch.timeout is 0.0; expected a number of seconds above 0 and at most 600",
        ),
        (
            "timeout = 1e308",
            "fetch.timeout is 1e+308; expected a number of seconds above 0 and at most 600",
        ),
        ("retries = 50", "fetch.retries is 50; expected 0 to 10"),
        ("retries = -1", "fetch.retries is -1; expected 0 to 10"),
        ("max_bytes = 10", "fetch.max_bytes is 10; expected 1,024 to 1,073,741,824 bytes"),
        (
            "max_bytes = 9223372036854775807",
            "fetch.max_bytes is 9223372036854775807; expected 1,024 to 1,073,741,824 bytes",
        ),
        (
            "max_wait_seconds = -1",
            "fetch.max_wait_seconds is -1.0; expected a number of seconds above 0 and at "
            "most 3,600",
        ),
        (
            "backoff_seconds = 1e308",
            "fetch.backoff_seconds is 1e+308; expected a number of seconds above 0 and at most 300",
        ),
        (
            "max_source_seconds = 1e9",
            "fetch.max_source_seconds is 1000000000.0; expected a number of seconds above 0 "
            "and at most 21,600",
        ),
        ("backoff_seconds = inf", "fetch.backoff_seconds must be a finite number, got inf"),
    ],
)
def test_a_bad_fetch_key_is_named(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, f"[fetch]\n{text}\n") == message


@pytest.mark.parametrize(
    ("section", "text", "message"),
    [
        (
            "ranking",
            "trending_count = 1000000",
            "ranking.trending_count is 1000000; expected 0 to 100",
        ),
        (
            "smtp",
            "timeout = 1e308",
            "smtp.timeout is 1e+308; expected a number of seconds above 0 and at most 600",
        ),
        (
            "smtp",
            "timeout = 0",
            "smtp.timeout is 0.0; expected a number of seconds above 0 and at most 600",
        ),
        (
            "smtp",
            "rate_per_second = 1e-300",
            "smtp.rate_per_second is 1e-300; expected 0.01 to 1,000 messages a second",
        ),
        ("smtp", "retries = 1000000", "smtp.retries is 1000000; expected 0 to 10"),
        (
            "smtp",
            "backoff_seconds = 1e308",
            "smtp.backoff_seconds is 1e+308; expected 0 to 300 seconds",
        ),
        ("smtp", "backoff_seconds = -1", "smtp.backoff_seconds is -1.0; expected 0 to 300 seconds"),
        ("smtp", "max_hard_failures = 0", "smtp.max_hard_failures is 0; expected 1 to 1,000"),
        (
            "schedule",
            "misfire_grace_seconds = 0",
            "schedule.misfire_grace_seconds is 0; expected 1 to 604,800 seconds",
        ),
        (
            "web",
            "header_timeout = 1e308",
            "web.header_timeout is 1e+308; expected a number of seconds above 0 and at most 3,600",
        ),
        (
            "web",
            "keep_alive_timeout = 0",
            "web.keep_alive_timeout is 0; expected a number of seconds above 0 and at most 3,600",
        ),
        (
            "web",
            "max_connections = 9223372036854775807",
            "web.max_connections is 9223372036854775807; expected 1 to 100,000",
        ),
    ],
)
def test_every_number_in_the_config_is_bounded(
    tmp_path: Path, section: str, text: str, message: str
) -> None:
    assert error(tmp_path, f"[{section}]\n{text}\n") == message


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
