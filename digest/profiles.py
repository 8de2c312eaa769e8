"""Subscribers and interest profiles as people write them: validation, TOML and CSV.

Pure functions: text in, records out (or :class:`SubscriberError` naming the email, key
or line and what to do). The store saves the results; the CLI and web call these.

The TOML form of a subscriber (also what ``digest profile edit`` shows)::

    [[subscribers]]
    email = "ada@example.org"
    name = "Ada"
    keywords = ["code generation", "program synthesis^2"]   # ^N = weight
    exclude = ["medical imaging"]
    liked = ["2305.07922", "GraphCodeBERT: Pre-training Code Representations with Data Flow"]
    disliked = []
    description = "I build code LLMs."
    authors = ["Yann LeCun", "Hinton, Geoffrey"]   # matched on normalised names, initials too
    categories = ["cs.CL", "cs.LG"]                 # arXiv categories (or archives: "cs")
    exclude_categories = ["cs.CV"]                  # a paper in one is never sent
    library = "ada.bib"          # import only: a reference library, relative to this file
    frequency = "daily"          # or "weekly:mon" … "weekly:sun"
    max_papers = 10
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import SubscriberError
from .follows import clean_author, normalize_category
from .records import (
    MAX_PAPERS,
    MIN_SCORE_RANGE,
    QUIET_DAY_CHOICES,
    SUBSCRIBER_STATUSES,
    WEEKDAYS,
    Keyword,
    Profile,
    is_valid_min_score,
)
from .text import clip

_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f-\x9f\ud800-\udfff\"<>(),;:\\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$"
)
_WEIGHT = re.compile(r"^(?P<text>.*?)\s*\^\s*(?P<weight>[0-9]+(?:\.[0-9]+)?)$")
MAX_TERM_LENGTH = 200
# C0 and C1 control characters and DEL. Tab, line feed and carriage return are not among
# them: they are whitespace, collapsed to one space like any other run of it.
# Lone surrogates are what Python makes of bytes that are not UTF-8 (in argv, say).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_DESCRIPTION_LENGTH = 5000


@dataclass(frozen=True)
class SubscriberEntry:
    """One subscriber as an import file or editor gives it; liked/disliked are references
    (paper ids or exact titles) that the store resolves."""

    email: str
    name: str = ""
    keywords: tuple[Keyword, ...] = ()
    exclude: tuple[str, ...] = ()
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    description: str = ""
    frequency: str = "daily"
    timezone: str = "UTC"
    max_papers: int = 10
    min_score: float | None = None
    quiet_day: str = "skip"
    status: str = "active"
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    present: frozenset[str] = field(default=frozenset())  # keys the file actually gave
    library: str = ""  # TOML import only: a reference library file to import (its path)


ENTRY_KEYS = [
    "email",
    "name",
    "keywords",
    "exclude",
    "liked",
    "disliked",
    "description",
    "frequency",
    "timezone",
    "max_papers",
    "min_score",
    "quiet_day",
    "status",
    "authors",
    "categories",
    "exclude_categories",
]


# --- single values ----------------------------------------------------------------------


def normalize_email(raw: str) -> str:
    """Validate an email address and return it lowercased and trimmed; raises
    :class:`SubscriberError` for an empty, malformed, over-long (> 254, RFC 5321) or
    non-ASCII one."""
    email = raw.strip()
    if not email:
        raise SubscriberError("email is empty; give an address such as ada@example.org")
    if len(email) > 254 or not _EMAIL.match(email):
        raise SubscriberError(
            f"{raw!r} is not a valid email address; give one such as ada@example.org"
        )
    email = email.lower()
    if not email.isascii():
        # Internationalised addresses need SMTPUTF8 (RFC 6531) end to end; digest's
        # headers are ASCII, so such an address could never be sent to.
        raise SubscriberError(f"{email!r}: digest can only send to plain ASCII addresses")
    return email


def check_text(value: str, key: str) -> str:
    """``value`` unchanged, or :class:`SubscriberError` when it holds a control character.

    Every text field of a subscriber and profile goes through here (via
    :func:`entry_from_mapping`), whether it comes from an import file, the CLI or the web:
    control characters are rejected, not stripped, so what is stored is what was typed
    and a pasted escape sequence never reaches a terminal, a header or an export file.
    """
    match = _CONTROL.search(value)
    if match:
        code = ord(match.group())
        what = "a byte that is not UTF-8" if code >= 0xD800 else "the control character"
        raise SubscriberError(
            f"{key} {clip(value, 40)!r} holds {what} U+{code:04X}; remove it and retry"
        )
    return value


def parse_keyword(raw: str) -> Keyword:
    """``"program synthesis^2"`` → Keyword("program synthesis", 2.0). Whitespace is collapsed."""
    text, weight = raw, 1.0
    match = _WEIGHT.match(raw.strip())
    if match:
        text, weight = match["text"], float(match["weight"])
        if not 0 < weight <= 10:
            raise SubscriberError(
                f"keyword {raw!r}: weight must be above 0 and at most 10, e.g. {text}^2"
            )
    return Keyword(_clean_term(text, "keyword"), weight)


def _clean_term(raw: str, what: str) -> str:
    text = " ".join(raw.split())
    if not text:
        raise SubscriberError(f"{what} is empty; remove it or write a word or phrase")
    if len(text) > MAX_TERM_LENGTH:
        raise SubscriberError(f"{what} {text[:40]!r}… is over {MAX_TERM_LENGTH} characters")
    if "^" in text:
        raise SubscriberError(f"{what} {raw!r}: write a weight as a number after ^, e.g. rag^2")
    return text


def normalize_frequency(raw: str) -> str:
    """ "daily", "weekly" (Mondays) or "weekly:<day>" with day mon … sun."""
    value = raw.strip().lower().replace(" ", ":")
    if value == "daily":
        return value
    if value == "weekly":
        return "weekly:mon"
    if value.startswith("weekly:") and value[7:10] in WEEKDAYS:
        return f"weekly:{value[7:10]}"
    raise SubscriberError(
        f'frequency {raw!r} is not valid; use "daily" or "weekly:mon" … "weekly:sun"'
    )


def normalize_timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SubscriberError(
            f'timezone {raw!r} is not known; use an IANA name such as "Europe/Paris"'
        ) from exc
    return raw


def dedupe(values: Iterable[str]) -> tuple[str, ...]:
    """Keep the first of each value (case-insensitive), in order."""
    seen: set[str] = set()
    out = []
    for value in values:
        key = value.casefold()
        if key not in seen:
            seen.add(key)
            out.append(value)
    return tuple(out)


def merge_keywords(keywords: Iterable[Keyword]) -> tuple[Keyword, ...]:
    """One entry per keyword text (case-insensitive); a later weight replaces an earlier."""
    merged: dict[str, Keyword] = {}
    for kw in keywords:
        merged[kw.text.casefold()] = kw
    return tuple(merged.values())


# --- whole entries ----------------------------------------------------------------------


def entry_from_mapping(data: dict[str, Any], *, where: str) -> SubscriberEntry:
    """Validate one subscriber table (from TOML, CSV or a form)."""
    unknown = sorted(set(data) - set(ENTRY_KEYS))
    email_raw = data.get("email")
    if not isinstance(email_raw, str):
        raise SubscriberError(f'{where}: every subscriber needs an email = "..."')
    try:
        email = normalize_email(email_raw)
    except SubscriberError as exc:
        raise SubscriberError(f"{where}: {exc}") from exc
    who = f"{where} ({email})"
    if unknown:
        raise SubscriberError(
            f"{who}: unknown key {unknown[0]}; known keys are {', '.join(ENTRY_KEYS)}"
        )

    def text(key: str, default: str = "") -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise SubscriberError(f"{who}: {key} must be a string, got {value!r}")
        return check_text(value, key)

    def strings(key: str) -> list[str]:
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SubscriberError(f"{who}: {key} must be a list of strings, got {value!r}")
        return [check_text(v, key) for v in value if v.strip()]

    try:
        name = " ".join(text("name").split())
        liked = dedupe(v.strip() for v in strings("liked"))
        disliked = dedupe(v.strip() for v in strings("disliked"))
        keywords = merge_keywords(parse_keyword(k) for k in strings("keywords"))
        exclude = dedupe(_clean_term(t, "excluded term") for t in strings("exclude"))
        authors = dedupe(clean_author(a) for a in strings("authors"))
        categories = dedupe(normalize_category(c) for c in strings("categories"))
        exclude_categories = dedupe(normalize_category(c) for c in strings("exclude_categories"))
        description = " ".join(text("description").split())
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise SubscriberError(f"description is over {MAX_DESCRIPTION_LENGTH} characters")
        frequency = normalize_frequency(text("frequency", "daily"))
        timezone = normalize_timezone(text("timezone", "UTC"))
        max_papers = data.get("max_papers", 10)
        if isinstance(max_papers, bool) or not isinstance(max_papers, int):
            raise SubscriberError(f"max_papers must be a whole number, got {max_papers!r}")
        if not 1 <= max_papers <= MAX_PAPERS:
            raise SubscriberError(
                f"max_papers is {max_papers}; expected 1 to {MAX_PAPERS} "
                "(more papers would not fit in one email)"
            )
        min_score = data.get("min_score")
        if min_score is not None and not is_valid_min_score(min_score):
            low, high = MIN_SCORE_RANGE
            raise SubscriberError(
                f"min_score is {min_score!r}; expected a number from {low} to {high} "
                "(or leave it out to use the config's ranking.min_score)"
            )
        quiet_day = text("quiet_day", "skip")
        if quiet_day not in QUIET_DAY_CHOICES:
            raise SubscriberError(f'quiet_day is {quiet_day!r}; expected "skip" or "note"')
        status = text("status", "active")
        if status not in SUBSCRIBER_STATUSES:
            raise SubscriberError(
                f"status is {status!r}; expected one of {', '.join(SUBSCRIBER_STATUSES)}"
            )
    except SubscriberError as exc:
        if str(exc).startswith(who):
            raise
        raise SubscriberError(f"{who}: {exc}") from exc
    return SubscriberEntry(
        email=email,
        name=name,
        keywords=keywords,
        exclude=exclude,
        liked=liked,
        disliked=disliked,
        description=description,
        frequency=frequency,
        timezone=timezone,
        max_papers=max_papers,
        min_score=float(min_score) if min_score is not None else None,
        quiet_day=quiet_day,
        status=status,
        authors=authors,
        categories=categories,
        exclude_categories=exclude_categories,
        present=frozenset(data),
    )


def parse_subscribers_toml(text: str, *, source: str) -> list[SubscriberEntry]:
    """Read ``[[subscribers]]`` tables; errors name the file and the subscriber."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SubscriberError(f"{source}: not valid TOML ({exc})") from exc
    extra = sorted(set(data) - {"subscribers"})
    if extra:
        raise SubscriberError(f"{source}: unknown key {extra[0]}; expected [[subscribers]] tables")
    tables = data.get("subscribers", [])
    if not isinstance(tables, list):
        raise SubscriberError(f"{source}: write each subscriber as a [[subscribers]] table")
    entries = []
    for n, table in enumerate(tables, start=1):
        where = f"{source}: subscriber {n}"
        library = table.pop("library", "") if isinstance(table, dict) else ""
        if not isinstance(library, str):
            raise SubscriberError(f'{where}: library must be a path such as "ada.bib"')
        entry = entry_from_mapping(table, where=where)
        entries.append(dataclasses.replace(entry, library=check_text(library.strip(), "library")))
    _no_repeats(entries, source)
    return entries


