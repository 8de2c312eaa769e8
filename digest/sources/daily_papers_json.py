"""The ``daily-papers-json`` format: a JSON array of items as the daily-papers API returns
them (``{"paper": {"id", "title", "summary", "authors", "publishedAt", "upvotes"}, …}``).

An empty array is an empty listing, not an error. Pure; imports only
:mod:`digest.errors` and :mod:`digest.records`.
"""

from __future__ import annotations

import datetime
import json
import re
from collections import Counter
from typing import Any

from ..errors import ListingError
from ..records import PaperRecord, ParsedListing
from .ids import ABS_URL, ArxivVersionError, arxiv_id_and_version
from .json_fields import (
    FieldProblem,
    array_item_line,
    authors,
    json_text,
    json_type,
    load_json,
    skip_json_space,
    upvotes,
)
from .sniff import JSON_ARRAY, opening
from .values import iso_date

_DAILY_PAPERS_START = re.compile(r"\[[ \t\r\n]*\{[ \t\r\n]*\"paper\"[ \t\r\n]*:[ \t\r\n]*\{")


def sniff(text: str, start: int, source: str) -> bool:
    """Whether ``text`` is a JSON array whose first item has a ``paper`` object; decodes
    that item only."""
    if opening(text, start) != JSON_ARRAY:
        return False
    decoder = json.JSONDecoder()
    try:
        first, _ = decoder.raw_decode(text, skip_json_space(text, start + 1))
    except (ValueError, RecursionError):
        # A broken file: judge by how it starts, so the parser can report where it breaks.
        return _DAILY_PAPERS_START.match(text, start) is not None
    return isinstance(first, dict) and isinstance(first.get("paper"), dict)


def parse(text: str, source: str, today: datetime.date) -> ParsedListing:
    """The records, and the day most items were on the page (``today`` is not needed)."""
    data = load_json(text, source)
    if not isinstance(data, list):
        raise ListingError(
            f"expected a JSON array of daily-papers items, found {json_type(data)}",
            source=source,
        )
    records: list[PaperRecord] = []
    daily_dates: Counter[str] = Counter()
    published_dates: Counter[str] = Counter()
    for index, item in enumerate(data):
        try:
            records.append(_daily_paper(item))
        except FieldProblem as problem:
            raise ListingError(
                f"item {index}: {problem}", source=source, line=array_item_line(text, index)
            ) from None
        for key, counter in (("submittedOnDailyAt", daily_dates), ("publishedAt", published_dates)):
            day = iso_date(item.get(key))
            if day is not None:
                counter[day] += 1
    # The day the papers were on the page; ties go to the later day.
    counts = daily_dates or published_dates
    date = max(counts.items(), key=lambda pair: (pair[1], pair[0]))[0] if counts else None
    return ParsedListing(format="daily-papers-json", date=date, records=tuple(records))


def _daily_paper(item: Any) -> PaperRecord:
    if not isinstance(item, dict):
        raise FieldProblem(f"expected an object, found {json_type(item)}")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise FieldProblem("no paper object")
    title = json_text(paper, "title", "paper.title")
    abstract = json_text(paper, "summary", "paper.summary")
    raw_id = paper.get("id")
    if raw_id is None:
        paper_id = ""
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
        paper_id = str(raw_id).strip()
    else:
        raise FieldProblem(f'"paper.id" must be a string, not {json_type(raw_id)}')
    try:
        in_id = arxiv_id_and_version(paper_id) if paper_id else None
    except ArxivVersionError as exc:
        raise FieldProblem(f'"paper.id": {exc}') from None
    arxiv_id, version = in_id or (None, None)
    return PaperRecord(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        source_id=paper_id if paper_id and arxiv_id is None else None,
        authors=authors(paper.get("authors"), "paper.authors"),
        url=ABS_URL.format(arxiv_id) if arxiv_id else None,
        published=iso_date(paper.get("publishedAt")),
        upvotes=upvotes(paper.get("upvotes"), "paper.upvotes"),
        version=version,
    )
