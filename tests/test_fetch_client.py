"""The fetcher's HTTP client against a real HTTP server on loopback: retries and
Retry-After, timeouts, truncated bodies, the size cap, redirects, the User-Agent, and the
3-second pace for arXiv hosts."""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import time
from collections.abc import Iterator

import httpx
import pytest

from digest.errors import FetchError
from digest.fetch.client import ARXIV_HOSTS, ARXIV_INTERVAL, MAX_REDIRECTS, HttpClient, Pacer
from digest.fetch.client import retry_after as parse_retry_after

from .feeds import PAPERS, arxiv_atom, arxiv_rss
from .http_server import LoopbackServer, Reply, loopback_server

RSS = arxiv_rss(PAPERS[:2])


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as s:
        yield s


def client(**options: object) -> HttpClient:
    settings: dict[str, object] = {
        "user_agent": "digest/test (mailto:admin@example.org)",
        "timeout": 2.0,
        "retries": 2,
        "backoff_seconds": 0.05,
        "max_wait_seconds": 5.0,
        "pacer": Pacer(hosts=()),
    }
    settings.update(options)
    return HttpClient(**settings)  # type: ignore[arg-type]


def test_a_200_returns_the_body_and_sends_the_user_agent(server: LoopbackServer) -> None:
    server.route("/rss", Reply(200, RSS, {"Content-Type": "application/rss+xml"}))
    answer = client().get(f"{server.base}/rss")
    assert (answer.status, answer.body, answer.attempts) == (200, RSS, 1)
    assert server.requests("/rss")[0].headers["user-agent"] == (
        "digest/test (mailto:admin@example.org)"
    )


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_waited_for(server: LoopbackServer, status: int) -> None:
    server.route("/rss", Reply(status, b"slow down", {"Retry-After": "1"}), Reply(200, RSS))
    answer = client(backoff_seconds=0.01).get(f"{server.base}/rss")
    first, second = server.requests("/rss")
    assert (answer.status, answer.attempts) == (200, 2)
    # The backoff alone would wait 0.01 s: the second request came after Retry-After's 1 s.
    assert second.at - first.at >= 0.95


def test_retry_after_as_an_http_date_is_waited_for(server: LoopbackServer) -> None:
    later = email.utils.format_datetime(
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3), usegmt=True
    )
    server.route("/api", Reply(503, b"busy", {"Retry-After": later}), Reply(200, RSS))
    answer = client(backoff_seconds=0.01).get(f"{server.base}/api")
    first, second = server.requests("/api")
    assert answer.attempts == 2
    # The date has whole seconds: 3 s from now is at least 2 s after the first request.
    assert second.at - first.at >= 1.9


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_past_max_wait_gives_up_at_once(server: LoopbackServer, status: int) -> None:
    server.route("/rss", Reply(status, b"", {"Retry-After": "99999"}), Reply(200, RSS))
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        client(max_wait_seconds=5.0, retries=3).get(f"{server.base}/rss")
    assert time.monotonic() - started < 2
    reason = httpx.codes.get_reason_phrase(status)
    assert str(caught.value) == (
        f"HTTP {status} {reason}: the server asks to retry after 99999 s (more than "
        "fetch.max_wait_seconds); try later"
    )
    assert len(server.requests("/rss")) == 1  # not asked again


def test_a_retry_after_within_max_wait_is_still_waited_for(server: LoopbackServer) -> None:
    server.route("/rss", Reply(429, b"", {"Retry-After": "1"}), Reply(200, RSS))
    answer = client(max_wait_seconds=1.0).get(f"{server.base}/rss")
    assert (answer.status, answer.attempts) == (200, 2)


def test_all_attempts_of_one_source_fit_in_its_budget(server: LoopbackServer) -> None:
    server.route("/rss", Reply(503, b"down"))
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        client(retries=10, backoff_seconds=0.2, max_source_seconds=1.0).get(f"{server.base}/rss")
    took = time.monotonic() - started
    # Attempts at 0, 0.2 and 0.6 s; the next wait (0.8 s) would end past 1 s: given up.
    assert len(server.requests("/rss")) == 3
    # The budget is 1 s; 0.3 s allows for a loaded machine's own delays (CI saw 1.004 s),
    # while without the budget the fourth attempt would come at 1.4 s and more.
    assert took < 1.3
    assert str(caught.value).startswith("HTTP 503 Service Unavailable (3 attempts in ")
    assert str(caught.value).endswith(
        "waiting 0.8 s more would pass fetch.max_source_seconds, 1 s); try later"
    )


