"""Parsers: the text of one listing file in, a :class:`~digest.records.ParsedListing` out.

Pure functions over ``str``: no files, no network, no clock (the caller passes ``today``).
Five formats are read (see :data:`FORMATS`):

``text``
    A daily-papers page saved as text: header lines, an optional date line, then
    title/abstract pairs (see :func:`parse_listing` for how titles and abstracts are told apart).
``daily-papers-json``
    A JSON array of items as the daily-papers API returns them (``{"paper": {...}, ...}``).
``records``
    JSON Lines, or a JSON array, of plain records (``id``, ``title``, ``abstract`` …).
``atom``
    An arXiv API response (an Atom ``<feed>`` of ``<entry>`` elements).
``rss``
    An arXiv RSS 2.0 feed (``<rss><channel><item>``), or the older RSS 1.0 (``<rdf:RDF>``).

Every problem is a :class:`~digest.errors.ListingError` that names the file and, where it
helps, the line. Items of a JSON array and entries of a feed are counted from 0, as in
``data[7]`` or jq's ``.[7]``. A structured file (JSON, XML) with no items is an empty
listing rather than an error, because an empty feed is how arXiv says "nothing new today";
a text page with no listings is an error, because it means the page was not saved properly.
"""

from __future__ import annotations

import datetime
import html
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from xml.parsers import expat

from .errors import ListingError
from .records import ListingStream, PaperRecord, ParsedListing
from .text import MONTH_ABBREVIATIONS, MONTH_NAMES

__all__ = [
    "FORMATS",
    "arxiv_id_from",
    "detect_format",
    "normalize_title",
    "parse_listing",
    "stream_listing",
]

FORMATS: tuple[str, ...] = ("text", "daily-papers-json", "records", "atom", "rss")

# A real abstract is a few thousand characters; a longer "line" means the file is not a
# page saved as text (a minified JSON file, a binary blob), and the parser should say so
# at once instead of classifying a 50 MB string.
MAX_LINE_CHARS = 100_000

# Titles on the daily-papers page are at most ~150 characters; anything over this is an
# abstract whatever its punctuation.
_MAX_TITLE_CHARS = 300

_ABS_URL = "https://arxiv.org/abs/{}"


# --------------------------------------------------------------------------- identifiers


_NEW_ID = re.compile(r"([0-9]{2})([0-9]{2})\.([0-9]{4,5})(?:v[0-9]+)?")
_OLD_ID = re.compile(
    r"([a-z]+(?:-[a-z]+)*)(?:\.[A-Za-z]{2})?/([0-9]{2})([0-9]{2})([0-9]{3})(?:v[0-9]+)?"
)
_ID_PREFIX = re.compile(r"(?:arxiv:|oai:arxiv\.org:)", re.IGNORECASE)
_ID_URL = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?(?:arxiv\.org/(?:abs|pdf|html)|huggingface\.co/papers)/"
    r"(?P<id>[^?#]+?)(?:\.pdf)?/?(?:[?#].*)?",
    re.IGNORECASE,
)


def arxiv_id_from(value: str) -> str | None:
    """The arXiv id in ``value``, without its version; ``None`` if ``value`` is not one.

    Accepts a bare id (``2305.07922v2``, old style ``cs/0112017v1``), a prefixed one
    (``arXiv:2305.07922``, ``oai:arXiv.org:2305.07922v1``) and arXiv or daily-papers URLs
    (``https://arxiv.org/abs/…``, ``/pdf/….pdf``, ``https://huggingface.co/papers/…``).
    Old-style ids lose their subject class (``math.GT/0309136`` → ``math/0309136``), which
    is not part of the identifier. The month must be 01–12, and new-style ids have four
    digits after the dot up to 2014 and five from 2015, so a DOI or a phone number is not
    mistaken for an id.
    """
    candidate = value.strip()
    url = _ID_URL.fullmatch(candidate)
    if url is not None:
        candidate = url.group("id")
    else:
        prefix = _ID_PREFIX.match(candidate)
        if prefix is not None:
            candidate = candidate[prefix.end() :].strip()
    new = _NEW_ID.fullmatch(candidate)
    if new is not None:
        yy, mm, number = new.groups()
        if not 1 <= int(mm) <= 12:
            return None
        if (len(number) == 5) != (int(yy + mm) >= 1501):
            return None
        return f"{yy}{mm}.{number}"
    old = _OLD_ID.fullmatch(candidate)
    if old is not None:
        archive, yy, mm, number = old.groups()
        if not 1 <= int(mm) <= 12:
            return None
        return f"{archive}/{yy}{mm}{number}"
    return None


