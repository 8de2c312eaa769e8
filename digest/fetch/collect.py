"""``digest fetch``: collect the day's listing of every configured source into the inbox.

For each ``[[sources]]`` table (or the one asked for): build the request (the kind's
query, see :mod:`.kinds`), send it through :class:`~.client.HttpClient` with the
validators remembered in :class:`~.state.StateFile`, check the answer is the kind of
listing expected, and save the raw body as ``INBOX/DAY.NAME.SUFFIX`` (written whole,
mode 0600). Ingest stays the one way into the store, and the saved file is the record
of what was received. Nothing is saved for a 304 or for a body identical to the last
one saved. A source that fails is one :class:`FetchResult` with a one-line message; the
other sources go on. Each result is handed to ``on_result`` as soon as its source is
done (the CLI prints it then). URLs in results and messages are redacted
(:func:`~.urls.redact_url`): a password in a source URL never reaches a report.

Imports only :mod:`digest.errors`, :mod:`digest.files`, :mod:`digest.progress` and its
own package (config for
type hints).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ..errors import FetchError
from ..files import make_private_dir, write_atomically
from ..progress import NO_PROGRESS, Progress
from .client import HTTPX_ERRORS, HttpClient, Pacer
from .kinds import SOURCE_KINDS, check_body, is_empty_listing
from .state import FetchLock, SourceState, StateFile
from .urls import redact_text, redact_url

if TYPE_CHECKING:
    from ..config import Config, SourceConfig

log = logging.getLogger(__name__)

SAVED, NOT_MODIFIED, UNCHANGED, FAILED = "saved", "not-modified", "unchanged", "failed"


@dataclass(frozen=True)
class FetchResult:
    """What happened to one source: ``status`` is ``saved`` (``path`` is the new inbox
    file, ``size`` its bytes; ``empty`` when it lists no paper), ``not-modified`` (a 304),
    ``unchanged`` (the same body as the last one saved) or ``failed`` (``message`` says
    why, in one line). ``url`` is the URL asked for, redacted."""

    source: str
    kind: str
    url: str
    status: str
    path: str | None = None
    size: int = 0
    http_status: int | None = None
    attempts: int = 0
    message: str = ""
    empty: bool = False

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def user_agent(config: Config) -> str:
    """``digest/VERSION (mailto:CONTACT)``: who is asking, and how to reach the admin
    (``fetch.contact``, else the address in ``email.sender``), as arXiv and most API
    providers ask of automated clients."""
    # digest/__init__.py imports config, which imports this package: read the version late.
    from .. import __version__

    contact = config.fetch.contact or parseaddr(config.email.sender)[1] or config.email.sender
    return f"digest/{__version__} (mailto:{contact})"


def make_client(config: Config, *, pacer: Pacer | None = None) -> HttpClient:
    """The :class:`HttpClient` that ``[fetch]`` describes; ``pacer`` replaces the arXiv
    pacer (tests make it fast)."""
    f = config.fetch
    return HttpClient(
        user_agent=user_agent(config),
        timeout=f.timeout,
        retries=f.retries,
        backoff_seconds=f.backoff_seconds,
        max_wait_seconds=f.max_wait_seconds,
        max_source_seconds=f.max_source_seconds,
        max_bytes=f.max_bytes,
        pacer=pacer if pacer is not None else Pacer(),
    )


def request_url(source: SourceConfig, day: dt.date) -> str:
    """The URL asked for ``day``: ``source.url`` with its kind's query parameters added
    (the URL's other parameters stay; config refuses one the kind sets). Raises httpx's
    ``InvalidURL`` for a URL httpx cannot parse."""
    params = SOURCE_KINDS[source.kind].params(source, day)
    return str(httpx.URL(source.url).copy_merge_params(params))


def fetch_sources(
    config: Config,
    *,
    day: dt.date,
    now: dt.datetime,
    only: str | None = None,
    client: HttpClient | None = None,
    progress: Progress = NO_PROGRESS,
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Fetch every configured source (or only the one named ``only``) for ``day`` into
    ``config.ingest.inbox``; one result per source, in config order.

    ``progress`` shows which source is being fetched (the CLI's bar on a terminal);
    ``on_result`` gets each result as soon as its source is done.
    Raises :class:`FetchError` when ``only`` names no source, when no source is
    configured, or when another fetch of this instance is running; a source that fails
    does not raise (its result says why).
    """
    sources = list(enumerate(config.sources, start=1))
    if not sources:
        raise FetchError(
            f"{config.path or 'config'}: no [[sources]] configured; add one "
            "(see the commented examples in config.toml) to fetch listings"
        )
    if only is not None:
        # Names are unique ignoring case (config checks it), so case does not matter here.
        sources = [(n, s) for n, s in sources if s.name.lower() == only.lower()]
        if not sources:
            names = ", ".join(s.name for s in config.sources)
            raise FetchError(f"no source named {only!r}; the sources are {names}")
    own_client = client is None
    http = client if client is not None else make_client(config)
    state = StateFile(config.store.cache_dir)
    try:
        with FetchLock(config.store.cache_dir):
            make_private_dir(config.ingest.inbox)
            results = []
            with progress.step("fetching the sources", total=len(sources)) as advance:
                for n, source in sources:
                    advance(0, description=f"fetching {source.name}")
                    inbox = config.ingest.inbox
                    result = _fetch_one(http, state, source, n, inbox, day=day, now=now)
                    results.append(result)
                    if on_result is not None:
                        on_result(result)
                    advance()
            return results
    finally:
        if own_client:
            http.close()


def _fetch_one(
    http: HttpClient,
    state: StateFile,
    source: SourceConfig,
    n: int,
    inbox: Path,
    *,
    day: dt.date,
    now: dt.datetime,
) -> FetchResult:
    kind = SOURCE_KINDS[source.kind]
    shown = redact_url(source.url)
    try:
        url = request_url(source, day)
    except HTTPX_ERRORS as exc:  # config refuses such a URL; a Config built in code may not
        return _failed(
            source, shown, f"{source.name}: {shown}: not a usable URL ({exc}); fix sources[{n}].url"
        )
    shown = redact_url(url)
    known = state.get(source.name)
    checked = now.isoformat(timespec="seconds")
    try:
        answer = http.get(url, known.conditional_headers(shown))
    except FetchError as exc:
        return _failed(source, shown, f"{source.name}: {shown}: {exc}")
    base = FetchResult(
        source.name, source.kind, shown, "", http_status=answer.status, attempts=answer.attempts
    )
    if answer.status == 304:
        _remember(state, source, known, url=shown, checked=checked)
        return replace(base, status=NOT_MODIFIED)
    problem = check_body(kind, answer.body, answer.headers.get("content-type", ""))
    if problem is not None:
        return _failed(
            source,
            shown,
            f"{source.name}: {redact_url(answer.url)}: {problem} (status {answer.status}); "
            f"nothing saved: the URL does not serve {kind.what}, check sources[{n}].url "
            f"and sources[{n}].kind",
            http_status=answer.status,
        )
    sha = hashlib.sha256(answer.body).hexdigest()
    validators = (answer.headers.get("etag", ""), answer.headers.get("last-modified", ""))
    if sha == known.sha256:
        _remember(state, source, known, url=shown, checked=checked, validators=validators)
        return replace(base, status=UNCHANGED, size=len(answer.body))
    target = _free_name(inbox / f"{day.isoformat()}.{source.name}{kind.suffix}")
    try:
        write_atomically(target, answer.body)
    except OSError as exc:
        return _failed(
            source, shown, f"{source.name}: cannot write {target} ({exc.strerror or exc})"
        )
    _remember(
        state,
        source,
        known,
        url=shown,
        checked=checked,
        validators=validators,
        sha=sha,
        saved=target,
    )
    log.info("%s: saved %s (%d bytes)", source.name, target, len(answer.body))
    empty = is_empty_listing(kind, answer.body)
    return replace(base, status=SAVED, path=str(target), size=len(answer.body), empty=empty)


def _remember(
    state: StateFile,
    source: SourceConfig,
    known: SourceState,
    *,
    url: str,
    checked: str,
    validators: tuple[str, str] | None = None,
    sha: str | None = None,
    saved: Path | None = None,
) -> None:
    """Store what this fetch learnt: the answer's ``(ETag, Last-Modified)``, or for a 304
    the validators already known."""
    etag, modified = validators if validators is not None else (known.etag, known.last_modified)
    state.put(
        source.name,
        SourceState(
            url=url,
            etag=etag,
            last_modified=modified,
            sha256=sha if sha is not None else known.sha256,
            checked_at=checked,
            saved_to=str(saved) if saved is not None else known.saved_to,
        ),
    )


def _failed(
    source: SourceConfig, url: str, message: str, *, http_status: int | None = None
) -> FetchResult:
    message = redact_text(message, source.url)  # an exception may quote the URL whole
    log.info("%s", message)  # the caller reports it: the CLI prints it, the scheduler logs it
    return FetchResult(
        source.name, source.kind, url, FAILED, http_status=http_status, message=message
    )


def _free_name(target: Path) -> Path:
    """``target``, or ``DAY.NAME-2.SUFFIX`` … when an earlier answer of the day waits
    there still (a listing that changed during the day is a second file, not a loss)."""
    candidate, n = target, 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
    return candidate
