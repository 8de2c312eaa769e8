"""Reference libraries: the papers a person keeps, as their reference manager exports them.

Text in, :class:`LibraryEntry` records and one problem line per bad entry out; pure (no
files, no store). Four formats, each a well-kept parser where one exists, in the
:data:`LIBRARY_FORMATS` registry whose order is the detection order:

- ``csl-json``: CSL-JSON, what Zotero's "Export Library… → CSL JSON" writes (a JSON list of
  items with ``title``, ``author`` [{``family``, ``given``} or {``literal``}], ``DOI``,
  ``URL``, ``abstract``, ``note``, ``number``); read with :mod:`json` and a light check of
  that shape, since CSL-JSON has no parser package worth a dependency.
- ``ris``: RIS (``TY  - JOUR`` … ``ER  -``), read with ``rispy``, one record at a time so a
  bad record is reported by its line and the others are kept.
- ``bibtex``: BibTeX, read with ``bibtexparser`` (v2: entries keep their line, broken blocks
  are reported, LaTeX accents decoded).
- ``ids``: a plain list, one arXiv id (or arXiv URL) or DOI per line; ``#`` starts a comment.

An entry is identified by its arXiv id (from ``eprint`` with ``archivePrefix = arXiv``, a
URL, the note, the number, a journal field such as "arXiv preprint arXiv:2305.07922", or
an arXiv DOI ``10.48550/arXiv.ID``), else its DOI, else its title; one with none of them is
a problem. May import :mod:`digest.errors` and the package's :mod:`.ids`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import SubscriberError
from .ids import arxiv_id_from

_DOI = re.compile(r"(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)", re.I)
_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(.+)", re.I)
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\s*:\s*|arxiv\.org/(?:abs|pdf)/)([a-z-]+(?:\.[a-z]{2})?/\d{7}|\d{4}\.\d{4,5})",
    re.I,
)
_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -")
_BIBTEX_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.M)


@dataclass(frozen=True)
class LibraryEntry:
    """One paper of a library: where it is (``file:line`` or an entry key), its
    identity (arXiv id, else DOI, else title) and what the library says about it."""

    where: str
    title: str = ""
    abstract: str = ""
    arxiv_id: str | None = None
    doi: str | None = None  # lowercased, without a resolver prefix
    authors: tuple[str, ...] = ()
    url: str | None = None


@dataclass(frozen=True)
class ParsedLibrary:
    """What a library file holds: its format, the good entries and one line per bad one."""

    format: str
    entries: tuple[LibraryEntry, ...]
    problems: tuple[str, ...]


def clean_doi(value: str) -> str | None:
    """A DOI without its resolver prefix, lowercased (DOIs are case-insensitive); None if
    ``value`` holds none."""
    match = _DOI.search(value.strip())
    return match.group(1).rstrip(".,;").lower() if match else None


def arxiv_id_in(values: Iterable[str | None]) -> str | None:
    """The first arXiv id among ``values``: an id or URL as a whole, an arXiv DOI, or
    "arXiv:ID" inside a longer text (a note, a journal field)."""
    for value in values:
        if not value:
            continue
        value = value.strip()
        found = arxiv_id_from(value)
        doi = clean_doi(value)
        if found is None and doi and (m := _ARXIV_DOI.fullmatch(doi)):
            found = arxiv_id_from(m.group(1))
        if found is None and (m := _ARXIV_IN_TEXT.search(value)):
            found = arxiv_id_from(m.group(1))
        if found:
            return found
    return None


def _entry(where: str, title: str, **values: Any) -> LibraryEntry | str:
    """The entry, or the problem line when it cannot be identified."""
    entry = LibraryEntry(where=where, title=" ".join(title.split()), **values)
    if entry.arxiv_id or entry.doi or entry.title:
        return entry
    return f"{where}: no arXiv id, DOI or title; add one or remove the entry"


def _split(items: Iterable[LibraryEntry | str], fmt: str) -> ParsedLibrary:
    entries: list[LibraryEntry] = []
    problems: list[str] = []
    for item in items:
        if isinstance(item, str):
            problems.append(item)
        else:
            entries.append(item)
    return ParsedLibrary(fmt, tuple(entries), tuple(problems))


# --- CSL-JSON -----------------------------------------------------------------------------


def _sniff_csl(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{")


def _csl_author(person: Any) -> str | None:
    if not isinstance(person, dict):
        return None
    if isinstance(person.get("literal"), str):
        return str(person["literal"])
    family, given = person.get("family"), person.get("given")
    if isinstance(family, str) and family:
        return f"{family}, {given}" if isinstance(given, str) and given else family
    return None


def _csl_item(item: Any, where: str) -> LibraryEntry | str:
    if not isinstance(item, dict):
        return f"{where}: not a CSL-JSON item (expected an object with a title)"
    texts = {k: item.get(k) for k in ("title", "DOI", "URL", "abstract", "note", "number")}
    bad = sorted(k for k, v in texts.items() if v is not None and not isinstance(v, str | int))
    if bad:
        return f"{where}: {bad[0]} must be text"
    authors = item.get("author", [])
    if not isinstance(authors, list):
        return f'{where}: author must be a list of {{"family", "given"}} objects'
    text = {k: str(v) if v is not None else "" for k, v in texts.items()}
    return _entry(
        where,
        text["title"],
        abstract=text["abstract"],
        arxiv_id=arxiv_id_in((text["URL"], text["DOI"], text["number"], text["note"])),
        doi=clean_doi(text["DOI"]) if text["DOI"] else None,
        authors=tuple(a for p in authors if (a := _csl_author(p))),
        url=text["URL"] or None,
    )


def parse_csl_json(text: str, source: str) -> ParsedLibrary:
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise SubscriberError(
            f"{source}:{exc.lineno}: not valid JSON ({exc.msg}); export the library again "
            "as CSL JSON"
        ) from exc
    except RecursionError as exc:
        raise SubscriberError(
            f"{source}: JSON nested too deeply to be CSL JSON; export the library again"
        ) from exc
    if isinstance(data, dict):
        data = data.get("items", [data])
    if not isinstance(data, list):
        raise SubscriberError(f"{source}: CSL-JSON is a list of items; export it again")
    items = (
        _csl_item(item, f"{source}: item [{n}]" + _csl_key(item)) for n, item in enumerate(data)
    )
    return _split(items, "csl-json")


def _csl_key(item: Any) -> str:
    key = item.get("id") if isinstance(item, dict) else None
    return f" (id {key!r})" if isinstance(key, str | int) else ""


# --- RIS ----------------------------------------------------------------------------------


def _sniff_ris(text: str) -> bool:
    for line in text.lstrip("\ufeff").splitlines():
        if line.strip():
            return line.startswith("TY  -")
    return False


def _ris_blocks(text: str) -> Iterable[tuple[int, str] | str]:
    """(first line number, text) of each TY … ER record; a problem line for stray text."""
    start, lines = 0, list[str]()
    for n, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if not lines:
            if not line.strip():
                continue
            if not line.startswith("TY  -"):
                yield f"{n}: text outside a record (each record starts with 'TY  - ')"
                continue
            start = n
        lines.append(line)
        if line.startswith("ER  -"):
            yield start, "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield start, "\n".join(lines) + "\nER  - \n"


def _ris_record(block: str, where: str) -> LibraryEntry | str:
    import rispy  # what the RIS format needs only

    try:
        records = rispy.loads(block, skip_unknown_tags=True)
    except Exception as exc:  # rispy raises plain exceptions on a malformed record
        return f"{where}: not a valid RIS record ({exc})"
    if len(records) != 1:
        return f"{where}: not a valid RIS record; check its TY and ER lines"
    rec = records[0]

    def first(*keys: str) -> str:
        for key in keys:
            value = rec.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if isinstance(value, str) and value.strip():
                return value.strip()
        return ""

    urls = rec.get("urls") or []
    notes = rec.get("notes") or []
    doi = first("doi")
    return _entry(
        where,
        first("title", "primary_title", "translated_title"),
        abstract=first("abstract", "notes_abstract"),
        arxiv_id=arxiv_id_in([*urls, doi, *notes, first("number"), first("journal_name")]),
        doi=clean_doi(doi) if doi else None,
        authors=tuple(rec.get("authors") or rec.get("first_authors") or ()),
        url=urls[0] if urls else None,
    )


def parse_ris(text: str, source: str) -> ParsedLibrary:
    items = (
        f"{source}:{block}"
        if isinstance(block, str)
        else _ris_record(block[1], f"{source}:{block[0]}")
        for block in _ris_blocks(text)
    )
    return _split(items, "ris")


# --- BibTeX -------------------------------------------------------------------------------


def _sniff_bibtex(text: str) -> bool:
    return _BIBTEX_ENTRY.search(text) is not None


def _latex(value: str) -> str:
    """``value`` with LaTeX accents and commands as text ("J\\'{e}gou" → "Jégou")."""
    if "\\" not in value:
        return value
    from pylatexenc.latex2text import LatexNodes2Text  # installed with bibtexparser

    return str(LatexNodes2Text().latex_to_text(value))


def parse_bibtex(text: str, source: str) -> ParsedLibrary:
    from bibtexparser import middlewares  # what the BibTeX format needs only
    from bibtexparser.entrypoint import parse_string
    from bibtexparser.model import DuplicateBlockKeyBlock, DuplicateFieldKeyBlock

    # LaTeX is decoded only in the fields used, and only where a backslash says there is
    # some: bibtexparser's LatexDecodingMiddleware decodes every field of every entry and
    # made a 10,000-entry library take 46 s instead of 2.
    # Its warnings about broken blocks are the problem lines below: said once, by us.
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)
    library = parse_string(text, append_middleware=[middlewares.SeparateCoAuthors()])
    items: list[tuple[int, LibraryEntry | str]] = []
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, DuplicateBlockKeyBlock):
            first = (getattr(block.previous_block, "start_line", None) or 0) + 1
            problem = (
                f"duplicate key {block.key} (first at line {first}); the first was imported, "
                "give this entry a key of its own"
            )
        elif isinstance(block, DuplicateFieldKeyBlock):
            twice = ", ".join(sorted(block.duplicate_keys))
            problem = f"the field {twice} is given twice; keep one"
        else:
            problem = "not a valid BibTeX entry; check its braces"
        items.append((line, f"{source}:{line}: {problem}"))
    for entry in library.entries:
        line = (entry.start_line or 0) + 1
        where = f"{source}:{line} ({entry.key})"
        fields = {k.lower(): v.value for k, v in entry.fields_dict.items()}
        text_of = {k: v if isinstance(v, str) else "" for k, v in fields.items()}
        for key in ("title", "abstract"):
            text_of[key] = _latex(text_of.get(key, ""))
        authors = [_latex(a) for a in fields.get("author", []) if isinstance(a, str)]
        eprint = text_of.get("eprint", "")
        prefix = text_of.get("archiveprefix", "").lower()
        arxiv_from_eprint = arxiv_id_from(eprint) if prefix in ("arxiv", "") and eprint else None
        doi = text_of.get("doi", "")
        item = _entry(
            where,
            text_of.get("title", "").replace("{", "").replace("}", ""),
            abstract=text_of.get("abstract", ""),
            arxiv_id=arxiv_from_eprint
            or arxiv_id_in(
                [
                    text_of.get("url"),
                    doi,
                    text_of.get("note"),
                    text_of.get("journal"),
                    text_of.get("howpublished"),
                ]
            ),
            doi=clean_doi(doi) if doi else None,
            authors=tuple(authors),
            url=text_of.get("url") or None,
        )
        items.append((line, item))
    items.sort(key=lambda pair: pair[0])
    return _split((item for _, item in items), "bibtex")


# --- a list of ids ------------------------------------------------------------------------


def _id_line(line: str) -> str:
    return line.split("#", 1)[0].strip()


def _sniff_ids(text: str) -> bool:
    for line in text.lstrip("\ufeff").splitlines():
        if value := _id_line(line):
            return arxiv_id_in([value]) is not None or clean_doi(value) == value.lower()
    return False


def parse_ids(text: str, source: str) -> ParsedLibrary:
    items: list[LibraryEntry | str] = []
    for n, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        value = _id_line(line)
        if not value:
            continue
        where = f"{source}:{n}"
        arxiv = arxiv_id_in([value])
        doi = None if arxiv else clean_doi(value)
        if arxiv is None and (doi is None or len(value.split()) > 1):
            items.append(f"{where}: {value[:60]!r} is not an arXiv id or DOI")
            continue
        items.append(LibraryEntry(where=where, arxiv_id=arxiv, doi=doi))
    return _split(items, "ids")


# --- the registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryFormat:
    """A library file format: its name, file name suffixes (a hint), how to recognise its
    content and how to parse it."""

    name: str
    suffixes: tuple[str, ...]
    sniff: Callable[[str], bool]
    parse: Callable[[str, str], ParsedLibrary]


LIBRARY_FORMATS: tuple[LibraryFormat, ...] = (
    LibraryFormat("csl-json", (".json", ".csl.json"), _sniff_csl, parse_csl_json),
    LibraryFormat("ris", (".ris",), _sniff_ris, parse_ris),
    LibraryFormat("bibtex", (".bib", ".bibtex"), _sniff_bibtex, parse_bibtex),
    LibraryFormat("ids", (".txt", ".ids"), _sniff_ids, parse_ids),
)


def parse_library(text: str, *, source: str, suffix: str = "") -> ParsedLibrary:
    """Detect the format of ``text`` (by content; ``suffix``, the file's extension, only
    decides between formats whose content both fit) and parse it.

    Raises :class:`SubscriberError` (one line naming ``source``) for a file no format
    reads; bad entries of a file that is read are in :attr:`ParsedLibrary.problems`.
    """
    fitting = [f for f in LIBRARY_FORMATS if f.sniff(text)]
    if not fitting:
        names = ", ".join(f.name for f in LIBRARY_FORMATS)
        raise SubscriberError(
            f"{source}: not a library file digest reads ({names}: a BibTeX or RIS export, "
            "CSL JSON from Zotero, or one arXiv id or DOI per line)"
        )
    hinted = [f for f in fitting if suffix.lower() in f.suffixes]
    return (hinted or fitting)[0].parse(text, source)