def normalize_title(title: str) -> str:
    """A key for matching titles: NFKC, casefolded, letters and digits only.

    ``"BERT: Pre-training…"`` and ``"bert pre training"`` give the same key, so the store
    can tell that two listings carry the same paper even without an arXiv id.
    """
    if title.isascii():  # NFKC leaves ASCII alone, and casefold() is lower() there
        return _NOT_ALNUM.sub("", title.lower())
    # In Python's re, \w is exactly str.isalnum() plus "_": so this keeps isalnum() chars.
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", title).casefold())


_NOT_ALNUM = re.compile(r"[\W_]+")


# --------------------------------------------------------------------------- entry points


def detect_format(text: str, *, source: str = "") -> str:
    """The format of a listing, judged from its content; one of :data:`FORMATS`.

    A JSON array whose first item has a ``"paper"`` object is ``daily-papers-json``; any
    other JSON array of objects, or JSON Lines (the first line is an object), is
    ``records``; XML whose root is ``<feed>`` is ``atom``, ``<rss>`` or ``<rdf:RDF>`` is
    ``rss``; text with daily-papers header lines, or that starts with a title line followed
    by an abstract line, is ``text``. Anything else raises :class:`ListingError`.
    """
    start = _first_non_space(text)
    if start is None:
        raise ListingError("the file is empty; there are no listings in it", source=source)
    head = text[start : start + 65_536]
    if _JSON_ARRAY_START.match(head):
        return "daily-papers-json" if _looks_like_daily_papers(text, start) else "records"
    if _JSON_OBJECT_START.match(head):
        return "records"
    if _XML_START.match(head):
        return _xml_format(head, source)
    _check_line_lengths(text, source)
    page = _read_page(text)
    if page.saw_header:
        return "text"
    lines = [line for line in page.body if not _HEADER_LINE.fullmatch(line.text)]
    if len(lines) >= 2 and _shape(lines[0].text) == _TITLE and _shape(lines[1].text) == _ABSTRACT:
        return "text"
    raise ListingError(
        "cannot tell the format: this is not JSON or XML, and it does not look like a "
        "daily-papers page (no header lines, and it does not start with a title line followed "
        "by an abstract line); pass --format with one of " + ", ".join(FORMATS),
        source=source,
    )


def parse_listing(
    text: str, *, source: str, today: datetime.date, fmt: str | None = None
) -> ParsedListing:
    """Parse the text of one listing file into a :class:`ParsedListing`.

    ``fmt`` is one of :data:`FORMATS`, or ``None`` to use :func:`detect_format`. ``today``
    supplies the year of a text page's date line when it has none (``"Apr 29"`` is the most
    recent 29 April not after ``today``). ``source`` names the file in error messages.

    Text pages: after the header lines (``new``, ``Subscribe``, ``Get trending papers in
    your email inbox!``, ``byAK and the research community`` …, in any order, and
    possibly glued to the first title as in ``SubscribePre-training …``) and an optional
    date line, the non-blank lines alternate title, abstract, title, abstract; blank lines
    between them do not matter. Each line is classified by its shape:

    * an *abstract* is longer than 300 characters, or ends with a period and has a
      sentence break inside or at least 20 words, or has two sentence breaks and at least
      120 characters;
    * a *title* is any other line that does not end with a period (``?`` and ``!`` are
      fine; ``vs. Generative`` is one break, which titles may have);
    * a short line ending with a period could be either.

    A line in a title's place must not be abstract-shaped, and a line in an abstract's
    place must not be title-shaped; otherwise the file is rejected, naming the line:
    a title followed by another title, or by the end of the file, has no abstract, and
    an abstract after an abstract has no title. Nothing is ever paired with a guess.

    Records from a text page carry title and abstract only. Titles and abstracts in every
    format have their whitespace collapsed; HTML entities and tags are removed only from
    RSS descriptions and author lists, where feeds encode them.
    """
    text, fmt = _text_and_format(text, source, fmt)
    if fmt == "text":
        return _parse_text(text, source, today)
    if fmt == "daily-papers-json":
        return _parse_daily_papers(text, source)
    if fmt == "records":
        return _parse_records(text, source)
    if fmt == "atom":
        return _parse_atom(text, source)
    if fmt == "rss":
        return _parse_rss(text, source)
    raise ListingError(
        f'unknown format "{fmt}"; choose one of ' + ", ".join(FORMATS), source=source
    )


