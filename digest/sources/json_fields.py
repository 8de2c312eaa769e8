"""Reading JSON listings: loading with errors that say where, and checking each field.

A field check raises :class:`FieldProblem`, which says what is wrong but not where; the
format module, which knows the item and its line, turns it into a
:class:`~digest.errors.ListingError` (see :func:`located`). Pure; imports only
:mod:`digest.errors` and :mod:`digest.records`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..errors import ListingError
from ..records import PaperRecord
from .sniff import first_non_space
from .values import clean, snippet, split_authors


class FieldProblem(Exception):
    """A problem with one JSON item, raised before the caller knows where the item is."""


def load_json(text: str, source: str) -> Any:
    """``json.loads(text)``, failing with a :class:`ListingError` that names the line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ListingError(
            f"truncated or invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            source=source,
            line=exc.lineno,
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise ListingError(json_failure(exc), source=source) from exc


def json_failure(exc: ValueError | RecursionError) -> str:
    """The message for JSON that fails without a position: too deep, or a huge number."""
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply"
    # int() refuses numbers of more than 4,300 digits; its advice about
    # sys.set_int_max_str_digits is for programmers, not for whoever fixes the file.
    return "invalid JSON: " + str(exc).split(";", 1)[0]


def located(
    parse: Callable[[Any], PaperRecord], item: Any, source: str, line: int | None
) -> PaperRecord:
    """``parse(item)``, with a :class:`FieldProblem` turned into a located ListingError."""
    try:
        return parse(item)
    except FieldProblem as problem:
        raise ListingError(str(problem), source=source, line=line) from None


def array_item_line(text: str, index: int) -> int | None:
    """The line where item ``index`` of the JSON array in ``text`` starts (error path only)."""
    decoder = json.JSONDecoder()
    start = first_non_space(text)
    if start is None:
        return None
    position = start + 1
    try:
        for _ in range(index):
            _, position = decoder.raw_decode(text, skip_json_space(text, position))
            position = skip_json_space(text, position) + 1  # past the comma
        position = skip_json_space(text, position)
    except (ValueError, RecursionError):
        return None
    return text.count("\n", 0, position) + 1


def skip_json_space(text: str, position: int) -> int:
    """The first position at or after ``position`` that is not JSON whitespace."""
    while position < len(text) and text[position] in " \t\n\r":
        position += 1
    return position


def json_text(obj: dict[str, Any], key: str, name: str) -> str:
    """The required, non-empty string ``obj[key]``, whitespace collapsed."""
    value = obj.get(key)
    if value is None:
        raise FieldProblem(f"no {name}")
    if not isinstance(value, str):
        raise FieldProblem(f"{name} must be a string, not {json_type(value)}")
    cleaned = clean(value)
    if not cleaned:
        raise FieldProblem(f"{name} is empty")
    return cleaned


def optional_str(obj: dict[str, Any], key: str) -> str | None:
    """The optional string ``obj[key]``, stripped; ``None`` when missing or blank."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldProblem(f'"{key}" must be a string, not {json_type(value)}')
    return value.strip() or None


def authors(value: Any, name: str) -> tuple[str, ...]:
    """Author names from a list of strings or ``{"name": …}`` objects, or one string."""
    if value is None:
        return ()
    if isinstance(value, str):
        return split_authors(value)
    if not isinstance(value, list):
        raise FieldProblem(f"{name} must be a list of names, not {json_type(value)}")
    names = []
    for author in value:
        if isinstance(author, dict):
            author = author.get("name")
        if not isinstance(author, str):
            raise FieldProblem(f"{name} must be a list of names, but one is {json_type(author)}")
        cleaned = clean(author)
        if cleaned:
            names.append(cleaned)
    return tuple(names)


def categories(value: Any) -> tuple[str, ...]:
    """Categories from a list of strings, or one string separated by commas or spaces."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[\s,]+", value) if part)
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return tuple(part.strip() for part in value if part.strip())
    raise FieldProblem(f'"categories" must be a list of strings, not {describe(value)}')


# The largest count stored: SQLite's INTEGER is 64-bit signed, and a count past it is a
# broken or hostile file, not a real number of votes.
MAX_COUNT = 2**63 - 1


def upvotes(value: Any, name: str) -> int | None:
    """A whole number of upvotes (a number, or a string of digits), else ``None``."""
    return whole_number(value, name)


def whole_number(value: Any, name: str) -> int | None:
    """A count from a listing: a whole number from 0 to :data:`MAX_COUNT` (written as a
    number, a float without a fraction such as ``12.0``, or a string of digits); ``None``
    when missing. Anything else (a boolean, a fraction, a negative or out-of-range number)
    is a :class:`FieldProblem` naming ``name``: the file fails with one line rather than
    being stored with a silently changed value."""
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        digits = value.strip()
        if len(digits) > 19:  # past MAX_COUNT (and int() refuses 4,300 digits and more)
            raise FieldProblem(
                f"{name} must be a whole number from 0 to {MAX_COUNT:,}, not {_digits(digits)}"
            )
        number = int(digits)
    if number is None:
        raise FieldProblem(f"{name} must be a whole number, not {describe(value)}")
    if not 0 <= number <= MAX_COUNT:
        raise FieldProblem(
            f"{name} must be a whole number from 0 to {MAX_COUNT:,}, not {_digits(str(number))}"
        )
    return number


def _digits(text: str) -> str:
    """A number for a message, shortened when it is very long."""
    return text if len(text) <= 30 else f"{text[:12]}…({len(text)} digits)"


def json_type(value: Any) -> str:
    """What a JSON value is, for a message: ``"a string"``, ``"an array"``, ``"null"`` …"""
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


def describe(value: Any) -> str:
    """A JSON value for a message: a string quoted (and cut short), else its type."""
    if isinstance(value, str):
        return json.dumps(snippet(value, 40), ensure_ascii=False)
    return json_type(value)
