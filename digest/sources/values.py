"""Cleaning the values every format reads: whitespace, ISO dates, author lists, snippets.

Pure functions over ``str``; imports nothing from digest.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Any

# Applied to text whose whitespace is already collapsed (see split_authors): every "\s"
# here matches one character, so no run of spaces is ever re-scanned from each of its
# positions (``\s*[,;]`` over a 60 KB run of spaces took 32 s).
_AUTHOR_SEPARATOR = re.compile(r" ?[,;] ?(?:and )?| and ")
_ISO_DATE_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:$|[T ])")


def clean(value: str) -> str:
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


def split_authors(value: str) -> tuple[str, ...]:
    """``"A, B and C"`` → ``("A", "B", "C")``."""
    names = (name.strip() for name in _AUTHOR_SEPARATOR.split(clean(value)))
    return tuple(name for name in names if name)


def iso_date(value: Any) -> str | None:
    """The ``yyyy-mm-dd`` at the start of an ISO date or timestamp, else ``None``."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not _ISO_DATE_START.match(value):
        return None
    try:
        return datetime.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def unique(values: Iterable[str]) -> tuple[str, ...]:
    """The non-empty ``values`` in their first order, each once."""
    return tuple(dict.fromkeys(value for value in values if value))


def snippet(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