CSV_COLUMNS = ENTRY_KEYS
_LIST_COLUMNS = ("keywords", "exclude", "liked", "disliked", *ENTRY_KEYS[-3:])
# A cell starting with one of these is a formula to a spreadsheet (CSV injection, see
# https://owasp.org/www-community/attacks/CSV_Injection): export writes it after a "'",
# which the spreadsheet shows as text, and import takes that quote off again.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text: "'" before a formula's first character."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _unneutralize(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def parse_subscribers_csv(text: str, *, source: str) -> list[SubscriberEntry]:
    """Read a CSV with a header row of :data:`CSV_COLUMNS` (any subset that has ``email``).

    List cells hold one item per line (a spreadsheet keeps line breaks inside quotes).
    """
    # strict: a quote left open or stray characters after a closing quote are errors, not
    # a cell that silently swallows the rest of the file.
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    try:
        return _csv_entries(reader, source)
    except csv.Error as exc:
        raise SubscriberError(
            f"{source}: not valid CSV after line {reader.line_num} ({exc}); check the quotes "
            "in the next row"
        ) from exc


def _csv_entries(reader: csv.DictReader[str], source: str) -> list[SubscriberEntry]:
    if not reader.fieldnames or "email" not in reader.fieldnames:
        raise SubscriberError(f"{source}: the first row must be a header with an email column")
    unknown = [c for c in reader.fieldnames if c not in CSV_COLUMNS]
    if unknown:
        raise SubscriberError(
            f"{source}: unknown column {unknown[0]!r}; known columns are {', '.join(CSV_COLUMNS)}"
        )
    repeated = [c for c in reader.fieldnames if reader.fieldnames.count(c) > 1]
    if repeated:
        raise SubscriberError(f"{source}: the column {repeated[0]!r} appears twice in the header")
    entries = []
    for row in reader:
        line = reader.line_num
        if None in row:  # DictReader's key for cells beyond the header
            raise SubscriberError(
                f"{source}:{line}: more cells than the header has columns; quote cells that "
                "hold a comma"
            )
        data: dict[str, Any] = {}
        for column, cell in row.items():
            if cell is None or cell == "":
                continue
            cell = _unneutralize(cell)
            if column in _LIST_COLUMNS:
                data[column] = [v for v in cell.splitlines() if v.strip()]
            elif column == "max_papers":
                data[column] = _csv_number(cell, int, f"{source}:{line}", column)
            elif column == "min_score":
                data[column] = _csv_number(cell, float, f"{source}:{line}", column)
            else:
                data[column] = cell
        entries.append(entry_from_mapping(data, where=f"{source}:{line}"))
    _no_repeats(entries, source)
    return entries


