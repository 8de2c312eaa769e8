"""The ``records`` format: JSON Lines, or a JSON array, of plain records (``id``,
``title``, ``abstract`` or ``summary``, and optional ``authors``, ``url``, ``published``,
``upvotes``, ``categories``).

The format of large exports, so it streams: :func:`stream` parses each record as the
reader reaches it. Pure; imports only :mod:`digest.errors` and :mod:`digest.records`.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Iterator
from typing import Any

from ..errors import ListingError
from ..records import ListingStream, PaperRecord, ParsedListing
from .ids import ABS_URL, ArxivVersionError, arxiv_id_and_version
from .json_fields import (
    MAX_COUNT,
    FieldProblem,
    array_item_line,
    authors,
    categories,
    describe,
    json_failure,
    json_text,
    json_type,
    load_json,
    located,
    optional_str,
    upvotes,
)
from .lines import numbered_lines
from .sniff import JSON_ARRAY, JSON_OBJECT, first_non_space, opening
from .values import iso_date


def sniff(text: str, start: int, source: str) -> bool:
    """Whether ``text`` is JSON Lines (it opens with an object) or a JSON array of objects.

    Any array is taken, so ``daily-papers-json`` must be asked first."""
    return opening(text, start) in (JSON_ARRAY, JSON_OBJECT)


def parse(text: str, source: str, today: datetime.date) -> ParsedListing:
    """Every record at once (``today`` is not needed: records carry no listing date)."""
    return ParsedListing(format="records", date=None, records=tuple(_records(text, source)))


def stream(text: str, source: str, today: datetime.date) -> ListingStream:
    """The records as they are read; a bad record raises ListingError when reached."""
    return ListingStream(format="records", date=None, records=_records(text, source))


def _records(text: str, source: str) -> Iterator[PaperRecord]:
    start = first_non_space(text)
    if start is None or text[start] != "[":
        yield from _json_lines(text, source)
        return
    data = load_json(text, source)
    if not isinstance(data, list):
        raise ListingError(f"expected a JSON array, found {json_type(data)}", source=source)
    for index, item in enumerate(data):
        try:
            yield _plain_record(item)
        except FieldProblem as problem:
            raise ListingError(
                f"item {index}: {problem}", source=source, line=array_item_line(text, index)
            ) from None


def _json_lines(text: str, source: str) -> Iterator[PaperRecord]:
    first = True
    for number, raw in numbered_lines(text):
        if not raw or raw.isspace():  # a blank line (strip() would copy every line)
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            if first:
                # Not JSON Lines after all? One pretty-printed record is fine too; if the
                # whole file is not JSON either, load_json reports where it breaks.
                yield located(_plain_record, load_json(text, source), source, None)
                return
            raise ListingError(
                f"truncated or invalid JSON at line {number}, column {exc.colno}: {exc.msg}",
                source=source,
                line=number,
            ) from exc
        except (ValueError, RecursionError) as exc:
            raise ListingError(json_failure(exc), source=source, line=number) from exc
        first = False
        if type(item) is dict and _clean_json_text(raw):
            fast = _well_formed_record(item, clean_text=True)
            if fast is not None:
                yield fast
                continue
        yield located(_plain_record, item, source, number)


# The keys the fast path reads; a record with any other known field takes the full path.
_FAST_KEYS = frozenset({"id", "title", "abstract", "authors", "published", "upvotes"})
_NO_NAMES: list[str] = []  # never changed: the fast path only reads it
# A listing's records share a few publication dates: each string is read once.
_iso_day = functools.lru_cache(maxsize=1024)(iso_date)


def _clean_json_text(raw: str) -> bool:
    """Whether every string in the JSON text ``raw`` is printable ASCII without a double
    blank, read from ``raw`` itself: strict JSON (``json.loads``' default) has no control
    character in a string unless escaped, and a string without escapes is written as it
    is, so a line that is ASCII, has no backslash, no DEL and no two blanks in a row holds
    only such strings. Single-character searches (memchr) instead of a scan of each field
    by ``isprintable``."""
    return raw.isascii() and "\\" not in raw and "\x7f" not in raw and "  " not in raw


def _well_formed_record(item: dict[str, Any], *, clean_text: bool = False) -> PaperRecord | None:
    """The record, when every field is already what :func:`_plain_record` would make of
    it; else None (the full path then validates and cleans, and names any problem).

    Most records of a large export are like this: a string id, title and abstract, a list
    of author strings, an ISO date, a whole number of upvotes, all printable ASCII with
    single spaces. Whether the text fields are clean is checked once, on all of them
    joined, instead of once per field (the daily ingest reads ~10 fields per record); only
    their ends are looked at one by one (each scan of a 1.4 KB record costs ~2 µs).
    """
    if not _FAST_KEYS.issuperset(item):
        return None
    title, abstract, raw_id = item.get("title"), item.get("abstract"), item.get("id")
    names = item.get("authors", _NO_NAMES)
    published, votes = item.get("published"), item.get("upvotes")
    if (
        type(title) is not str
        or type(abstract) is not str
        or type(raw_id) is not str
        or type(names) is not list
        or not (published is None or type(published) is str)
        or not (votes is None or (type(votes) is int and 0 <= votes <= MAX_COUNT))
    ):
        return None
    fields = (title, abstract, raw_id, *names)
    for field in fields:
        # A blank at either end would be stripped: not clean.
        if type(field) is not str or not field or field[0] == " " or field[-1] == " ":
            return None
    # Clean (see values.clean) means printable ASCII, no double blank, none at either end
    # (``clean_text``: the caller knows the rest, see _clean_json_text).
    if not clean_text:
        text = "|".join(fields)
        if not (text.isascii() and text.isprintable() and "  " not in text):
            return None
    published_day = None if published is None else _iso_day(published)
    if published is not None and published_day is None:
        return None
    try:
        in_id = arxiv_id_and_version(raw_id)
    except ArxivVersionError:
        return None  # the full path names the problem
    arxiv_id, version = in_id or (None, None)
    return PaperRecord(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        source_id=raw_id if in_id is None else None,
        authors=tuple(names),
        url=ABS_URL.format(arxiv_id) if arxiv_id else None,
        published=published_day,
        upvotes=votes,
        categories=(),
        version=version,
    )


def _plain_record(item: Any) -> PaperRecord:
    if type(item) is dict:
        fast = _well_formed_record(item)
        if fast is not None:
            return fast
    return _checked_record(item)


def _checked_record(item: Any) -> PaperRecord:
    """The full path: every field validated and cleaned; a bad one is a FieldProblem."""
    if not isinstance(item, dict):
        raise FieldProblem(
            f"expected a JSON object with a title and an abstract, found {json_type(item)}"
        )
    title = json_text(item, "title", '"title"')
    if item.get("abstract") is None and item.get("summary") is not None:
        abstract = json_text(item, "summary", '"summary"')
    else:
        abstract = json_text(item, "abstract", '"abstract" (or "summary")')
    raw_id = item.get("id")
    if raw_id is None:
        record_id = ""
    elif isinstance(raw_id, str) or (isinstance(raw_id, int) and not isinstance(raw_id, bool)):
        record_id = str(raw_id).strip()
    else:
        raise FieldProblem(f'"id" must be a string, not {json_type(raw_id)}')
    url = optional_str(item, "url")
    in_id = _checked_id(record_id, '"id"') if record_id else None
    arxiv_id, version = in_id or (_checked_id(url, '"url"') if url else None) or (None, None)
    published = item.get("published")
    published_day = iso_date(published)
    if published is not None and published_day is None:
        raise FieldProblem(f'"published" must be a date like 2023-05-13, not {describe(published)}')
    return PaperRecord(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        source_id=record_id if record_id and in_id is None else None,
        authors=authors(item.get("authors"), '"authors"'),
        url=url or (ABS_URL.format(arxiv_id) if arxiv_id else None),
        published=published_day,
        upvotes=upvotes(item.get("upvotes"), '"upvotes"'),
        categories=categories(item.get("categories")),
        version=version,
    )


def _checked_id(value: str, name: str) -> tuple[str, int | None] | None:
    """:func:`arxiv_id_and_version` of ``value``, a bad version a FieldProblem naming ``name``."""
    try:
        return arxiv_id_and_version(value)
    except ArxivVersionError as exc:
        raise FieldProblem(f"{name}: {exc}") from None
