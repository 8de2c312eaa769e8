"""`digest fetch` end to end: a real HTTP server on loopback serves the three kinds of
source, the files land in the inbox, real ingest reads them, `digest run --fetch` sends
a digest from them, a second fetch saves nothing new, and one failing source leaves the
others working."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from digest.sources import normalize_title

from .feeds import HTML_ERROR_PAGE, PAPERS, arxiv_atom, arxiv_rss, daily_papers_json
from .http_server import LoopbackServer, Reply, loopback_server
from .run_helpers import TEST_SECRET, invoke, outbox_titles, set_config, setup_instance

DAY = "2026-12-01"
DAILY = daily_papers_json(PAPERS[:2], DAY)
RSS = arxiv_rss(PAPERS[1:3])
ATOM = arxiv_atom(PAPERS[2:])
EMPTY_RSS = arxiv_rss([], "Sat, 05 Dec 2026")


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as s:
        yield s


def add_sources(config: Path, server: LoopbackServer, *names: str) -> None:
    """The three sources of the issue's example, pointed at the loopback server (only
    ``names`` if given), and a [fetch] quick enough for tests."""
    tables = {
        "hf-daily": f'kind = "daily-papers"\nurl = "{server.base}/api/daily_papers"',
        "arxiv-cs-cl": f'kind = "arxiv-rss"\nurl = "{server.base}/rss/cs.CL"',
        "arxiv-query": (
            f'kind = "arxiv-api"\nurl = "{server.base}/api/query"\n'
            'query = "cat:cs.CL AND abs:retrieval"\nmax_results = 200'
        ),
    }
    for key, value in (("retries", "1"), ("backoff_seconds", "0.05"), ("timeout", "2.0")):
        set_config(config, "fetch", key, value)
    chosen = names or tuple(tables)
    text = "".join(f'\n[[sources]]\nname = "{name}"\n{tables[name]}\n' for name in chosen)
    with config.open("a", encoding="utf-8") as out:
        out.write(text)


def serve_all(server: LoopbackServer) -> None:
    server.route("/api/daily_papers", Reply(200, DAILY, {"Content-Type": "application/json"}))
    server.route("/rss/cs.CL", Reply(200, RSS, {"Content-Type": "application/rss+xml"}))
    server.route("/api/query", Reply(200, ATOM, {"Content-Type": "application/atom+xml"}))


def inbox_of(config: Path) -> Path:
    return config.parent / "inbox"


def waiting(config: Path) -> list[str]:
    return sorted(p.name for p in inbox_of(config).iterdir() if p.is_file())


def test_fetch_lands_all_three_kinds_in_the_inbox_and_ingest_reads_them(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server)
    serve_all(server)

    result = invoke(config, "fetch", "--date", DAY)

    assert result.exit_code == 0, result.output
    inbox = inbox_of(config)
    files = {
        f"{DAY}.hf-daily.json": DAILY,
        f"{DAY}.arxiv-cs-cl.xml": RSS,
        f"{DAY}.arxiv-query.xml": ATOM,
    }
    assert waiting(config) == sorted(files)
    for name, body in files.items():
        assert (inbox / name).read_bytes() == body  # the raw answer, byte for byte
        assert stat.S_IMODE((inbox / name).stat().st_mode) == 0o600
    assert result.output.splitlines() == [
        f"hf-daily: saved {inbox / f'{DAY}.hf-daily.json'} ({len(DAILY):,} bytes)",
        f"arxiv-cs-cl: saved {inbox / f'{DAY}.arxiv-cs-cl.xml'} ({len(RSS):,} bytes)",
        f"arxiv-query: saved {inbox / f'{DAY}.arxiv-query.xml'} ({len(ATOM):,} bytes)",
    ]
    # What each kind asked for.
    (daily,) = server.requests("/api/daily_papers")
    assert parse_qs(daily.query) == {"date": [DAY]}
    (api,) = server.requests("/api/query")
    assert parse_qs(api.query) == {
        "search_query": ["cat:cs.CL AND abs:retrieval"],
        "start": ["0"],
        "max_results": ["200"],
        "sortBy": ["submittedDate"],
        "sortOrder": ["descending"],
    }
    assert daily.headers["user-agent"] == "digest/0.1.0 (mailto:digest@example.org)"

    ingested = invoke(config, "ingest", "--inbox", "--date", DAY, "--json")
    assert ingested.exit_code == 0, ingested.output
    by_file = {Path(r["path"]).name: r for r in json.loads(ingested.output)}
    assert {name: (r["status"], r["format"], r["found"]) for name, r in by_file.items()} == {
        f"{DAY}.hf-daily.json": ("ingested", "daily-papers-json", 2),
        f"{DAY}.arxiv-cs-cl.xml": ("ingested", "rss", 2),
        f"{DAY}.arxiv-query.xml": ("ingested", "atom", 2),
    }
    assert sum(r["new"] for r in by_file.values()) == len(PAPERS)


def test_run_fetch_sends_a_digest_from_the_fetched_listings(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server)
    serve_all(server)

    result = invoke(config, "run", "--fetch", "--date", DAY, "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [(f["source"], f["status"]) for f in report["fetch"]] == [
        ("hf-daily", "saved"),
        ("arxiv-cs-cl", "saved"),
        ("arxiv-query", "saved"),
    ]
    assert (report["status"], report["listings_ingested"], report["new_papers"]) == ("ok", 3, 4)
    assert report["sent"] >= 2
    assert waiting(config) == []  # all ingested, moved to processed/
    sent = outbox_titles(config.parent / "outbox")
    # Grace follows retrieval and question answering; Ada code generation.
    assert normalize_title(PAPERS[1][1]) in sent["grace_at_example.org"]
    assert normalize_title(PAPERS[2][1]) in sent["ada_at_example.org"]


def test_a_second_fetch_the_same_day_saves_nothing_new(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server)
    stamp = "Tue, 01 Dec 2026 06:00:00 GMT"
    # One source answers 304 to If-Modified-Since, one to If-None-Match, and one has no
    # validators at all and sends the same body again.
    server.route("/api/daily_papers", Reply(200, DAILY, last_modified=stamp))
    server.route("/rss/cs.CL", Reply(200, RSS, etag='"rss-v1"'))
    server.route("/api/query", Reply(200, ATOM))
    assert invoke(config, "fetch", "--date", DAY).exit_code == 0
    first = waiting(config)
    assert len(first) == 3

    again = invoke(config, "fetch", "--date", DAY)

    assert again.exit_code == 0, again.output
    assert waiting(config) == first
    assert again.output.splitlines() == [
        "hf-daily: not modified since the last fetch (304); nothing saved",
        "arxiv-cs-cl: not modified since the last fetch (304); nothing saved",
        "arxiv-query: the same listing as the last fetch; nothing saved",
    ]
    assert server.requests("/api/daily_papers")[1].headers["if-modified-since"] == stamp
    assert server.requests("/rss/cs.CL")[1].headers["if-none-match"] == '"rss-v1"'
    assert "if-none-match" not in server.requests("/api/query")[1].headers
    # The validators are kept per source, in a private file.
    state_file = config.parent / "cache" / "fetch-state.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    state = json.loads(state_file.read_text())
    assert state["arxiv-cs-cl"]["etag"] == '"rss-v1"'
    assert state["hf-daily"]["last_modified"] == stamp

    # Once ingested, a third fetch still saves nothing; a changed listing is saved.
    assert invoke(config, "ingest", "--inbox", "--date", DAY).exit_code == 0
    server.route("/rss/cs.CL", Reply(200, arxiv_rss(PAPERS), etag='"rss-v2"'))
    third = invoke(config, "fetch", "--date", DAY)
    assert waiting(config) == [f"{DAY}.arxiv-cs-cl.xml"]
    assert "arxiv-cs-cl: saved" in third.output


def test_a_changed_listing_the_same_day_is_a_second_file_not_a_loss(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-cs-cl")
    server.route("/rss/cs.CL", Reply(200, RSS), Reply(200, arxiv_rss(PAPERS)))
    assert invoke(config, "fetch", "--date", DAY).exit_code == 0
    assert invoke(config, "fetch", "--date", DAY).exit_code == 0
    assert waiting(config) == [f"{DAY}.arxiv-cs-cl-2.xml", f"{DAY}.arxiv-cs-cl.xml"]
    assert (inbox_of(config) / f"{DAY}.arxiv-cs-cl.xml").read_bytes() == RSS


def test_a_failing_source_leaves_the_others_working(tmp_path: Path, server: LoopbackServer) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server)
    server.route("/api/daily_papers", Reply(503, b"down", {"Retry-After": "0"}))
    server.route("/rss/cs.CL", Reply(200, HTML_ERROR_PAGE, {"Content-Type": "text/html"}))
    server.route("/api/query", Reply(200, ATOM))

    result = invoke(config, "fetch", "--date", DAY)

    assert result.exit_code == 1
    assert waiting(config) == [f"{DAY}.arxiv-query.xml"]
    daily_url = f"{server.base}/api/daily_papers?date={DAY}"
    rss_url = f"{server.base}/rss/cs.CL"
    assert result.output.splitlines() == [
        f"Error: hf-daily: {daily_url}: HTTP 503 Service Unavailable (2 attempts)",
        f"Error: arxiv-cs-cl: {rss_url}: the server sent an HTML page, not an arXiv RSS feed "
        "(status 200); nothing saved: the URL does not serve an arXiv RSS feed, check "
        "sources[2].url and sources[2].kind",
        f"arxiv-query: saved {inbox_of(config) / f'{DAY}.arxiv-query.xml'} ({len(ATOM):,} bytes)",
    ]
    assert len(server.requests("/api/daily_papers")) == 2  # retried once


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, RSS, cut_at=200), "the connection broke mid-answer; the body was cut short"),
        (Reply(200, RSS, delay=3.0), "no answer within 2 s (timeout) (2 attempts)"),
        (Reply(200, HTML_ERROR_PAGE), "the server sent an HTML page, not an arXiv RSS feed"),
        (Reply(200, ATOM), "not an arXiv RSS feed: the answer is atom"),
        (Reply(404, b"gone"), "HTTP 404 Not Found; check the source's url"),
    ],
    ids=["truncated", "slow", "html-200", "wrong-kind", "404"],
)
def test_a_bad_answer_saves_nothing_and_says_why(
    tmp_path: Path, server: LoopbackServer, reply: Reply, message: str
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-cs-cl")
    server.route("/rss/cs.CL", reply)
    result = invoke(config, "fetch", "--date", DAY)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.splitlines()) == 1
    assert waiting(config) == []
    assert [p.name for p in inbox_of(config).iterdir() if p.name.startswith(".")] == []


def test_an_empty_holiday_feed_is_saved_and_ingested_as_empty(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-cs-cl", "hf-daily")
    server.route("/rss/cs.CL", Reply(200, EMPTY_RSS))
    server.route("/api/daily_papers", Reply(200, b"[]", {"Content-Type": "application/json"}))
    result = invoke(config, "fetch", "--date", "2026-12-05")
    assert result.exit_code == 0, result.output
    assert waiting(config) == ["2026-12-05.arxiv-cs-cl.xml", "2026-12-05.hf-daily.json"]
    inbox = inbox_of(config)
    assert result.output.splitlines() == [
        f"arxiv-cs-cl: saved an empty listing: a holiday? "
        f"({inbox / '2026-12-05.arxiv-cs-cl.xml'}, {len(EMPTY_RSS):,} bytes)",
        f"hf-daily: saved an empty listing: a holiday? ({inbox / '2026-12-05.hf-daily.json'}, "
        "2 bytes)",
    ]
    ingested = invoke(config, "ingest", "--inbox", "--json")
    assert ingested.exit_code == 0, ingested.output
    assert [(r["status"], r["found"]) for r in json.loads(ingested.output)] == [
        ("ingested", 0),
        ("ingested", 0),
    ]


def test_a_redirected_source_is_saved(tmp_path: Path, server: LoopbackServer) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-cs-cl")
    server.route("/rss/cs.CL", Reply(301, b"", {"Location": "/rss/cs.CL+cs.LG"}))
    server.route("/rss/cs.CL+cs.LG", Reply(200, RSS))
    result = invoke(config, "fetch", "--date", DAY)
    assert result.exit_code == 0, result.output
    assert (inbox_of(config) / f"{DAY}.arxiv-cs-cl.xml").read_bytes() == RSS


def test_source_option_and_json_output(tmp_path: Path, server: LoopbackServer) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server)
    serve_all(server)
    result = invoke(config, "fetch", "--source", "arxiv-query", "--date", DAY, "--json")
    assert result.exit_code == 0, result.output
    (only,) = json.loads(result.output)
    assert (only["source"], only["kind"], only["status"], only["http_status"]) == (
        "arxiv-query",
        "arxiv-api",
        "saved",
        200,
    )
    assert only["size"] == len(ATOM)
    assert server.requests("/rss/cs.CL") == []

    # Source names are unique ignoring case, so --source ignores case too.
    shouted = invoke(config, "fetch", "--source", "ARXIV-Query", "--date", DAY, "--json")
    assert shouted.exit_code == 0, shouted.output
    assert [r["source"] for r in json.loads(shouted.output)] == ["arxiv-query"]

    unknown = invoke(config, "fetch", "--source", "nope")
    assert unknown.exit_code == 1
    assert unknown.output == (
        "Error: no source named 'nope'; the sources are hf-daily, arxiv-cs-cl, arxiv-query\n"
    )


def test_fetch_without_sources_says_how_to_add_one(tmp_path: Path) -> None:
    config = setup_instance(tmp_path / "inst")
    result = invoke(config, "fetch")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config}: no [[sources]] configured; add one (see the commented examples "
        "in config.toml) to fetch listings\n"
    )


def test_the_scheduled_job_fetches_first(tmp_path: Path, server: LoopbackServer) -> None:
    import datetime as dt

    from digest.config import load_config
    from digest.schedule import StopFlag, scheduled_run

    config_path = setup_instance(tmp_path / "inst")
    add_sources(config_path, server)
    serve_all(server)
    config = load_config(config_path)
    now = dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)

    scheduled_run(config, now=lambda: now, stop=StopFlag())

    assert len(server.requests("/api/daily_papers")) == 1
    assert parse_qs(server.requests("/api/daily_papers")[0].query) == {"date": [DAY]}
    assert waiting(config_path) == []  # fetched, then ingested by the run
    assert len(list((config_path.parent / "outbox" / DAY).glob("*.eml"))) >= 2


def test_the_demo_fetches_nothing(tmp_path: Path) -> None:
    from digest.config import load_config

    result = invoke(tmp_path / "unused.toml", "demo", "--dir", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert load_config(tmp_path / "demo" / "config.toml").sources == ()


def test_inbox_files_are_written_whole(tmp_path: Path, server: LoopbackServer) -> None:
    """No temporary file is left behind, and nothing is readable by others."""
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "hf-daily")
    server.route("/api/daily_papers", Reply(200, DAILY))
    old = os.umask(0o022)
    try:
        assert invoke(config, "fetch", "--date", DAY).exit_code == 0
    finally:
        os.umask(old)
    names = os.listdir(inbox_of(config))
    assert [n for n in names if n.endswith(".tmp")] == []
    assert stat.S_IMODE((inbox_of(config) / f"{DAY}.hf-daily.json").stat().st_mode) == 0o600


def test_run_fetch_goes_on_when_a_source_fails_and_says_so(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server)
    serve_all(server)
    server.route("/rss/cs.CL", Reply(500, b"oops"))

    result = invoke(config, "run", "--fetch", "--date", DAY)

    assert result.exit_code == 1  # a source failed, though the run itself went well
    rss_url = f"{server.base}/rss/cs.CL"
    message = f"arxiv-cs-cl: {rss_url}: HTTP 500 Internal Server Error (2 attempts)"
    assert f"Error: {message}" in result.output
    assert "listings ingested: 2" in result.output
    assert f"note: fetch failed: {message}" in result.output
    runs = json.loads(invoke(config, "runs", "--json").output)
    assert runs[0]["status"] == "ok"
    assert runs[0]["sent"] >= 2
    assert runs[0]["notes"] == [f"fetch failed: {message}"]


def test_an_unreadable_state_file_costs_one_full_download(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-cs-cl")
    server.route("/rss/cs.CL", Reply(200, RSS, etag='"v1"'))
    state_file = config.parent / "cache" / "fetch-state.json"
    state_file.write_text("{not json", encoding="utf-8")
    result = invoke(config, "fetch", "--date", DAY)
    assert result.exit_code == 0, result.output
    assert waiting(config) == [f"{DAY}.arxiv-cs-cl.xml"]
    assert "if-none-match" not in server.requests("/rss/cs.CL")[0].headers
    assert json.loads(state_file.read_text())["arxiv-cs-cl"]["etag"] == '"v1"'


def test_the_scheduled_job_records_a_failed_source_in_the_run(
    tmp_path: Path, server: LoopbackServer
) -> None:
    import datetime as dt

    from digest.config import load_config
    from digest.schedule import StopFlag, scheduled_run

    config_path = setup_instance(tmp_path / "inst")
    add_sources(config_path, server, "hf-daily", "arxiv-query")
    serve_all(server)
    server.route("/api/daily_papers", Reply(200, HTML_ERROR_PAGE))
    now = dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)

    scheduled_run(load_config(config_path), now=lambda: now, stop=StopFlag())

    runs = json.loads(invoke(config_path, "runs", "--json").output)
    assert (runs[0]["trigger"], runs[0]["listings_ingested"]) == ("schedule", 1)
    daily_url = f"{server.base}/api/daily_papers?date={DAY}"
    assert runs[0]["notes"] == [
        f"fetch failed: hf-daily: {daily_url}: the server sent an HTML page, not a daily-papers "
        "JSON array (status 200); nothing saved: the URL does not serve a daily-papers JSON "
        "array, check sources[1].url and sources[1].kind"
    ]
