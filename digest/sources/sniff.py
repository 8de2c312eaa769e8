"""How a listing opens: its first characters tell JSON, XML and anything else apart.

Every format's ``sniff`` starts from :func:`opening`, which keeps the sniffs apart: a
JSON or XML file is never asked whether it is a page of text. Pure; imports nothing from
digest.
"""

from __future__ import annotations

import re

JSON_ARRAY, JSON_OBJECT, XML, OTHER = "json-array", "json-object", "xml", "other"

# Detection looks at this much of the text from its first non-blank character.
HEAD_CHARS = 65_536

_FIRST_NON_SPACE = re.compile(r"[^\s\ufeff]")
_JSON_ARRAY_START = re.compile(r"\[[ \t\r\n]*[{\]]")
_JSON_OBJECT_START = re.compile(r"\{[ \t\r\n]*[\"}]")
_XML_START = re.compile(r"<[?!A-Za-z_]")


def first_non_space(text: str) -> int | None:
    """Where the first character that is not whitespace (or a BOM) is, else ``None``."""
    match = _FIRST_NON_SPACE.search(text)
    return None if match is None else match.start()


def head(text: str, start: int) -> str:
    """The part of ``text`` detection looks at, from ``start`` (see :func:`first_non_space`)."""
    return text[start : start + HEAD_CHARS]


def opening(text: str, start: int) -> str:
    """:data:`JSON_ARRAY`, :data:`JSON_OBJECT`, :data:`XML` or :data:`OTHER`."""
    first = head(text, start)
    if _JSON_ARRAY_START.match(first):
        return JSON_ARRAY
    if _JSON_OBJECT_START.match(first):
        return JSON_OBJECT
    if _XML_START.match(first):
        return XML
    return OTHER