def test_the_budget_also_cuts_a_trickling_body(server: LoopbackServer) -> None:
    server.route("/rss", Reply(200, RSS * 20, chunked=True, pause=0.05))
    started = time.monotonic()
    with pytest.raises(FetchError, match="took longer than"):
        client(retries=0, timeout=10.0, max_source_seconds=0.5).get(f"{server.base}/rss")
    assert time.monotonic() - started < 2


def test_retries_back_off_exponentially_then_give_up_with_one_line(
    server: LoopbackServer,
) -> None:
    server.route("/rss", Reply(503, b"down"))
    with pytest.raises(FetchError) as caught:
        client(retries=2, backoff_seconds=0.2).get(f"{server.base}/rss")
    assert str(caught.value) == "HTTP 503 Service Unavailable (3 attempts)"
    times = [s.at for s in server.requests("/rss")]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.19  # 0.2 s
    assert times[2] - times[1] >= 0.39  # then 0.4 s


def test_a_404_is_not_retried(server: LoopbackServer) -> None:
    with pytest.raises(FetchError) as caught:
        client().get(f"{server.base}/nope")
    assert str(caught.value) == "HTTP 404 Not Found; check the source's url"
    assert len(server.requests("/nope")) == 1
    server.route("/moved", Reply(302, b"", {"Location": "/gone"}))
    with pytest.raises(FetchError) as caught:
        client().get(f"{server.base}/moved")
    assert (
        str(caught.value) == f"HTTP 404 Not Found from {server.base}/gone; check the source's url"
    )


def test_a_slow_answer_past_the_timeout_fails(server: LoopbackServer) -> None:
    server.route("/slow", Reply(200, RSS, delay=2.0))
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        client(timeout=0.4, retries=0).get(f"{server.base}/slow")
    assert str(caught.value) == "no answer within 0.4 s (timeout) (1 attempt)"
    assert time.monotonic() - started < 1.9  # not the 2 s the server waits


def test_a_body_that_trickles_past_the_timeout_fails(server: LoopbackServer) -> None:
    """Each chunk comes well within the timeout, the whole body does not."""
    body = arxiv_atom(PAPERS * 8)
    assert len(body) > 12 * 1024  # 12 chunks or more, 0.3 s apart: over 3.3 s in all
    server.route("/api", Reply(200, body, chunked=True, pause=0.3))
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        client(timeout=0.8, retries=0).get(f"{server.base}/api")
    assert str(caught.value) == "the answer took longer than 0.8 s (timeout) (1 attempt)"
    assert time.monotonic() - started < 3.0