def stream_listing(
    text: str, *, source: str, today: datetime.date, fmt: str | None = None
) -> ListingStream:
    """:func:`parse_listing` for ingesting: the records of plain-record listings (JSON Lines
    and JSON arrays, the formats of large exports) are parsed as the stream is read, so
    the caller can store them chunk by chunk; a bad record raises :class:`ListingError`
    when it is reached. Feeds and pages are small and parsed at once."""
    text, fmt = _text_and_format(text, source, fmt)
    if fmt == "records":
        return ListingStream(format="records", date=None, records=_records(text, source))
    parsed = parse_listing(text, source=source, today=today, fmt=fmt)
    return ListingStream(format=parsed.format, date=parsed.date, records=iter(parsed.records))


def _text_and_format(text: str, source: str, fmt: str | None) -> tuple[str, str]:
    """The text without its byte-order mark, and its format (``fmt`` or detected)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, fmt if fmt is not None else detect_format(text, source=source)


# --------------------------------------------------------------------------- sniffing

_FIRST_NON_SPACE = re.compile(r"[^\s\ufeff]")
_JSON_ARRAY_START = re.compile(r"\[[ \t\r\n]*[{\]]")
_JSON_OBJECT_START = re.compile(r"\{[ \t\r\n]*[\"}]")
_XML_START = re.compile(r"<[?!A-Za-z_]")
_XML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_XML_ROOT = re.compile(r"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)")
_DAILY_PAPERS_START = re.compile(r"\[[ \t\r\n]*\{[ \t\r\n]*\"paper\"[ \t\r\n]*:[ \t\r\n]*\{")


def _first_non_space(text: str) -> int | None:
    match = _FIRST_NON_SPACE.search(text)
    return None if match is None else match.start()


def _looks_like_daily_papers(text: str, start: int) -> bool:
    """Whether the array's first item has a ``paper`` object; decodes that item only."""
    decoder = json.JSONDecoder()
    try:
        first, _ = decoder.raw_decode(text, _skip_json_space(text, start + 1))
    except (ValueError, RecursionError):
        # A broken file: judge by how it starts, so the parser can report where it breaks.
        return _DAILY_PAPERS_START.match(text, start) is not None
    return isinstance(first, dict) and isinstance(first.get("paper"), dict)


def _xml_format(head: str, source: str) -> str:
    root = _XML_ROOT.search(_XML_COMMENT.sub("", head))
    name = root.group(1) if root else ""
    local = name.rpartition(":")[2]
    if local == "feed":
        return "atom"
    if local in ("rss", "RDF"):
        return "rss"
    if local.lower() == "html":
        what = "an HTML page; save the daily-papers page as text, or download the arXiv feed"
    elif name:
        what = f"XML whose root element is <{name}>, not an Atom <feed> or an RSS <rss>"
    else:
        what = "XML without a root element"
    raise ListingError(
        f"cannot tell the format: this is {what}; pass --format with one of " + ", ".join(FORMATS),
        source=source,
    )


# --------------------------------------------------------------------------- text pages


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based, counting CRLF, CR and LF each as one line break
    text: str  # whitespace collapsed, never empty


@dataclass(frozen=True)
class _Page:
    saw_header: bool
    date_line: _Line | None
    body: tuple[_Line, ...]


_HEADER_LINE = re.compile(
    r"new|subscribe|daily papers|get trending papers in your email inbox(?: once a day)?!?"
    r"|by ?ak and the research community",
    re.IGNORECASE,
)
# Saving the page can run a header into the next line ("SubscribePre-training …"). Only
# these exact spellings are split off, and only before the first title; "new" is not,
# since too many titles start with it.
_GLUED_HEADER = re.compile(
    r"(Get trending papers in your email inbox once a day!|Get trending papers in your email "
    r"inbox!|Subscribe|Daily Papers|by ?AK and the research community)(\s*)(\S.*)"
)
# "apr", "april" and "sept" all name a month; the names themselves have one home.
_MONTHS = {
    **{name.lower(): number for number, name in enumerate(MONTH_NAMES, start=1)},
    **{abbr.lower(): number for number, abbr in enumerate(MONTH_ABBREVIATIONS, start=1)},
    "sept": 9,
}
_DATE_LINE = re.compile(r"([A-Za-z]+)\.? ([0-9]{1,2})(?:,? ([0-9]{4}))?")
_ISO_DATE_LINE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")

_TITLE, _ABSTRACT, _EITHER = "title", "abstract", "either"
# A sentence break: end punctuation, optional closing quote/bracket, space, then something
# that starts a sentence.
_SENTENCE_BREAK = re.compile(r"[.!?…][\"'”’)\]]*\s+[\"'“‘(\[]?[A-Z0-9]")


