"""The registry of listing formats, and the entry points that read it.

:data:`FORMATS` maps each format's name to its :class:`Format`. Format detection, the
``--format`` choices of ``digest ingest``, the file names ``digest ingest FOLDER`` picks
up, and the README's table of formats all read it. Adding a format is one new module
(``sniff`` and ``parse``, perhaps ``stream``) and one line here.

Pure; imports only :mod:`digest.errors` and :mod:`digest.records`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..errors import ListingError
from ..records import ListingStream, ParsedListing
from . import atom, daily_papers_json, plain_records, rss, text_page
from .sniff import XML, first_non_space, opening
from .xml_feed import unknown_root

Sniff = Callable[[str, int, str], bool]
"""``sniff(text, start, source)``: whether ``text`` (which opens at ``start``) is the
format; may raise :class:`ListingError` when it is but cannot be read."""
Parse = Callable[[str, str, datetime.date], ParsedListing]
"""``parse(text, source, today)``: the whole listing."""
Stream = Callable[[str, str, datetime.date], ListingStream]
"""``stream(text, source, today)``: the listing whose records are parsed as read."""


@dataclass(frozen=True)
class Format:
    """One input format: its name (for ``--format``), the file suffixes it comes in, how
    to recognise it, and how to parse it; ``stream`` for formats of large files."""

    name: str
    suffixes: tuple[str, ...]
    sniff: Sniff
    parse: Parse
    stream: Stream | None = None


# Detection asks the formats in this order and takes the first that says yes. How a file
# opens (JSON, XML, anything else) keeps the sniffs apart, except that daily-papers-json
# must come before records, which takes any JSON.
FORMATS: Mapping[str, Format] = MappingProxyType(
    {
        f.name: f
        for f in (
            Format("text", (".txt",), text_page.sniff, text_page.parse),
            Format(
                "daily-papers-json", (".json",), daily_papers_json.sniff, daily_papers_json.parse
            ),
            Format(
                "records",
                (".json", ".jsonl", ".ndjson"),
                plain_records.sniff,
                plain_records.parse,
                plain_records.stream,
            ),
            Format("atom", (".xml", ".atom"), atom.sniff, atom.parse),
            Format("rss", (".xml", ".rss"), rss.sniff, rss.parse),
        )
    }
)


def detect_format(text: str, *, source: str = "") -> str:
    """The format of a listing, judged from its content; one of :data:`FORMATS`.

    A JSON array whose first item has a ``"paper"`` object is ``daily-papers-json``; any
    other JSON array of objects, or JSON Lines (the first line is an object), is
    ``records``; XML whose root is ``<feed>`` is ``atom``, ``<rss>`` or ``<rdf:RDF>`` is
    ``rss``; text with daily-papers header lines, or that starts with a title line followed
    by an abstract line, is ``text``. Anything else raises :class:`ListingError`.
    """
    start = first_non_space(text)
    if start is None:
        raise ListingError("the file is empty; there are no listings in it", source=source)
    for fmt in FORMATS.values():
        if fmt.sniff(text, start, source):
            return fmt.name
    if opening(text, start) == XML:
        what = unknown_root(text, start)
    else:
        what = (
            "not JSON or XML, and it does not look like a daily-papers page (no header lines, "
            "and it does not start with a title line followed by an abstract line)"
        )
    raise ListingError(
        f"cannot tell the format: this is {what}; pass --format with one of " + ", ".join(FORMATS),
        source=source,
    )


def parse_listing(
    text: str, *, source: str, today: datetime.date, fmt: str | None = None
) -> ParsedListing:
    """Parse the text of one listing file into a :class:`ParsedListing`.

    ``fmt`` is one of :data:`FORMATS`, or ``None`` to use :func:`detect_format`. ``today``
    supplies the year of a text page's date line when it has none (``"Apr 29"`` is the most
    recent 29 April not after ``today``). ``source`` names the file in error messages.
    Each format's module says how it is read (see :mod:`digest.sources.text_page` for how
    titles and abstracts are told apart). Titles and abstracts in every format have their
    whitespace collapsed; HTML entities and tags are removed only from RSS descriptions
    and author lists, where feeds encode them.
    """
    text, found = _text_and_format(text, source, fmt)
    return found.parse(text, source, today)


def stream_listing(
    text: str, *, source: str, today: datetime.date, fmt: str | None = None
) -> ListingStream:
    """:func:`parse_listing` for ingesting: the records of plain-record listings (JSON Lines
    and JSON arrays, the formats of large exports) are parsed as the stream is read, so
    the caller can store them chunk by chunk; a bad record raises :class:`ListingError`
    when it is reached. Feeds and pages are small and parsed at once."""
    text, found = _text_and_format(text, source, fmt)
    if found.stream is not None:
        return found.stream(text, source, today)
    parsed = found.parse(text, source, today)
    return ListingStream(format=parsed.format, date=parsed.date, records=iter(parsed.records))


def _text_and_format(text: str, source: str, fmt: str | None) -> tuple[str, Format]:
    """The text without its byte-order mark, and its format (``fmt`` or detected)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    name = fmt if fmt is not None else detect_format(text, source=source)
    found = FORMATS.get(name)
    if found is None:
        raise ListingError(
            f'unknown format "{name}"; choose one of ' + ", ".join(FORMATS), source=source
        )
    return text, found
