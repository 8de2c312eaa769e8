"""The kinds of source ``digest fetch`` knows: how to ask for a day's listing, and what the
answer must be.

:data:`SOURCE_KINDS` is the registry that config validation (``sources[N].kind``), the
fetcher and the README's table read: a new kind is one :class:`SourceKind` line here.
Each kind names the listing formats of :data:`digest.sources.FORMATS` its answer must be
in (checked on what was received, so an HTML error page served with status 200 is
refused instead of saved) and the suffix of the file it is saved under.

Pure; imports only :mod:`digest.sources` (and config, for type hints).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..errors import ListingError
from ..sources import detect_format

if TYPE_CHECKING:
    from ..config import SourceConfig

# A source's name becomes part of a file name in the inbox: keep it to safe characters.
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# The arXiv API returns at most 2,000 results per request (its user manual, "Paging").
MAX_RESULTS = 2000

Params = Callable[["SourceConfig", dt.date], dict[str, str]]
"""``params(source, day)``: the query parameters added to ``source.url`` for ``day``."""


@dataclass(frozen=True)
class SourceKind:
    """One kind of source: the query it adds to the URL, the listing formats its answer
    may be in, the suffix of the saved file, and whether it takes ``query``."""

    name: str
    params: Params
    formats: tuple[str, ...]
    suffix: str
    takes_query: bool = False
    what: str = ""  # what the answer should be, for messages ("an arXiv RSS feed")


def _daily_papers(source: SourceConfig, day: dt.date) -> dict[str, str]:
    return {"date": day.isoformat()}


def _feed(source: SourceConfig, day: dt.date) -> dict[str, str]:
    return {}  # a category feed always holds the latest announcement


def _arxiv_api(source: SourceConfig, day: dt.date) -> dict[str, str]:
    # Newest first, as the arXiv API user manual spells the sort parameters.
    return {
        "search_query": source.query,
        "start": "0",
        "max_results": str(source.max_results),
        "sortBy": "submittedDate",
        "sortOrder": "descending",
    }


SOURCE_KINDS: Mapping[str, SourceKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            SourceKind(
                "daily-papers",
                _daily_papers,
                ("daily-papers-json",),
                ".json",
                what="a daily-papers JSON array",
            ),
            SourceKind("arxiv-rss", _feed, ("rss",), ".xml", what="an arXiv RSS feed"),
            SourceKind(
                "arxiv-api",
                _arxiv_api,
                ("atom",),
                ".xml",
                takes_query=True,
                what="an arXiv API Atom feed",
            ),
        )
    }
)

_HTML = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S
)


def check_body(kind: SourceKind, body: bytes, content_type: str) -> str | None:
    """Why ``body`` (received with ``content_type``) is not a listing of ``kind``, or
    ``None`` when it is one. Looks at how the body opens only (the format detection of
    :func:`digest.sources.detect_format`); parsing it is ingest's job. An empty JSON
    array is a daily-papers listing of a day without papers."""
    if _HTML.match(body[:4096]) or content_type.split(";")[0].strip().lower() == "text/html":
        return f"the server sent an HTML page, not {kind.what}"
    text = body.decode("utf-8", errors="replace")
    if kind.name == "daily-papers" and text.strip().lstrip("\ufeff") == "[]":
        return None
    try:
        found = detect_format(text, source="")
    except ListingError as exc:
        return f"not {kind.what}: {exc.reason}"
    if found not in kind.formats:
        return f"not {kind.what}: the answer is {found}"
    return None
