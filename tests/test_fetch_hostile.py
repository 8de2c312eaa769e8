"""`digest fetch` against hostile configs and answers, end to end on a real loopback HTTP
server: a URL httpx refuses, a Retry-After of a day, passwords in URLs, garbage and
DOCTYPE bodies, a redirect to file://. Each is one line for its source; the others go on."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import load_config
from digest.fetch.collect import fetch_sources

from .feeds import PAPERS, arxiv_rss
from .http_server import LoopbackServer, Reply, loopback_server
from .run_helpers import TEST_SECRET, invoke, set_config, setup_instance
from .shared_data import REPO
from .test_fetch import ATOM, DAILY, DAY, RSS, add_sources, inbox_of, serve_all, waiting


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as s:
        yield s


def lines(result) -> list[str]:  # type: ignore[no-untyped-def]
    return result.output.splitlines()


def test_a_control_character_in_a_url_is_refused_at_load(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-cs-cl")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("/rss/cs.CL", "/rss\\nX: y"), encoding="utf-8")
    result = invoke(config, "fetch", "--date", DAY)
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: {config}: sources[1].url is '{server.base}/rss\\nX: y'; expected an http:// "
        "or https:// URL without spaces or control characters"
    ]
    assert server.seen == []


def test_a_url_httpx_refuses_fails_its_source_only(tmp_path: Path, server: LoopbackServer) -> None:
    """A Config built in code skips the file's checks: the fetcher still turns httpx's
    error into that source's one line, and fetches the others."""
    config_path = setup_instance(tmp_path / "inst")
    add_sources(config_path, server)
    serve_all(server)
    config = load_config(config_path)
    bad = dataclasses.replace(config.sources[0], url=f"{server.base}/api\nX: y")
    config = dataclasses.replace(config, sources=(bad, *config.sources[1:]))
    now = dt.datetime(2026, 12, 1, 7, tzinfo=dt.UTC)
    results = fetch_sources(config, day=now.date(), now=now)
    assert [r.status for r in results] == ["failed", "saved", "saved"]
    assert results[0].message.startswith(f"hf-daily: {server.base}/api\nX: y: not a usable URL (")
    assert results[0].message.endswith("); fix sources[1].url")
    assert server.requests("/api") == []


def test_a_day_long_retry_after_fails_the_source_at_once(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server)
    set_config(config, "fetch", "retries", "3")
    serve_all(server)
    server.route("/api/daily_papers", Reply(429, b"", {"Retry-After": "99999"}), Reply(200, DAILY))
    started = time.monotonic()
    result = invoke(config, "fetch", "--date", DAY)
    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    assert lines(result)[0] == (
        f"Error: hf-daily: {server.base}/api/daily_papers?date={DAY}: HTTP 429 Too Many "
        "Requests: the server asks to retry after 99999 s (more than fetch.max_wait_seconds); "
        "try later"
    )
    assert len(server.requests("/api/daily_papers")) == 1
    assert waiting(config) == [f"{DAY}.arxiv-cs-cl.xml", f"{DAY}.arxiv-query.xml"]


def test_each_source_is_printed_as_it_finishes_even_into_a_pipe(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-cs-cl", "arxiv-query")
    set_config(config, "fetch", "timeout", "10.0")
    server.route("/rss/cs.CL", Reply(200, RSS))
    server.route("/api/query", Reply(200, ATOM, delay=3.0))
    env = {**os.environ, "PYTHONPATH": str(REPO), "DIGEST_SECRET": TEST_SECRET}
    command = [sys.executable, "-m", "digest", "--config", str(config), "fetch", "--date", DAY]
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        first_at = time.monotonic()
        second = process.stdout.readline()
        second_at = time.monotonic()
    assert first.startswith("arxiv-cs-cl: saved ")
    assert second.startswith("arxiv-query: saved ")
    # The first line came while the second source was still being answered (3 s later),
    # not with it at the end.
    assert second_at - first_at >= 2.0
    assert process.returncode == 0


SECRETS = ("secretpw", "tok123", "sig456")


def test_passwords_in_source_urls_appear_nowhere(
    tmp_path: Path, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server)
    host = server.base.removeprefix("http://")
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        f"{server.base}/rss/cs.CL", f"http://ann:secretpw@{host}/rss/cs.CL?token=tok123&sig=sig456"
    ).replace(f"{server.base}/api/daily_papers", f"http://ann:secretpw@{host}/api/daily_papers")
    config.write_text(text, encoding="utf-8")
    serve_all(server)
    server.route("/rss/cs.CL", Reply(503, b"down"))
    server.route("/api/daily_papers", Reply(302, b"", {"Location": "/gone"}))

    fetched = invoke(config, "fetch", "--date", DAY, "--json")
    run = invoke(config, "run", "--fetch", "--date", DAY)
    report = invoke(config, "runs", "--json")
    run_json = invoke(config, "run", "--fetch", "--date", DAY, "--json")

    shown = [r["url"] for r in json.loads(fetched.output)]
    assert shown[:2] == [
        f"http://***@{host}/api/daily_papers?date={DAY}",
        f"http://***@{host}/rss/cs.CL?token=***&sig=***",
    ]
    assert "fetch failed: arxiv-cs-cl: http://***@" in report.output
    everything = [fetched.output, run.output, run.stderr, report.output, run_json.output]
    everything += [caplog.text, (config.parent / "cache" / "fetch-state.json").read_text()]
    for secret in SECRETS:
        assert all(secret not in text for text in everything), secret
    assert server.requests("/rss/cs.CL")[0].query == "token=tok123&sig=sig456"  # still sent


