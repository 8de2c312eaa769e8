"""The identity rules of a paper: arXiv ids and normalized titles.

One grammar of arXiv ids serves both uses: :func:`arxiv_id_from` turns what a listing
says into the id a paper is stored under, and :func:`arxiv_id_as_written` finds the id a
link may point at. Pure functions over ``str``; imports nothing from digest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# The arXiv abstract page of an id: a record's URL when its listing gives none.
ABS_URL = "https://arxiv.org/abs/{}"

# The versions an arXiv id may name: 1 to MAX_VERSION. arXiv numbers versions from 1 and
# no paper comes near ten thousand; the bound also keeps the number an SQLite integer.
MAX_VERSION = 9999

# An arXiv id: new style (2305.07922, with an optional version) or old style
# (math.GT/0309136v1: archive, optional subject class, yymm and a three-digit number).
_ID = (
    r"(?:(?P<yymm>\d{4})\.(?P<number>\d{4,5})"
    r"|(?P<archive>[a-z][a-z-]*)(?:\.[A-Za-z]{2})?/(?P<old_yymm>\d{4})(?P<old_number>\d{3}))"
    r"(?:v(?P<version>\d+))?"
)
# As an identity: ASCII digits and letters in any case (HEP-TH/9901001V2 is
# hep-th/9901001v2: the id is normalized to lowercase), and the rules in arxiv_id_from.
_STRICT_ID = re.compile(_ID, re.ASCII | re.IGNORECASE)
# As written in a paper id that a link may point at: any case, an optional "arXiv:".
_WRITTEN_ID = re.compile(rf"(?:arxiv:)?(?P<id>{_ID})", re.IGNORECASE)

_ID_PREFIX = re.compile(r"(?:arxiv:|oai:arxiv\.org:)", re.IGNORECASE)
# The pages of one paper that a listing links to: arXiv's (and its RSS and export mirrors'),
# Hugging Face's daily papers and alphaXiv's. Only these hosts and paths: a link to a list,
# a search or another site is not a paper id.
_ID_URL = re.compile(
    r"(?:https?://)?"
    r"(?:(?:www\.|export\.|rss\.)?arxiv\.org/(?:abs|pdf|html)"
    r"|(?:www\.)?huggingface\.co/papers"
    r"|(?:www\.)?alphaxiv\.org/(?:abs|overview|pdf))/"
    r"(?P<id>[^?#]+?)(?:\.pdf)?/?(?:[?#].*)?",
    re.IGNORECASE,
)
_NOT_ALNUM = re.compile(r"[\W_]+")
_ASCII_NOT_ALNUM = bytes(b for b in range(128) if not chr(b).isalnum())  # "_" among them


class ArxivVersionError(ValueError):
    """An arXiv id whose version is not 1 to :data:`MAX_VERSION` (``2401.00002v0``): the
    message names the value and the rule, for the caller to say where it was."""


def arxiv_id_from(value: str) -> str | None:
    """The arXiv id in ``value``, without its version; ``None`` if ``value`` is not one.

    Accepts a bare id (``2305.07922v2``, old style ``cs/0112017v1``), a prefixed one
    (``arXiv:2305.07922``, ``oai:arXiv.org:2305.07922v1``) and the URLs of a paper's page
    (``https://arxiv.org/abs/…``, ``rss.arxiv.org`` and ``export.arxiv.org`` too,
    ``/pdf/…`` with or without ``.pdf``, ``https://huggingface.co/papers/…``,
    ``https://www.alphaxiv.org/abs/…``).
    Old-style ids lose their subject class (``math.GT/0309136`` → ``math/0309136``), which
    is not part of the identifier. The month must be 01–12, and new-style ids have four
    digits after the dot up to 2014 and five from 2015, so a DOI or a phone number is not
    mistaken for an id. Letters may be in any case: the id is lowercase
    (``HEP-TH/9901001V2`` → ``hep-th/9901001``). A version must be 1 to
    :data:`MAX_VERSION`: ``2401.00002v0`` is no id here (:func:`arxiv_id_and_version`,
    which listings are read with, says why instead).
    """
    try:
        found = arxiv_id_and_version(value)
    except ArxivVersionError:
        return None
    return None if found is None else found[0]


def arxiv_id_and_version(value: str) -> tuple[str, int | None] | None:
    """(:func:`arxiv_id_from`, version or ``None``) of ``value`` read at once (version 2
    for ``2305.07922v2``); ``None`` if ``value`` is no arXiv id.

    Raises :class:`ArxivVersionError` when ``value`` is an id whose version is not 1 to
    :data:`MAX_VERSION` (``v0``, ``v99999999999999999999``)."""
    found = _arxiv_match(value)
    if found is None:
        return None
    arxiv_id, written = found
    if written is None:
        return arxiv_id, None
    # Counted in digits first: int() of thousands of digits is slow, then refused.
    version = int(written) if len(written) <= len(str(MAX_VERSION)) else 0
    if not 1 <= version <= MAX_VERSION:
        shown = written if len(written) <= 30 else f"{written[:12]}…({len(written)} digits)"
        raise ArxivVersionError(
            f"the arXiv id {arxiv_id} names version v{shown}; arXiv versions run from "
            f"v1 to v{MAX_VERSION}: fix the id"
        )
    return arxiv_id, version


def arxiv_version_from(value: str) -> int | None:
    """The version an arXiv id or link names (``2305.07922v2`` → 2), read with the grammar
    of :func:`arxiv_id_from`; ``None`` when ``value`` is no id or names no version."""
    try:
        found = arxiv_id_and_version(value)
    except ArxivVersionError:
        return None
    return None if found is None else found[1]


def first_arxiv_id_and_version(
    named: Iterable[tuple[str, str]],
) -> tuple[str, int | None] | None:
    """The first arXiv id among ``named`` ((key, value) pairs: a feed's id, links, guid)
    and the first version any of them names; ``None`` if none is an id.

    Raises :class:`ArxivVersionError`, its message starting with the key, when any value
    is an id with a version out of range (see :func:`arxiv_id_and_version`)."""
    arxiv_id: str | None = None
    version: int | None = None
    for key, value in named:
        if not value:
            continue
        try:
            found = arxiv_id_and_version(value)
        except ArxivVersionError as exc:
            raise ArxivVersionError(f"{key}: {exc}") from None
        if found is not None:
            arxiv_id = arxiv_id or found[0]
            version = found[1] if version is None else version
    return None if arxiv_id is None else (arxiv_id, version)


def _arxiv_match(value: str) -> tuple[str, str | None] | None:
    """(id without version, the version's digits as written or None) of ``value``, or
    None (see arxiv_id_from)."""
    candidate = value.strip()
    url = _ID_URL.fullmatch(candidate)
    if url is not None:
        candidate = url.group("id")
    else:
        prefix = _ID_PREFIX.match(candidate)
        if prefix is not None:
            candidate = candidate[prefix.end() :].strip()
    match = _STRICT_ID.fullmatch(candidate)
    if match is None:
        return None
    yymm, number, archive, old_yymm, old_number, version = match.groups()
    if yymm is not None:
        if not 1 <= int(yymm[2:]) <= 12:
            return None
        if (len(number) == 5) != (int(yymm) >= 1501):
            return None
        return f"{yymm}.{number}", version
    if not 1 <= int(old_yymm[2:]) <= 12:
        return None
    if "--" in archive or archive.endswith("-"):  # archives are words joined by one hyphen
        return None
    return f"{archive.lower()}/{old_yymm}{old_number}", version


def arxiv_id_month(arxiv_id: str) -> str | None:
    """The first day of the month an arXiv id was issued in, as an ISO date
    (``2311.04567`` → ``2023-11-01``, ``math/0309136`` → ``2003-09-01``); ``None`` for
    anything else. arXiv ids begin with the yymm of their submission (arXiv identifier
    scheme, https://info.arxiv.org/help/arxiv_identifier.html); arXiv began in 1991, so
    yy of 91–99 is 19yy and the rest 20yy."""
    found = arxiv_id_from(arxiv_id)
    if found is None:
        return None
    yymm = found.rpartition("/")[2][:4]
    year = int(yymm[:2])
    return f"{1900 + year if year >= 91 else 2000 + year}-{yymm[2:]}-01"


def arxiv_id_as_written(value: str) -> str | None:
    """The arXiv id ``value`` is, as written (version and subject class kept), else ``None``.

    For links: ``2305.07922v2`` and ``math.GT/0309136`` point at exactly that page, and an
    ``arXiv:`` prefix is dropped. Looser than :func:`arxiv_id_from` (any case, no check of
    the month), because a link to an odd id is still better than a title search.
    """
    match = _WRITTEN_ID.fullmatch(value.strip())
    return None if match is None else match.group("id")


def normalize_title(title: str) -> str:
    """A key for matching titles: NFKC, casefolded, letters and digits only.

    ``"BERT: Pre-training…"`` and ``"bert pre training"`` give the same key, so the store
    can tell that two listings carry the same paper even without an arXiv id.
    """
    if title.isascii():  # NFKC leaves ASCII alone, and casefold() is lower() there
        # What the regex keeps of ASCII is a-z and 0-9: the other bytes deleted in C,
        # ~10x faster than the substitution (one key per record ingested).
        return title.lower().encode("ascii").translate(None, _ASCII_NOT_ALNUM).decode("ascii")
    # In Python's re, \w is exactly str.isalnum() plus "_": so this keeps isalnum() chars.
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", title).casefold())