def _csv_number(cell: str, kind: type[int] | type[float], where: str, column: str) -> int | float:
    try:
        return kind(cell)
    except ValueError as exc:
        raise SubscriberError(f"{where}: {column} must be a number, got {cell!r}") from exc


def _no_repeats(entries: Sequence[SubscriberEntry], source: str) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.email in seen:
            raise SubscriberError(f"{source}: {entry.email} appears twice; keep one entry")
        seen.add(entry.email)


# --- writing ------------------------------------------------------------------------------


_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_TOML_SPECIAL = re.compile(r'[\\"\x00-\x1f\x7f-\x9f]')


def _toml_escape(match: re.Match[str]) -> str:
    char = match.group()
    return _TOML_ESCAPES.get(char) or f"\\u{ord(char):04X}"


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string that ``tomllib`` reads back equal, whatever it
    holds: quotes and backslashes escaped, every control character written \\uXXXX."""
    return '"' + _TOML_SPECIAL.sub(_toml_escape, value) + '"'


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def entry_to_toml(entry: SubscriberEntry) -> str:
    """One ``[[subscribers]]`` table; :func:`parse_subscribers_toml` reads it back equal."""
    lines = [
        "[[subscribers]]",
        f"email = {toml_string(entry.email)}",
        f"name = {toml_string(entry.name)}",
        f"keywords = {_toml_list(str(k) for k in entry.keywords)}   # ^N = weight",
        f"exclude = {_toml_list(entry.exclude)}",
        f"liked = {_toml_list(entry.liked)}",
        f"disliked = {_toml_list(entry.disliked)}",
        f"description = {toml_string(entry.description)}",
        f"authors = {_toml_list(entry.authors)}",
        f"categories = {_toml_list(entry.categories)}   # arXiv categories, e.g. cs.CL",
        f"exclude_categories = {_toml_list(entry.exclude_categories)}",
        f"frequency = {toml_string(entry.frequency)}   # daily, or weekly:mon … weekly:sun",
        f"timezone = {toml_string(entry.timezone)}",
        f"max_papers = {entry.max_papers}",
    ]
    if entry.min_score is not None:
        lines.append(f"min_score = {entry.min_score!r}")
    lines.append(f"quiet_day = {toml_string(entry.quiet_day)}   # skip, or note")
    lines.append(f"status = {toml_string(entry.status)}")
    return "\n".join(lines) + "\n"


def entry_to_mapping(entry: SubscriberEntry) -> dict[str, Any]:
    """The plain mapping :func:`entry_from_mapping` reads back into an equal entry."""
    data: dict[str, Any] = {
        "email": entry.email,
        "name": entry.name,
        "keywords": [str(k) for k in entry.keywords],
        "exclude": list(entry.exclude),
        "liked": list(entry.liked),
        "disliked": list(entry.disliked),
        "description": entry.description,
        "frequency": entry.frequency,
        "timezone": entry.timezone,
        "max_papers": entry.max_papers,
        "quiet_day": entry.quiet_day,
        "status": entry.status,
        "authors": list(entry.authors),
        "categories": list(entry.categories),
        "exclude_categories": list(entry.exclude_categories),
    }
    if entry.min_score is not None:
        data["min_score"] = entry.min_score
    return data


def entries_to_toml(entries: Iterable[SubscriberEntry]) -> str:
    return "\n".join(entry_to_toml(e) for e in entries)


def entries_to_csv(entries: Iterable[SubscriberEntry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        row: dict[str, object] = {
            "email": e.email,
            "name": e.name,
            "keywords": "\n".join(str(k) for k in e.keywords),
            "exclude": "\n".join(e.exclude),
            "liked": "\n".join(e.liked),
            "disliked": "\n".join(e.disliked),
            "description": e.description,
            "frequency": e.frequency,
            "timezone": e.timezone,
            "max_papers": e.max_papers,
            "min_score": "" if e.min_score is None else repr(e.min_score),
            "quiet_day": e.quiet_day,
            "status": e.status,
            "authors": "\n".join(e.authors),
            "categories": "\n".join(e.categories),
            "exclude_categories": "\n".join(e.exclude_categories),
        }
        writer.writerow(
            {k: neutralize_cell(v) if isinstance(v, str) else v for k, v in row.items()}
        )
    return out.getvalue()


def profile_from_entry(
    entry: SubscriberEntry, liked: Sequence[str], disliked: Sequence[str]
) -> Profile:
    """The stored profile of an entry whose liked/disliked references were resolved to ids."""
    return Profile(
        keywords=entry.keywords,
        exclude=entry.exclude,
        liked=tuple(liked),
        disliked=tuple(disliked),
        description=entry.description,
        authors=entry.authors,
        categories=entry.categories,
        exclude_categories=entry.exclude_categories,
    )


# --- changes from the command line ------------------------------------------------------


@dataclass(frozen=True)
class ProfileChanges:
    """What ``digest profile set`` asks for: terms and papers to add, references to remove
    (a keyword, an excluded term, or a paper id or exact title) and a new description."""

    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    like: tuple[str, ...] = ()
    dislike: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    description: str | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()


def apply_profile_changes(
    entry: SubscriberEntry, changes: ProfileChanges, *, removed_ids: Iterable[str]
) -> SubscriberEntry:
    """``entry``'s profile with ``changes`` merged in: removals first, then additions.

    A removal matches keywords and excluded terms case-insensitively, and liked/disliked
    papers by id (``removed_ids``: the removals that name a stored paper, resolved). The
    result gives only the profile keys, so saving it leaves the settings alone; it is
    validated like any entry (:class:`SubscriberError` on a bad keyword or term).
    """
    for category in (*changes.categories, *changes.exclude_categories):
        if not category.strip():  # given on purpose: refused, not dropped as a blank line is
            raise SubscriberError(
                f"profile set ({entry.email}): a category is empty; write one such as cs.CL"
            )
    gone = {r.casefold() for r in changes.remove}
    removed = set(removed_ids)
    data = {
        "email": entry.email,
        "keywords": [str(k) for k in entry.keywords if k.text.casefold() not in gone]
        + list(changes.keywords),
        "exclude": [t for t in entry.exclude if t.casefold() not in gone] + list(changes.exclude),
        "liked": [p for p in entry.liked if p not in removed] + list(changes.like),
        "disliked": [p for p in entry.disliked if p not in removed] + list(changes.dislike),
        "description": entry.description if changes.description is None else changes.description,
        "authors": [a for a in entry.authors if a.casefold() not in gone] + list(changes.authors),
        "categories": [c for c in entry.categories if c.casefold() not in gone]
        + list(changes.categories),
        "exclude_categories": [c for c in entry.exclude_categories if c.casefold() not in gone]
        + list(changes.exclude_categories),
    }
    return entry_from_mapping(data, where="profile set")


def liked_and_disliked(profile: Profile, votes: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """The paper ids the ranker treats as liked and disliked: the profile's own, then those
    voted "more" / "less like this" (``votes``: paper id → latest vote, which wins)."""
    liked = [p for p in profile.liked if votes.get(p, 1) > 0]
    liked += [p for p, v in votes.items() if v > 0 and p not in liked]
    disliked = [p for p in profile.disliked if votes.get(p, -1) < 0]
    disliked += [p for p, v in votes.items() if v < 0 and p not in disliked]
    return liked, disliked
