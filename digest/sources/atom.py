"""The ``atom`` format: an arXiv API response, an Atom ``<feed>`` of ``<entry>`` elements.

A feed with no entries is an empty listing; an arXiv API error entry is an error. Pure;
imports only :mod:`digest.errors` and :mod:`digest.records`.
"""

from __future__ import annotations

import datetime

from ..errors import ListingError
from ..records import PaperRecord, ParsedListing
from .ids import ABS_URL, ArxivVersionError, first_arxiv_id_and_version
from .sniff import XML, opening
from .values import clean, iso_date, snippet, unique
from .xml_feed import child_text, children, local, local_name, parse_xml, root_name


def sniff(text: str, start: int, source: str) -> bool:
    """Whether ``text`` is XML whose root element is ``<feed>`` (in any namespace)."""
    return opening(text, start) == XML and local_name(root_name(text, start)) == "feed"


def parse(text: str, source: str, today: datetime.date) -> ParsedListing:
    """The entries, and the feed's ``<updated>`` day (``today`` is not needed)."""
    root = parse_xml(text, source)
    if local(root.tag) != "feed":
        raise ListingError(
            f"expected an Atom <feed>, found <{local(root.tag)}>; pass the right --format",
            source=source,
        )
    records = []
    for index, entry in enumerate(children(root, "entry")):
        entry_id = clean(child_text(entry, "id"))
        if "/api/errors" in entry_id:
            message = clean(child_text(entry, "summary")) or entry_id
            raise ListingError(
                f"the arXiv API answered with an error: {message}; fix the query and "
                "download the feed again",
                source=source,
            )
        label = f"entry {index}" + (f" ({snippet(entry_id, 120)})" if entry_id else "")
        title = clean(child_text(entry, "title"))
        if not title:
            raise ListingError(f"{label}: no <title>", source=source)
        abstract = clean(child_text(entry, "summary"))
        if not abstract:
            raise ListingError(f"{label}: no <summary>", source=source)
        links = [link.get("href", "") for link in children(entry, "link")]
        try:
            found = first_arxiv_id_and_version(
                [("<id>", entry_id), *(("<link href>", link) for link in links)]
            )
        except ArxivVersionError as exc:
            raise ListingError(f"{label}: {exc}", source=source) from None
        arxiv_id, version = found or (None, None)
        primary = [el.get("term", "") for el in children(entry, "primary_category")]
        others = [el.get("term", "") for el in children(entry, "category")]
        authors = (clean(child_text(author, "name")) for author in children(entry, "author"))
        records.append(
            PaperRecord(
                title=title,
                abstract=abstract,
                arxiv_id=arxiv_id,
                source_id=entry_id if entry_id and arxiv_id is None else None,
                authors=tuple(name for name in authors if name),
                url=ABS_URL.format(arxiv_id) if arxiv_id else next(filter(None, links), None),
                published=iso_date(child_text(entry, "published")),
                categories=unique(primary + others),
                version=version,
            )
        )
    date = iso_date(child_text(root, "updated"))
    return ParsedListing(format="atom", date=date, records=tuple(records))
