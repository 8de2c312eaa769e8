"""The ``rss`` format: an arXiv RSS 2.0 feed (``<rss><channel><item>``), or the older
RSS 1.0 (``<rdf:RDF>``, items beside the channel).

Descriptions and author lists are HTML in feeds: their tags and entities are removed
here. A feed with no items is an empty listing. Pure; imports only :mod:`digest.errors`
and :mod:`digest.records`.
"""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET

from ..errors import ListingError
from ..records import ANNOUNCE_TYPES, REPLACEMENT_TYPES, PaperRecord, ParsedListing
from .ids import ABS_URL, ArxivVersionError, first_arxiv_id_and_version
from .sniff import XML, opening
from .values import clean, snippet, split_authors, unique
from .xml_feed import (
    all_child_texts,
    child_text,
    children,
    feed_date,
    html_to_text,
    local,
    local_name,
    parse_xml,
    root_name,
)

_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_ANNOUNCE_PREFIX = re.compile(
    r"\AarXiv:(\S+)\s+Announce Type:\s*([\w-]+)\s*(?:Abstract:\s*)?", re.IGNORECASE
)
# The tail of an old-style title, "Title. (arXiv:2305.07922v1 [cs.CL])", matched from the
# last "(arXiv:" only (see _old_style_title): a lazy ``(.*?)`` in front of it re-scanned the
# rest of the title from every position, quadratic in a long title.
_OLD_RSS_TAIL = re.compile(r"\(arXiv:(\S+)\s*\[([^\]]+)\][^)]*\)", re.DOTALL)


def _old_style_title(title: str) -> tuple[str, str, list[str]]:
    """``"Title. (arXiv:ID [cat])"`` → ``("Title", "ID", ["cat"])``; other titles as they
    are, with no id or category. Linear in the title's length."""
    start = title.rfind("(arXiv:")
    tail = _OLD_RSS_TAIL.fullmatch(title, start) if start >= 0 else None
    if tail is None:
        return title, "", []
    head = title[:start].rstrip()
    if head.endswith("."):
        head = head[:-1]
    return clean(head), tail.group(1), [tail.group(2).strip()]


def _announce_type(item: ET.Element, written: str) -> str | None:
    """The item's arXiv announce type: its ``<arxiv:announce_type>`` element, else the
    ``Announce Type:`` written in its description; ``None`` when neither names a known one."""
    for value in (child_text(item, "announce_type"), written):
        value = value.strip().lower()
        if value in ANNOUNCE_TYPES:
            return value
    return None


def sniff(text: str, start: int, source: str) -> bool:
    """Whether ``text`` is XML whose root element is ``<rss>`` or ``<rdf:RDF>``."""
    return opening(text, start) == XML and local_name(root_name(text, start)) in ("rss", "RDF")


def parse(text: str, source: str, today: datetime.date) -> ParsedListing:
    """The items, and the channel's day (``today`` is not needed)."""
    root = parse_xml(text, source)
    kind = local(root.tag)
    channel = next(children(root, "channel"), None)
    if kind == "rss" and channel is not None:
        items = list(children(channel, "item"))
    elif kind == "RDF":
        # RSS 1.0 puts the items beside the channel, not inside it.
        items = list(children(root, "item"))
        if channel is not None:
            items += children(channel, "item")
    elif kind == "rss":
        raise ListingError("the <rss> feed has no <channel>; download it again", source=source)
    else:
        raise ListingError(
            f"expected an RSS <rss> or <rdf:RDF> feed, found <{kind}>; pass the right --format",
            source=source,
        )
    records = []
    for index, item in enumerate(items):
        title = clean(child_text(item, "title"))
        link = clean(child_text(item, "link")) or item.get(f"{_RDF}about", "")
        title, title_id, title_categories = _old_style_title(title)
        label = f"item {index}" + (f" ({snippet(link, 120)})" if link else "")
        if not title:
            raise ListingError(f"{label}: no <title>", source=source)
        description = html_to_text(child_text(item, "description"))
        announced = _ANNOUNCE_PREFIX.match(description)
        abstract = description[announced.end() :] if announced else description
        announce_type = _announce_type(item, announced.group(2) if announced else "")
        if not abstract:
            raise ListingError(f"{label}: no <description>", source=source)
        named = [
            ("<link>", link),
            ("<guid>", child_text(item, "guid")),
            ("the description's arXiv id", announced.group(1) if announced else ""),
            ("the title's arXiv id", title_id),
        ]
        try:
            found = first_arxiv_id_and_version(named)
        except ArxivVersionError as exc:
            raise ListingError(f"{label}: {exc}", source=source) from None
        arxiv_id, version = found or (None, None)
        creators = [html_to_text(el_text) for el_text in all_child_texts(item, "creator")]
        authors = split_authors(creators[0]) if len(creators) == 1 else tuple(creators)
        categories = [clean(text) for text in all_child_texts(item, "category")]
        records.append(
            PaperRecord(
                title=title,
                abstract=abstract,
                arxiv_id=arxiv_id,
                source_id=link if link and arxiv_id is None else None,
                authors=tuple(name for name in authors if name),
                url=ABS_URL.format(arxiv_id) if arxiv_id else (link or None),
                # A replacement's item date is the day of the new version, not the paper's:
                # the store dates it from its id instead.
                published=None if announce_type in REPLACEMENT_TYPES else feed_date(item),
                categories=unique(categories or title_categories),
                version=version,
                announce_type=announce_type,
            )
        )
    date = feed_date(channel) if channel is not None else None
    return ParsedListing(format="rss", date=date, records=tuple(records))