def _parse_text(text: str, source: str, today: datetime.date) -> ParsedListing:
    _check_line_lengths(text, source)
    page = _read_page(text)
    date = None if page.date_line is None else _resolve_date(page.date_line, today, source)
    records: list[PaperRecord] = []
    title: _Line | None = None
    last_title: _Line | None = None  # the title of the last complete pair
    for line in page.body:
        if _HEADER_LINE.fullmatch(line.text):
            continue  # page chrome repeated further down; never a paper
        if _date_parts(line.text) is not None:
            raise ListingError(
                f'unexpected date line "{line.text}" among the listings; a page holds one '
                "day: keep one date line before the first title and put other days in "
                "files of their own",
                source=source,
                line=line.number,
            )
        shape = _shape(line.text)
        if title is None:
            if shape == _ABSTRACT:
                raise _abstract_without_title(line, last_title, source)
            title = line
        else:
            if shape == _TITLE:
                raise _title_without_abstract(title, source)
            records.append(PaperRecord(title=title.text, abstract=line.text))
            last_title, title = title, None
    if title is not None:
        raise _title_without_abstract(title, source)
    if not records:
        raise ListingError(
            "no listings found after the header; a daily-papers page has a title line "
            "followed by an abstract line for each paper",
            source=source,
        )
    return ParsedListing(format="text", date=date, records=tuple(records))


def _read_page(text: str) -> _Page:
    """Split a page into header (with its date line) and body lines."""
    lines = list(_clean_lines(text))
    saw_header = False
    date_line: _Line | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        if _HEADER_LINE.fullmatch(line.text):
            saw_header = True
            index += 1
            continue
        glued = _GLUED_HEADER.fullmatch(line.text)
        if glued is not None and (glued.group(2) or _starts_like_title(glued.group(3))):
            saw_header = True
            lines[index] = _Line(line.number, glued.group(3))  # look at the rest again
            continue
        if date_line is None and _date_parts(line.text) is not None:
            date_line = line
            index += 1
            continue
        break
    return _Page(saw_header=saw_header, date_line=date_line, body=tuple(lines[index:]))


def _clean_lines(text: str) -> Iterator[_Line]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for number, raw in enumerate(text.split("\n"), start=1):
        # str.split() without arguments also splits on non-breaking and other Unicode spaces.
        clean = " ".join(raw.replace("\ufeff", "").split())
        if clean:
            yield _Line(number, clean)


def _starts_like_title(rest: str) -> bool:
    """Whether text glued after a header word starts a new title, not the same word.

    ``SubscribePre-training`` and ``SubscribemPLUG-Owl`` split; ``Subscribers`` does not.
    """
    if not rest[0].islower():
        return True
    first_word = rest.split(" ", 1)[0]
    return any(ch.isupper() or ch.isdigit() for ch in first_word)


def _shape(line: str) -> str:
    """Whether a line is shaped like a title, an abstract, or could be either."""
    if len(line) > _MAX_TITLE_CHARS:
        return _ABSTRACT
    breaks = len(_SENTENCE_BREAK.findall(line))
    ends_with_period = line.rstrip("\"'”’)]").endswith((".", "…"))
    if ends_with_period and (breaks >= 1 or len(line.split()) >= 20):
        return _ABSTRACT
    if breaks >= 2 and len(line) >= 120:
        return _ABSTRACT
    if not ends_with_period:
        return _TITLE
    return _EITHER


def _title_without_abstract(title: _Line, source: str) -> ListingError:
    return ListingError(
        f'title "{title.text}" has no abstract; add the abstract on the next line or remove '
        "the title",
        source=source,
        line=title.number,
    )


def _abstract_without_title(line: _Line, previous: _Line | None, source: str) -> ListingError:
    if previous is None:
        where = "it comes before any title"
    else:
        where = f'it follows the abstract of "{previous.text}" (line {previous.number})'
    return ListingError(
        f'abstract "{_snippet(line.text)}" has no title ({where}); add its title on the line '
        "above, or join it to the abstract before it if one abstract was split over two lines",
        source=source,
        line=line.number,
    )


def _date_parts(line: str) -> tuple[int | None, int, int] | None:
    """(year or None, month, day) if the whole line is a date such as ``Apr 29``."""
    iso = _ISO_DATE_LINE.fullmatch(line)
    if iso is not None:
        return int(iso.group(1)), int(iso.group(2)), int(iso.group(3))
    match = _DATE_LINE.fullmatch(line)
    if match is None:
        return None
    month = _MONTHS.get(match.group(1).lower())
    if month is None:
        return None
    year = match.group(3)
    return (int(year) if year else None), month, int(match.group(2))


