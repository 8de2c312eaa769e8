"""The authors and arXiv categories a profile follows: names and categories, normalised.

Pure functions, no I/O. The profile validates with them (:func:`clean_author`,
:func:`normalize_category`), the ranker matches with them (:func:`author_key`,
:func:`same_person`, :func:`in_category`).

Author names are compared the way a reference manager does: Unicode NFKD with the
combining marks dropped (so "Hervé" is "herve"), case folded, punctuation gone, the
surname the last word of "Given Surname" or the part before the comma of "Surname,
Given", particles ("van", "de", …) and suffixes ("Jr.", "III") left out. Two names are one
person when their surnames are equal and their given names agree as far as both go, an
initial agreeing with any name that starts with it: "Y. LeCun", "Yann LeCun" and "LeCun,
Yann" are one person, "Z. LeCun" another.

Categories follow arXiv's grammar (https://arxiv.org/category_taxonomy): an archive
(one of :data:`ARCHIVES`: ``cs``, ``hep-th``, ``astro-ph``, ``q-bio``, …), optionally a dot
and a subject class, two capitals (``cs.CL``, ``math.ST``) or lowercase words (``physics.acc-ph``,
``cond-mat.mes-hall``). A followed archive without a subject class (``cs``) covers all of
its classes.

May import: the standard library, :mod:`digest.errors`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .errors import SubscriberError

MAX_NAME_LENGTH = 200
# Words that belong to a surname ("Ludwig van Beethoven") or follow it ("Jr."), never given
# names: left out on both sides so that "van Beethoven, Ludwig" is "Ludwig van Beethoven".
PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "dos", "das", "du", "la"}
    | {"le", "ter", "ten", "bin"}
)
SUFFIXES = frozenset(["jr", "sr", "ii", "iii", "iv"])
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# arXiv's archives (https://arxiv.org/category_taxonomy), and the retired ones old papers
# still carry: a category names one of these, so a typo such as "nlp" is refused.
ARCHIVES = frozenset(
    {"astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph"}
    | {"hep-th", "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio"}
    | {"q-fin", "quant-ph", "stat", "acc-phys", "adap-org", "alg-geom", "ao-sci", "atom-ph"}
    | {"bayes-an", "chao-dyn", "chem-ph", "cmp-lg", "comp-gas", "dg-ga", "funct-an"}
    | {"mtrl-th", "patt-sol", "plasm-ph", "q-alg", "solv-int", "supr-con"}
)
_CATEGORY = re.compile(r"^([a-z]+(?:-[a-z]+)?)(?:\.([a-z]{2}|[a-z]+(?:-[a-z]+)?))?$", re.I)


@dataclass(frozen=True)
class AuthorName:
    """A name split for matching: the surname key (letters and digits only, particles out)
    and the given names, each a full name or a one-letter initial, in order."""

    surname: str
    given: tuple[str, ...]


def _fold(text: str) -> str:
    """NFKD without combining marks, case folded: "Hervé" → "herve"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def parse_author(name: str) -> AuthorName | None:
    """``name`` split into surname and given names; None when it holds no letters.

    "LeCun, Yann" and "Yann LeCun" give ``AuthorName("lecun", ("yann",))``; "Y. LeCun"
    gives ``("lecun", ("y",))``; "J.-P. Serre" gives ``("serre", ("j", "p"))``.
    """
    if "," in name:
        surname_part, _, given_part = name.partition(",")
        if all(w in SUFFIXES for w in _words(given_part)):  # "Martin Luther King, Jr."
            return parse_author(surname_part) if _words(surname_part) else None
        surname_words = [w for w in _words(surname_part) if w not in SUFFIXES]
        given = [w for w in _words(given_part) if w not in PARTICLES | SUFFIXES]
        if not surname_words:  # ", Yann" or "Jr., …": read it as "Given Surname"
            return parse_author(name.replace(",", " "))
        # "van Beethoven, Ludwig": the particles before the surname are not part of its key.
        while len(surname_words) > 1 and surname_words[0] in PARTICLES:
            surname_words.pop(0)
        return AuthorName("".join(surname_words), tuple(given))
    words = [w for w in _words(name) if w not in SUFFIXES]
    if not words:
        return None
    surname, given = words[-1], words[:-1]
    return AuthorName(surname, tuple(w for w in given if w not in PARTICLES))


def author_key(name: str) -> str:
    """The surname key names are indexed by ("" when the name has no letters)."""
    parsed = parse_author(name)
    return parsed.surname if parsed else ""


def same_person(a: AuthorName, b: AuthorName) -> bool:
    """Whether two parsed names may be one person: equal surnames, and given names that
    agree as far as both go (an initial agrees with any name starting with it; a name with
    no given names agrees with every one)."""
    if a.surname != b.surname:
        return False
    for x, y in zip(a.given, b.given, strict=False):
        if len(x) == 1 or len(y) == 1:
            if x[0] != y[0]:
                return False
        elif x != y:
            return False
    return True


def display_surname(name: str) -> str:
    """The surname as the person typed it, for a reason ("by: LeCun")."""
    head, comma, rest = name.partition(",")
    if comma and head.strip() and not all(w in SUFFIXES for w in _words(rest)):
        return head.strip()
    words = (head if comma else name).split()
    while len(words) > 1 and _fold(words[-1]).strip(".") in SUFFIXES:
        words.pop()
    return words[-1] if words else name.strip()


def clean_author(raw: str) -> str:
    """A followed author as stored: whitespace collapsed; :class:`SubscriberError` when it
    is empty, too long or has no letters."""
    text = " ".join(raw.split())
    if not text:
        raise SubscriberError("author is empty; write a name such as Yann LeCun")
    if len(text) > MAX_NAME_LENGTH:
        raise SubscriberError(f"author {text[:40]!r}… is over {MAX_NAME_LENGTH} characters")
    if parse_author(text) is None:
        raise SubscriberError(f"author {raw!r} has no letters; write a name such as Yann LeCun")
    return text


def normalize_category(raw: str) -> str:
    """An arXiv category in its usual spelling (``"CS.cl"`` → ``"cs.CL"``); raises
    :class:`SubscriberError` for text outside the grammar (see the module docstring)."""
    text = raw.strip()
    match = _CATEGORY.match(text)
    if not match or match[1].lower() not in ARCHIVES:
        raise SubscriberError(
            f"category {raw!r} is not an arXiv category; write one such as cs.CL, math.ST, "
            "hep-th or astro-ph.GA"
        )
    archive, subject = match[1].lower(), match[2]
    if subject is None:
        return archive
    return f"{archive}.{subject.upper() if len(subject) == 2 else subject.lower()}"


def in_category(paper_categories: tuple[str, ...], followed: str) -> bool:
    """Whether a paper listed in ``paper_categories`` is in ``followed`` (an archive
    covers its subject classes)."""
    prefix = followed + "."
    return any(c == followed or c.startswith(prefix) for c in paper_categories)