def test_a_truncated_body_is_an_error_not_a_listing(server: LoopbackServer) -> None:
    server.route("/rss", Reply(200, RSS, cut_at=len(RSS) // 2))
    with pytest.raises(
        FetchError, match=r"^the connection broke mid-answer; the body was cut short"
    ):
        client(retries=1).get(f"{server.base}/rss")
    assert len(server.requests("/rss")) == 2  # retried once


def test_a_truncated_body_then_a_whole_one_succeeds(server: LoopbackServer) -> None:
    server.route("/rss", Reply(200, RSS, cut_at=100), Reply(200, RSS))
    answer = client().get(f"{server.base}/rss")
    assert (answer.body, answer.attempts) == (RSS, 2)


def test_a_body_over_the_size_cap_is_refused(server: LoopbackServer) -> None:
    big = arxiv_atom(PAPERS * 50)
    server.route("/api", Reply(200, big))
    with pytest.raises(FetchError) as caught:
        client(max_bytes=4096).get(f"{server.base}/api")
    assert str(caught.value) == (
        f"the answer is too big ({len(big):,} bytes announced; fetch.max_bytes is 4,096); "
        "raise fetch.max_bytes if this source is really that large"
    )


def test_a_streamed_body_over_the_cap_is_cut_off(server: LoopbackServer) -> None:
    big = arxiv_atom(PAPERS * 50)
    # No Content-Length to judge by: the body is counted as it streams in.
    server.route("/api", Reply(200, big, chunked=True))
    with pytest.raises(FetchError) as caught:
        client(max_bytes=4096).get(f"{server.base}/api")
    assert str(caught.value) == (
        "the answer is too big (over 4,096 bytes sent, then cut off; fetch.max_bytes is "
        "4,096); raise fetch.max_bytes if this source is really that large"
    )
    small = arxiv_atom(PAPERS[:1])
    server.route("/small", Reply(200, small, chunked=True))
    assert client(max_bytes=4096).get(f"{server.base}/small").body == small


def test_redirects_are_followed(server: LoopbackServer) -> None:
    server.route("/old", Reply(301, b"", {"Location": "/new"}))
    server.route("/new", Reply(200, RSS))
    answer = client().get(f"{server.base}/old")
    assert (answer.status, answer.url, answer.body) == (200, f"{server.base}/new", RSS)


def test_a_redirect_loop_stops(server: LoopbackServer) -> None:
    server.route("/loop", Reply(302, b"", {"Location": "/loop"}))
    with pytest.raises(FetchError) as caught:
        client().get(f"{server.base}/loop")
    assert str(caught.value) == f"more than {MAX_REDIRECTS} redirects; check the url"
    assert len(server.requests("/loop")) == MAX_REDIRECTS + 1


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://h/x"])
def test_a_redirect_off_http_fails_at_once_naming_the_scheme(
    server: LoopbackServer, target: str
) -> None:
    server.route("/rss", Reply(302, b"", {"Location": target}))
    with pytest.raises(FetchError) as caught:
        client(retries=3).get(f"{server.base}/rss")
    scheme = target.split(":")[0]
    assert str(caught.value) == (
        f"a redirect led to a {scheme}:// URL; digest fetches only http:// and https://, "
        "check the source's url"
    )
    assert len(server.requests("/rss")) == 1  # not retried


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/rss\nX: y", "http://[::1/x"])
def test_an_invalid_url_is_one_failure_not_a_traceback(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        client(retries=3).get(url)
    message = str(caught.value)
    assert message.startswith("the request cannot be made (")
    assert message.endswith("); check the source's url")
    assert "\n" not in message


def test_a_redirect_shows_its_target_without_the_password(server: LoopbackServer) -> None:
    host = server.base.removeprefix("http://")
    server.route("/moved", Reply(302, b"", {"Location": f"http://ann:secretpw@{host}/gone"}))
    with pytest.raises(FetchError) as caught:
        client().get(f"{server.base}/moved")
    assert str(caught.value) == (
        f"HTTP 404 Not Found from http://***@{host}/gone; check the source's url"
    )


def test_a_refused_connection_is_retried_then_reported() -> None:
    with loopback_server() as gone:
        base = gone.base
    with pytest.raises(FetchError, match=r"^cannot connect \(.+\) \(2 attempts\)$"):
        client(retries=1).get(f"{base}/rss")


def test_arxiv_hosts_get_one_request_every_3_seconds(server: LoopbackServer) -> None:
    """The default pacer, with arXiv's real host names: the requests reach the loopback
    server through it as an HTTP proxy, so the client really asks for export.arxiv.org."""
    assert {"arxiv.org", "export.arxiv.org", "rss.arxiv.org"} <= ARXIV_HOSTS
    assert ARXIV_INTERVAL == 3.0
    server.route("/api/query", Reply(200, arxiv_atom(PAPERS)))
    server.route("/rss/cs.CL", Reply(200, RSS))
    http = client(pacer=Pacer(), transport=httpx.HTTPTransport(proxy=server.base))
    http.get("http://export.arxiv.org/api/query?search_query=cat:cs.CL")
    http.get("http://rss.arxiv.org/rss/cs.CL")
    http.get("http://export.arxiv.org/api/query?search_query=cat:cs.LG")
    seen = server.requests("/api/query") + server.requests("/rss/cs.CL")
    seen.sort(key=lambda s: s.at)
    assert [s.host for s in seen] == ["export.arxiv.org", "rss.arxiv.org", "export.arxiv.org"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen)]
    assert all(gap >= 2.95 for gap in gaps), gaps


def test_other_hosts_are_not_paced(server: LoopbackServer) -> None:
    server.route("/rss", Reply(200, RSS))
    http = client(pacer=Pacer())  # 127.0.0.1 is not an arXiv host
    started = time.monotonic()
    for _ in range(3):
        http.get(f"{server.base}/rss")
    assert time.monotonic() - started < 2.5  # paced, they would take 6 s


def test_the_pacer_waits_out_the_interval_with_an_injected_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(clock=lambda: now[0], sleep=sleep)
    assert pacer.wait("export.arxiv.org") == 0.0
    now[0] += 1.0
    assert pacer.wait("arxiv.org") == pytest.approx(2.0)
    assert pacer.wait("example.org") == 0.0
    assert slept == [pytest.approx(2.0)]
    now[0] += 5.0  # a slow answer: the interval counts from its arrival, not its start
    pacer.answered("export.arxiv.org")
    now[0] += 1.0
    assert pacer.wait("rss.arxiv.org") == pytest.approx(2.0)


def test_retry_after_parsing() -> None:
    now = dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("Tue, 01 Dec 2026 08:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 01 Dec 2026 07:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None