def _resolve_date(line: _Line, today: datetime.date, source: str) -> str:
    parts = _date_parts(line.text)
    if parts is not None:
        year, month, day = parts
        # Without a year: the most recent such day not after today. Eight years back
        # reaches the previous 29 February from any day.
        years: Iterable[int] = [year] if year is not None else range(today.year, today.year - 9, -1)
        for candidate in years:
            try:
                found = datetime.date(candidate, month, day)
            except ValueError:
                continue
            if year is not None or found <= today:
                return found.isoformat()
    raise ListingError(
        f'date line "{line.text}" is not a real date; correct it or remove the line',
        source=source,
        line=line.number,
    )


def _check_line_lengths(text: str, source: str) -> None:
    """Reject a line longer than :data:`MAX_LINE_CHARS` before anything copies the text."""
    if len(text) <= MAX_LINE_CHARS:
        return
    # str.find runs at memory speed; keep the next LF and CR positions so each is searched
    # for once per occurrence, not once per line.
    start, number = 0, 1
    next_lf, next_cr = text.find("\n"), text.find("\r")
    while True:
        ends = [position for position in (next_lf, next_cr) if position >= 0]
        end = min(ends) if ends else len(text)
        if end - start > MAX_LINE_CHARS:
            raise ListingError(
                f"line too long: {end - start:,} characters, but a title or abstract line has "
                f"at most {MAX_LINE_CHARS:,}; this is not a daily-papers page saved as text "
                "(check the file, or pass --format if it is JSON or XML)",
                source=source,
                line=number,
            )
        if not ends:
            return
        start = end + (2 if text.startswith("\r\n", end) else 1)
        number += 1
        if 0 <= next_lf < start:
            next_lf = text.find("\n", start)
        if 0 <= next_cr < start:
            next_cr = text.find("\r", start)


