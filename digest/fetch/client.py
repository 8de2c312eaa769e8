"""The HTTP side of ``digest fetch``: one polite GET with retries, on httpx.

:class:`Pacer` keeps at least ``interval`` seconds between requests to a group of hosts
(arXiv's published rule for API and feed clients: at most one request every 3 seconds,
across arxiv.org, export.arxiv.org and rss.arxiv.org). :class:`HttpClient.get` makes one
request the polite way: a User-Agent naming digest and a contact address, conditional
headers, redirects followed (at most :data:`MAX_REDIRECTS`), a deadline per attempt, the
body streamed and refused past a size cap, a body shorter than its Content-Length an
error, and retries with exponential backoff on timeouts, dropped connections, 429 and
5xx, waiting as long as ``Retry-After`` asks (seconds or an HTTP-date, RFC 9110 §10.2.3).
A server that asks for more than ``max_wait_seconds`` is not waited for: the source fails
at once ("try later"). All attempts and waits for one URL fit in ``max_source_seconds``
(the per-source budget): a wait that would pass it is not begun. A redirect to a scheme
other than http/https fails at once, and so does any other httpx error (an invalid URL
included). Raises :class:`~digest.errors.FetchError` with one line saying what failed;
URLs in it are redacted (:func:`~.urls.redact_url`).

Imports only :mod:`digest.errors` and :mod:`.urls`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from ..errors import FetchError
from .urls import redact_url

log = logging.getLogger(__name__)

ARXIV_HOSTS = frozenset({"arxiv.org", "export.arxiv.org", "rss.arxiv.org"})
ARXIV_INTERVAL = 3.0  # seconds; https://info.arxiv.org/help/api/tou.html
MAX_REDIRECTS = 5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Every exception httpx raises (they share no base class but Exception).
HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, httpx.CookieConflict)


class Pacer:
    """At least ``interval`` seconds between requests to any of ``hosts`` (one budget for
    the whole group, as arXiv counts all its services together), counted from the later of
    the previous request's start and its answer's arrival, so a slow connection never
    brings two requests closer together at arXiv's end.

    Thread-safe; ``clock`` and ``sleep`` are ``time.monotonic`` and ``time.sleep``
    unless a caller passes others.
    """

    def __init__(
        self,
        hosts: Iterable[str] = ARXIV_HOSTS,
        interval: float = ARXIV_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.hosts = frozenset(h.lower() for h in hosts)
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None
        self._lock = threading.Lock()

    def wait(self, host: str) -> float:
        """Block until a request to ``host`` may start; returns the seconds waited."""
        if host.lower() not in self.hosts:
            return 0.0
        with self._lock:
            waited = 0.0
            if self._last is not None:
                waited = max(0.0, self._last + self.interval - self._clock())
                if waited:
                    self._sleep(waited)
            self._last = self._clock()
            return waited

    def answered(self, host: str) -> None:
        """Note that an answer from ``host`` arrived: the next request waits from now."""
        if host.lower() not in self.hosts:
            return
        with self._lock:
            self._last = self._clock()


@dataclass(frozen=True)
class Answer:
    """What a GET brought back: the final status, URL and headers, and the whole body
    (empty for a 304). ``attempts`` counts the tries it took."""

    status: int
    url: str
    headers: dict[str, str]
    body: bytes
    attempts: int


class _Retry(Exception):
    """One attempt failed in a way another attempt may fix."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait  # what Retry-After asked for, if anything