def test_a_garbage_body_gets_fetch_advice_not_ingest_advice(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-query", "arxiv-cs-cl")
    server.route("/api/query", Reply(200, ATOM))
    server.route("/rss/cs.CL", Reply(200, b"\x00\x01 garbage, not a feed", {}))
    result = invoke(config, "fetch", "--date", DAY)
    assert result.exit_code == 1
    (error,) = [line for line in lines(result) if line.startswith("Error:")]
    assert "--format" not in error
    assert error.endswith(
        "(status 200); nothing saved: the URL does not serve an arXiv RSS feed, check "
        "sources[2].url and sources[2].kind"
    )
    assert waiting(config) == [f"{DAY}.arxiv-query.xml"]


LAUGHS = b"""<?xml version="1.0"?>
<!-- a comment first -->
<!DOCTYPE rss [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<rss version="2.0"><channel><title>&b;</title></channel></rss>
"""
EXTERNAL = b"""<!DOCTYPE feed [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&x;</title></feed>"""


@pytest.mark.parametrize(
    ("source", "path", "body"),
    [("arxiv-cs-cl", "/rss/cs.CL", LAUGHS), ("arxiv-query", "/api/query", EXTERNAL)],
    ids=["billion-laughs", "external-entity"],
)
def test_xml_with_a_doctype_is_refused_at_fetch(
    tmp_path: Path, server: LoopbackServer, source: str, path: str, body: bytes
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, source)
    server.route(path, Reply(200, body, {"Content-Type": "application/xml"}))
    result = invoke(config, "fetch", "--date", DAY)
    assert result.exit_code == 1
    (line,) = lines(result)
    assert "the answer is XML with a <!DOCTYPE> (entity definitions)" in line
    assert waiting(config) == []


def test_a_feed_without_a_doctype_is_still_saved(tmp_path: Path, server: LoopbackServer) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-cs-cl")
    # "<!DOCTYPE" inside the content (escaped, after the root opens) is not a DOCTYPE.
    body = arxiv_rss(PAPERS[:1]).replace(b"</channel>", b"<!-- <!DOCTYPE x> --></channel>")
    server.route("/rss/cs.CL", Reply(200, body))
    result = invoke(config, "fetch", "--date", DAY)
    assert result.exit_code == 0, result.output


def test_a_redirect_to_file_is_one_failure_not_retried(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "arxiv-cs-cl")
    set_config(config, "fetch", "retries", "3")
    server.route("/rss/cs.CL", Reply(302, b"", {"Location": "file:///etc/passwd"}))
    result = invoke(config, "fetch", "--date", DAY)
    assert result.exit_code == 1
    assert lines(result) == [
        f"Error: arxiv-cs-cl: {server.base}/rss/cs.CL: a redirect led to a file:// URL; "
        "digest fetches only http:// and https://, check the source's url"
    ]
    assert len(server.requests("/rss/cs.CL")) == 1


def test_an_empty_listing_is_named_in_json_too(tmp_path: Path, server: LoopbackServer) -> None:
    config = setup_instance(tmp_path / "inst")
    add_sources(config, server, "hf-daily", "arxiv-cs-cl")
    server.route("/api/daily_papers", Reply(200, b" [] \n"))
    server.route("/rss/cs.CL", Reply(200, RSS))
    result = invoke(config, "fetch", "--date", DAY, "--json")
    assert [(r["source"], r["empty"]) for r in json.loads(result.output)] == [
        ("hf-daily", True),
        ("arxiv-cs-cl", False),
    ]
    assert inbox_of(config).is_dir()