def _snippet(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------- JSON


class _Problem(Exception):
    """A problem with one JSON item, raised before the caller knows where the item is."""


def _parse_daily_papers(text: str, source: str) -> ParsedListing:
    data = _load_json(text, source)
    if not isinstance(data, list):
        raise ListingError(
            f"expected a JSON array of daily-papers items, found {_json_type(data)}",
            source=source,
        )
    records: list[PaperRecord] = []
    daily_dates: Counter[str] = Counter()
    published_dates: Counter[str] = Counter()
    for index, item in enumerate(data):
        try:
            records.append(_daily_paper(item))
        except _Problem as problem:
            raise ListingError(
                f"item {index}: {problem}", source=source, line=_array_item_line(text, index)
            ) from None
        for key, counter in (("submittedOnDailyAt", daily_dates), ("publishedAt", published_dates)):
            day = _iso_date(item.get(key))
            if day is not None:
                counter[day] += 1
    # The day the papers were on the page; ties go to the later day.
    counts = daily_dates or published_dates
    date = max(counts.items(), key=lambda pair: (pair[1], pair[0]))[0] if counts else None
    return ParsedListing(format="daily-papers-json", date=date, records=tuple(records))


def _daily_paper(item: Any) -> PaperRecord:
    if not isinstance(item, dict):
        raise _Problem(f"expected an object, found {_json_type(item)}")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise _Problem("no paper object")
    title = _json_text(paper, "title", "paper.title")
    abstract = _json_text(paper, "summary", "paper.summary")
    raw_id = paper.get("id")
    paper_id = str(raw_id).strip() if isinstance(raw_id, str | int) else ""
    arxiv_id = arxiv_id_from(paper_id) if paper_id else None
    return PaperRecord(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        source_id=paper_id if paper_id and arxiv_id is None else None,
        authors=_authors(paper.get("authors"), "paper.authors"),
        url=_ABS_URL.format(arxiv_id) if arxiv_id else None,
        published=_iso_date(paper.get("publishedAt")),
        upvotes=_upvotes(paper.get("upvotes"), "paper.upvotes"),
    )


def _parse_records(text: str, source: str) -> ParsedListing:
    return ParsedListing(format="records", date=None, records=tuple(_records(text, source)))


def _records(text: str, source: str) -> Iterator[PaperRecord]:
    start = _first_non_space(text)
    if start is None or text[start] != "[":
        yield from _json_lines(text, source)
        return
    data = _load_json(text, source)
    if not isinstance(data, list):
        raise ListingError(f"expected a JSON array, found {_json_type(data)}", source=source)
    for index, item in enumerate(data):
        try:
            yield _plain_record(item)
        except _Problem as problem:
            raise ListingError(
                f"item {index}: {problem}", source=source, line=_array_item_line(text, index)
            ) from None


def _json_lines(text: str, source: str) -> Iterator[PaperRecord]:
    first = True
    for number, raw in _numbered_lines(text):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            if first:
                # Not JSON Lines after all? One pretty-printed record is fine too; if the
                # whole file is not JSON either, _load_json reports where it breaks.
                yield _located(_plain_record, _load_json(text, source), source, None)
                return
            raise ListingError(
                f"truncated or invalid JSON at line {number}, column {exc.colno}: {exc.msg}",
                source=source,
                line=number,
            ) from exc
        except (ValueError, RecursionError) as exc:
            raise ListingError(_json_failure(exc), source=source, line=number) from exc
        first = False
        yield _located(_plain_record, item, source, number)


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """The lines of ``text`` one at a time, so a large file is not held twice in memory."""
    start, number = 0, 1
    while start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield number, text[start:end]
        start, number = end + 1, number + 1


def _located(
    parse: Callable[[Any], PaperRecord], item: Any, source: str, line: int | None
) -> PaperRecord:
    try:
        return parse(item)
    except _Problem as problem:
        raise ListingError(str(problem), source=source, line=line) from None


def _plain_record(item: Any) -> PaperRecord:
    if not isinstance(item, dict):
        raise _Problem(
            f"expected a JSON object with a title and an abstract, found {_json_type(item)}"
        )
    title = _json_text(item, "title", '"title"')
    if item.get("abstract") is None and item.get("summary") is not None:
        abstract = _json_text(item, "summary", '"summary"')
    else:
        abstract = _json_text(item, "abstract", '"abstract" (or "summary")')
    raw_id = item.get("id")
    if raw_id is None:
        record_id = ""
    elif isinstance(raw_id, str) or (isinstance(raw_id, int) and not isinstance(raw_id, bool)):
        record_id = str(raw_id).strip()
    else:
        raise _Problem(f'"id" must be a string, not {_json_type(raw_id)}')
    url = _optional_str(item, "url")
    id_arxiv_id = arxiv_id_from(record_id) if record_id else None
    arxiv_id = id_arxiv_id or (arxiv_id_from(url) if url else None)
    published = item.get("published")
    published_day = _iso_date(published)
    if published is not None and published_day is None:
        raise _Problem(f'"published" must be a date like 2023-05-13, not {_describe(published)}')
    return PaperRecord(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        source_id=record_id if record_id and id_arxiv_id is None else None,
        authors=_authors(item.get("authors"), '"authors"'),
        url=url or (_ABS_URL.format(arxiv_id) if arxiv_id else None),
        published=published_day,
        upvotes=_upvotes(item.get("upvotes"), '"upvotes"'),
        categories=_categories(item.get("categories")),
    )


def _load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ListingError(
            f"truncated or invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            source=source,
            line=exc.lineno,
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise ListingError(_json_failure(exc), source=source) from exc


def _json_failure(exc: ValueError | RecursionError) -> str:
    """The message for JSON that fails without a position: too deep, or a huge number."""
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply"
    # int() refuses numbers of more than 4,300 digits; its advice about
    # sys.set_int_max_str_digits is for programmers, not for whoever fixes the file.
    return "invalid JSON: " + str(exc).split(";", 1)[0]


def _array_item_line(text: str, index: int) -> int | None:
    """The line where item ``index`` of the JSON array in ``text`` starts (error path only)."""
    decoder = json.JSONDecoder()
    start = _first_non_space(text)
    if start is None:
        return None
    position = start + 1
    try:
        for _ in range(index):
            _, position = decoder.raw_decode(text, _skip_json_space(text, position))
            position = _skip_json_space(text, position) + 1  # past the comma
        position = _skip_json_space(text, position)
    except (ValueError, RecursionError):
        return None
    return text.count("\n", 0, position) + 1


def _skip_json_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\n\r":
        position += 1
    return position


def _json_text(obj: dict[str, Any], key: str, name: str) -> str:
    value = obj.get(key)
    if value is None:
        raise _Problem(f"no {name}")
    if not isinstance(value, str):
        raise _Problem(f"{name} must be a string, not {_json_type(value)}")
    clean = _clean(value)
    if not clean:
        raise _Problem(f"{name} is empty")
    return clean


def _optional_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Problem(f'"{key}" must be a string, not {_json_type(value)}')
    return value.strip() or None


def _authors(value: Any, name: str) -> tuple[str, ...]:
    """Author names from a list of strings or ``{"name": …}`` objects, or one string."""
    if value is None:
        return ()
    if isinstance(value, str):
        return _split_authors(value)
    if not isinstance(value, list):
        raise _Problem(f"{name} must be a list of names, not {_json_type(value)}")
    names = []
    for author in value:
        if isinstance(author, dict):
            author = author.get("name")
        if not isinstance(author, str):
            raise _Problem(f"{name} must be a list of names, but one is {_json_type(author)}")
        clean = _clean(author)
        if clean:
            names.append(clean)
    return tuple(names)


_AUTHOR_SEPARATOR = re.compile(r"\s*[,;]\s*(?:and\s+)?|\s+and\s+")


def _split_authors(value: str) -> tuple[str, ...]:
    """``"A, B and C"`` → ``("A", "B", "C")``."""
    names = (_clean(name) for name in _AUTHOR_SEPARATOR.split(value))
    return tuple(name for name in names if name)


def _categories(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[\s,]+", value) if part)
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return tuple(part.strip() for part in value if part.strip())
    raise _Problem(f'"categories" must be a list of strings, not {_describe(value)}')


def _upvotes(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Problem(f"{name} must be a whole number, not {_describe(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        return int(value.strip())
    raise _Problem(f"{name} must be a whole number, not {_describe(value)}")


def _iso_date(value: Any) -> str | None:
    """The ``yyyy-mm-dd`` at the start of an ISO date or timestamp, else ``None``."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:$|[T ])", value):
        return None
    try:
        return datetime.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(_snippet(value, 40), ensure_ascii=False)
    return _json_type(value)


# --------------------------------------------------------------------------- XML feeds

_XML_DECLARATIONS = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_ANNOUNCE_PREFIX = re.compile(
    r"\AarXiv:\S+\s+Announce Type:\s*[\w-]+\s*(?:Abstract:\s*)?", re.IGNORECASE
)
_OLD_RSS_TITLE = re.compile(r"(.*?)\.?\s*\(arXiv:(\S+)\s*\[([^\]]+)\][^)]*\)", re.DOTALL)
_BLOCK_TAG = re.compile(r"</?(?:p|br|div|li|ul|ol|h[1-6])\b[^<>]*>", re.IGNORECASE)
_INLINE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


def _parse_atom(text: str, source: str) -> ParsedListing:
    root = _parse_xml(text, source)
    if _local(root.tag) != "feed":
        raise ListingError(
            f"expected an Atom <feed>, found <{_local(root.tag)}>; pass the right --format",
            source=source,
        )
    records = []
    for index, entry in enumerate(_children(root, "entry")):
        entry_id = _clean(_child_text(entry, "id"))
        if "/api/errors" in entry_id:
            message = _clean(_child_text(entry, "summary")) or entry_id
            raise ListingError(
                f"the arXiv API answered with an error: {message}; fix the query and "
                "download the feed again",
                source=source,
            )
        label = f"entry {index}" + (f" ({entry_id})" if entry_id else "")
        title = _clean(_child_text(entry, "title"))
        if not title:
            raise ListingError(f"{label}: no <title>", source=source)
        abstract = _clean(_child_text(entry, "summary"))
        if not abstract:
            raise ListingError(f"{label}: no <summary>", source=source)
        links = [link.get("href", "") for link in _children(entry, "link")]
        arxiv_id = _first_arxiv_id([entry_id, *links])
        primary = [el.get("term", "") for el in _children(entry, "primary_category")]
        others = [el.get("term", "") for el in _children(entry, "category")]
        authors = (_clean(_child_text(author, "name")) for author in _children(entry, "author"))
        records.append(
            PaperRecord(
                title=title,
                abstract=abstract,
                arxiv_id=arxiv_id,
                source_id=entry_id if entry_id and arxiv_id is None else None,
                authors=tuple(name for name in authors if name),
                url=_ABS_URL.format(arxiv_id) if arxiv_id else next(filter(None, links), None),
                published=_iso_date(_child_text(entry, "published")),
                categories=_unique(primary + others),
            )
        )
    date = _iso_date(_child_text(root, "updated"))
    return ParsedListing(format="atom", date=date, records=tuple(records))


def _parse_rss(text: str, source: str) -> ParsedListing:
    root = _parse_xml(text, source)
    kind = _local(root.tag)
    channel = next(_children(root, "channel"), None)
    if kind == "rss" and channel is not None:
        items = list(_children(channel, "item"))
    elif kind == "RDF":
        # RSS 1.0 puts the items beside the channel, not inside it.
        items = list(_children(root, "item"))
        if channel is not None:
            items += _children(channel, "item")
    elif kind == "rss":
        raise ListingError("the <rss> feed has no <channel>; download it again", source=source)
    else:
        raise ListingError(
            f"expected an RSS <rss> or <rdf:RDF> feed, found <{kind}>; pass the right --format",
            source=source,
        )
    records = []
    for index, item in enumerate(items):
        title = _clean(_child_text(item, "title"))
        link = _clean(_child_text(item, "link")) or item.get(f"{_RDF}about", "")
        old_style = _OLD_RSS_TITLE.fullmatch(title)
        title_categories: list[str] = []
        title_id = ""
        if old_style is not None:
            title, title_id = _clean(old_style.group(1)), old_style.group(2)
            title_categories = [old_style.group(3).strip()]
        label = f"item {index}" + (f" ({link})" if link else "")
        if not title:
            raise ListingError(f"{label}: no <title>", source=source)
        abstract = _ANNOUNCE_PREFIX.sub("", _html_to_text(_child_text(item, "description")), 1)
        if not abstract:
            raise ListingError(f"{label}: no <description>", source=source)
        arxiv_id = _first_arxiv_id([link, _child_text(item, "guid"), title_id])
        creators = [_html_to_text(el_text) for el_text in _all_child_texts(item, "creator")]
        authors = _split_authors(creators[0]) if len(creators) == 1 else tuple(creators)
        categories = [_clean(text) for text in _all_child_texts(item, "category")]
        records.append(
            PaperRecord(
                title=title,
                abstract=abstract,
                arxiv_id=arxiv_id,
                source_id=link if link and arxiv_id is None else None,
                authors=tuple(name for name in authors if name),
                url=_ABS_URL.format(arxiv_id) if arxiv_id else (link or None),
                published=_feed_date(item),
                categories=_unique(categories or title_categories),
            )
        )
    date = _feed_date(channel) if channel is not None else None
    return ParsedListing(format="rss", date=date, records=tuple(records))


def _parse_xml(text: str, source: str) -> ET.Element:
    # Entity declarations are how "billion laughs" and external-entity attacks work, and
    # no feed needs one: refuse them before the parser sees them.
    declaration = _XML_DECLARATIONS.search(text)
    if declaration is not None:
        raise ListingError(
            f"the XML has a <!{declaration.group(1).upper()}> declaration, which digest does "
            "not accept (it can expand entities without limit); remove the declaration",
            source=source,
            line=text.count("\n", 0, declaration.start()) + 1,
        )
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        line, column = exc.position
        raise ListingError(
            f"invalid XML at line {line}, column {column + 1}: {expat.ErrorString(exc.code)}",
            source=source,
            line=line,
        ) from exc
    except ValueError as exc:  # text that cannot be encoded for the parser (lone surrogates)
        raise ListingError(f"invalid XML: {exc}", source=source) from exc


def _local(tag: Any) -> str:
    # Comments and processing instructions have a function as their tag.
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    """Children with local name ``name``, whatever their namespace."""
    return (child for child in element if _local(child.tag) == name)


def _child_text(element: ET.Element, name: str) -> str:
    child = next(_children(element, name), None)
    return "" if child is None else "".join(child.itertext())


def _all_child_texts(element: ET.Element, name: str) -> list[str]:
    return ["".join(child.itertext()) for child in _children(element, name)]


def _feed_date(element: ET.Element) -> str | None:
    for name in ("pubDate", "lastBuildDate"):
        value = _child_text(element, name).strip()
        if value:
            try:
                return parsedate_to_datetime(value).date().isoformat()
            except (TypeError, ValueError, IndexError, OverflowError):
                continue  # a malformed date says nothing; the record is still good
    return _iso_date(_child_text(element, "date"))  # dc:date in RSS 1.0


def _html_to_text(value: str) -> str:
    """Feed HTML to plain text: drop tags, then decode entities, then collapse whitespace."""
    value = _INLINE_TAG.sub("", _BLOCK_TAG.sub(" ", value))
    return _clean(html.unescape(value))


def _first_arxiv_id(candidates: Iterable[str]) -> str | None:
    for candidate in candidates:
        if candidate:
            found = arxiv_id_from(candidate)
            if found is not None:
                return found
    return None


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))


def _clean(value: str) -> str:
    """Whitespace collapsed to single spaces, none at the ends."""
    # Fast path for ASCII text that is already clean, most of a large JSON Lines file:
    # single-character searches run at memory speed, split() and join() do not.
    # (Printable ASCII has no separator but the blank: split() would only touch runs of
    # blanks and blanks at the ends.)
    if (
        value.isascii()
        and value.isprintable()
        and "  " not in value
        and value[:1] != " "
        and value[-1:] != " "
    ):
        return value
    return " ".join(value.split())