@dataclass
class HttpClient:
    """A polite HTTP client for fetching listings (see the module docstring).

    ``transport`` is httpx's (tests may route through a loopback proxy); ``sleep`` is
    how backoff waits.
    """

    user_agent: str
    timeout: float = 30.0
    retries: int = 3
    backoff_seconds: float = 2.0
    max_wait_seconds: float = 300.0
    max_source_seconds: float = 600.0
    max_bytes: int = 50 * 1024 * 1024
    pacer: Pacer = field(default_factory=Pacer)
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                headers={"User-Agent": self.user_agent},
                timeout=httpx.Timeout(self.timeout),
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
                transport=self.transport,
                # Every request, redirects included, waits its turn for its host.
                event_hooks={
                    "request": [lambda request: self.pacer.wait(request.url.host)],
                    "response": [lambda response: self.pacer.answered(response.url.host)],
                },
            )
        return self._client

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def get(self, url: str, headers: dict[str, str] | None = None) -> Answer:
        """GET ``url`` with ``headers`` (e.g. If-None-Match), retrying what may pass.

        Returns the :class:`Answer` of a 2xx or 304. Raises :class:`FetchError` for any
        other status, a body over ``max_bytes``, too many redirects, a redirect off
        http/https, a ``Retry-After`` over ``max_wait_seconds``, when the next wait would
        pass ``max_source_seconds`` since the first attempt began, or when every attempt
        failed (the message gives the last reason and the number of attempts).
        """
        attempts = self.retries + 1
        started = time.monotonic()
        budget_end = started + self.max_source_seconds
        for attempt in range(1, attempts + 1):
            try:
                status, final, answer_headers, body = self._attempt(url, headers or {}, budget_end)
                return Answer(status, final, answer_headers, body, attempt)
            except _Retry as retry:
                tries = "1 attempt" if attempt == 1 else f"{attempt} attempts"
                if attempt == attempts:
                    raise FetchError(f"{retry.reason} ({tries})") from None
                if retry.wait is not None and retry.wait > self.max_wait_seconds:
                    raise FetchError(
                        f"{retry.reason}: the server asks to retry after {retry.wait:g} s "
                        "(more than fetch.max_wait_seconds); try later"
                    ) from None
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                if retry.wait is not None:
                    delay = retry.wait
                delay = min(delay, self.max_wait_seconds)
                spent = time.monotonic() - started
                if spent + delay > self.max_source_seconds:
                    raise FetchError(
                        f"{retry.reason} ({tries} in {spent:.0f} s; waiting {delay:g} s more "
                        f"would pass fetch.max_source_seconds, {self.max_source_seconds:g} s); "
                        "try later"
                    ) from None
                log.info("%s: %s; retrying in %.1f s", redact_url(url), retry.reason, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, url: str, headers: dict[str, str], budget_end: float
    ) -> tuple[int, str, dict[str, str], bytes]:
        try:
            with self._http().stream("GET", url, headers=headers) as response:
                # The clock starts once the answer begins (not while the pacer waits); httpx's
                # own timeout bounds connecting and each read before and during it.
                deadline = min(time.monotonic() + self.timeout, budget_end)
                status = response.status_code
                if status in RETRY_STATUSES:
                    raise _Retry(
                        f"HTTP {status} {response.reason_phrase}",
                        retry_after(response.headers.get("Retry-After"), now=_utcnow()),
                    )
                if status != 304 and not 200 <= status < 300:
                    # Name where the answer came from when a redirect led elsewhere.
                    shown = redact_url(str(response.url))
                    where = f" from {shown}" if str(response.url) != url else ""
                    raise FetchError(
                        f"HTTP {status} {response.reason_phrase}{where}; check the source's url"
                    )
                body = b"" if status == 304 else self._read(response, deadline)
                return status, str(response.url), dict(response.headers), body
        except httpx.TooManyRedirects as exc:
            raise FetchError(f"more than {MAX_REDIRECTS} redirects; check the url") from exc
        except httpx.UnsupportedProtocol as exc:
            # httpx raises this for the first URL too, but config accepts only http(s):
            # here it is a redirect that led elsewhere (file://, ftp://, …). Not retried.
            scheme = exc.request.url.scheme if _has_request(exc) else "another"
            raise FetchError(
                f"a redirect led to a {scheme}:// URL; digest fetches only http:// and "
                "https://, check the source's url"
            ) from None
        except httpx.TimeoutException:
            raise _Retry(f"no answer within {self.timeout:g} s (timeout)") from None
        except httpx.RemoteProtocolError as exc:
            raise _Retry(
                f"the connection broke mid-answer; the body was cut short ({exc})"
            ) from None
        except httpx.TransportError as exc:
            raise _Retry(f"cannot connect ({exc or type(exc).__name__})") from None
        except HTTPX_ERRORS as exc:
            # An invalid URL (from the config or a redirect), a decoding error, …: the
            # same request would fail the same way again.
            reason = str(exc) or type(exc).__name__
            raise FetchError(
                f"the request cannot be made ({reason}); check the source's url"
            ) from None

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        """The body, streamed: refused past ``max_bytes`` or past the deadline."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdecimal() and int(declared) > self.max_bytes:
            raise FetchError(self._too_big(f"{int(declared):,} bytes announced"))
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(self._too_big(f"over {self.max_bytes:,} bytes sent, then cut off"))
            if time.monotonic() > deadline:
                raise _Retry(f"the answer took longer than {self.timeout:g} s (timeout)")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_big(self, what: str) -> str:
        return (
            f"the answer is too big ({what}; fetch.max_bytes is {self.max_bytes:,}); "
            "raise fetch.max_bytes if this source is really that large"
        )


def _has_request(exc: httpx.RequestError) -> bool:
    try:
        exc.request  # noqa: B018 (httpx raises RuntimeError when it has none)
    except RuntimeError:
        return False
    return True


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait: a number of seconds, or an
    HTTP-date (RFC 9110 §10.2.3) less ``now``; ``None`` when absent or unreadable.
    A date in the past means 0."""
    if not value:
        return None
    value = value.strip()
    if value.isdecimal():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())
