"""The ``text`` format: a daily-papers page saved as text.

After the header lines (``new``, ``Subscribe``, ``Get trending papers in your email
inbox!``, ``byAK and the research community`` …, in any order, and possibly glued to the
first title as in ``SubscribePre-training …``) and an optional date line, the non-blank
lines alternate title, abstract, title, abstract; blank lines between them do not matter.
Each line is classified by its shape:

* an *abstract* is longer than 300 characters, or ends with a period and has a sentence
  break inside or at least 20 words, or has two sentence breaks and at least 120
  characters;
* a *title* is any other line that does not end with a period (``?`` and ``!`` are fine;
  ``vs. Generative`` is one break, which titles may have);
* a short line ending with a period could be either.

A line in a title's place must not be abstract-shaped, and a line in an abstract's place
must not be title-shaped; otherwise the file is rejected, naming the line: a title
followed by another title, or by the end of the file, has no abstract, and an abstract
after an abstract has no title. Nothing is ever paired with a guess. Records carry title
and abstract only. A page with no listings is an error: it was not saved properly.

Pure; imports only :mod:`digest.errors`, :mod:`digest.records` and :mod:`digest.text`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import ListingError
from ..records import PaperRecord, ParsedListing
from ..text import MONTH_ABBREVIATIONS, MONTH_NAMES
from .lines import check_line_lengths
from .sniff import OTHER, opening
from .values import snippet

# Titles on the daily-papers page are at most ~150 characters; anything over this is an
# abstract whatever its punctuation.
_MAX_TITLE_CHARS = 300


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


def sniff(text: str, start: int, source: str) -> bool:
    """Whether ``text`` is a page: it is not JSON or XML, and it has daily-papers header
    lines or starts with a title line followed by an abstract line. A line too long for a
    page is an error here already (see :func:`~digest.sources.lines.check_line_lengths`)."""
    if opening(text, start) != OTHER:
        return False
    check_line_lengths(text, source)
    page = _read_page(text)
    if page.saw_header:
        return True
    lines = [line for line in page.body if not _HEADER_LINE.fullmatch(line.text)]
    return (
        len(lines) >= 2 and _shape(lines[0].text) == _TITLE and _shape(lines[1].text) == _ABSTRACT
    )


def parse(text: str, source: str, today: datetime.date) -> ParsedListing:
    """The page's date (its year from ``today`` when the line has none) and its records."""
    check_line_lengths(text, source)
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
        f'abstract "{snippet(line.text)}" has no title ({where}); add its title on the line '
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
