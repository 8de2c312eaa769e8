"""Reading XML feeds safely, and the small lookups Atom and RSS share.

Elements are found by local name, whatever their namespace, because feeds disagree on
namespaces. Pure; imports only :mod:`digest.errors`.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from xml.parsers import expat

from ..errors import ListingError
from .sniff import head
from .values import clean, iso_date

_XML_DECLARATIONS = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_ROOT = re.compile(r"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)")
_BLOCK_TAG = re.compile(r"</?(?:p|br|div|li|ul|ol|h[1-6])\b[^<>]*>", re.IGNORECASE)
_INLINE_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


def root_name(text: str, start: int) -> str:
    """The root element's name as written (``feed``, ``rdf:RDF``), or ``""``; for sniffing."""
    root = _XML_ROOT.search(_without_comments(head(text, start)))
    return root.group(1) if root else ""


def _without_comments(text: str) -> str:
    """``text`` without its ``<!-- … -->`` comments (an unclosed one is kept).

    With str.find rather than a lazy ``<!--.*?-->``, which searched for the close again
    from every unclosed opening: quadratic in a head full of ``<!--``."""
    parts, position = [], 0
    while (opening := text.find("<!--", position)) >= 0:
        parts.append(text[position:opening])
        closing = text.find("-->", opening + 4)
        if closing < 0:  # unclosed: left as it is, as a regex would have
            position = opening
            break
        position = closing + 3
    parts.append(text[position:])
    return "".join(parts)


def unknown_root(text: str, start: int) -> str:
    """What an XML file that is no known feed is, for the message that says so."""
    name = root_name(text, start)
    if local_name(name).lower() == "html":
        return "an HTML page; save the daily-papers page as text, or download the arXiv feed"
    if name:
        return f"XML whose root element is <{name}>, not an Atom <feed> or an RSS <rss>"
    return "XML without a root element"


def local_name(name: str) -> str:
    """``rdf:RDF`` → ``RDF``."""
    return name.rpartition(":")[2]


def parse_xml(text: str, source: str) -> ET.Element:
    """The root element, refusing DTDs and entity declarations; errors name the line."""
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


def local(tag: Any) -> str:
    """An element's tag without its namespace."""
    # Comments and processing instructions have a function as their tag.
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    """Children with local name ``name``, whatever their namespace."""
    return (child for child in element if local(child.tag) == name)


def child_text(element: ET.Element, name: str) -> str:
    """All the text of the first child named ``name``, or ``""``."""
    child = next(children(element, name), None)
    return "" if child is None else "".join(child.itertext())


def all_child_texts(element: ET.Element, name: str) -> list[str]:
    """The text of every child named ``name``."""
    return ["".join(child.itertext()) for child in children(element, name)]


def feed_date(element: ET.Element) -> str | None:
    """The ISO date of an RSS channel or item: ``pubDate``, ``lastBuildDate`` or ``dc:date``."""
    for name in ("pubDate", "lastBuildDate"):
        value = child_text(element, name).strip()
        if value:
            try:
                return parsedate_to_datetime(value).date().isoformat()
            except (TypeError, ValueError, IndexError, OverflowError):
                continue  # a malformed date says nothing; the record is still good
    return iso_date(child_text(element, "date"))  # dc:date in RSS 1.0


def html_to_text(value: str) -> str:
    """Feed HTML to plain text: drop tags, then decode entities, then collapse whitespace."""
    value = _INLINE_TAG.sub("", _BLOCK_TAG.sub(" ", value))
    return clean(html.unescape(value))
