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

Categories are arXiv's (https://arxiv.org/category_taxonomy, written out as
:data:`TAXONOMY`): an archive (``cs``, ``hep-th``, ``astro-ph``, ``q-bio``, …), optionally a
dot and one of its subject classes (``cs.CL``, ``math.ST``, ``physics.acc-ph``,
``cond-mat.mes-hall``), in any case on input and arXiv's spelling on output; a misspelt or
unknown one (``cs.CLL``, ``cs.XX``) is refused. A followed archive without a subject class
(``cs``) covers all of its classes.

May import: the standard library, :mod:`digest.errors`.
"""

from __future__ import annotations

import difflib
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
# arXiv's category taxonomy (https://arxiv.org/category_taxonomy, as of 2026): each archive
# and its subject classes, space-separated; an archive with none (hep-th) is a category by
# itself. The retired archives that old papers still carry (cmp-lg, …) close the list.
TAXONOMY: dict[str, str] = {
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS "
    "NA NE NI OH OS PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "gr-qc": "",
    "hep-ex": "",
    "hep-lat": "",
    "hep-ph": "",
    "hep-th": "",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA "
    "RA RT SG SP ST",
    "math-ph": "",
    "nlin": "AO CD CG PS SI",
    "nucl-ex": "",
    "nucl-th": "",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an "
    "ed-ph flu-dyn gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "quant-ph": "",
    "stat": "AP CO ME ML OT TH",
    **dict.fromkeys(
        [
            "acc-phys",
            "adap-org",
            "alg-geom",
            "ao-sci",
            "atom-ph",
            "bayes-an",
            "chao-dyn",
            "chem-ph",
            "cmp-lg",
            "comp-gas",
            "dg-ga",
            "funct-an",
            "mtrl-th",
            "patt-sol",
            "plasm-ph",
            "q-alg",
            "solv-int",
            "supr-con",
        ],
        "",
    ),
}
ARCHIVES = frozenset(TAXONOMY)
# Every category a profile may name, by its case-folded spelling: archives (covering
# their classes) and archive.class in arXiv's own spelling.
CATEGORIES: dict[str, str] = {
    name.casefold(): name
    for archive, classes in TAXONOMY.items()
    for name in (archive, *(f"{archive}.{c}" for c in classes.split()))
}


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
    """An arXiv category in arXiv's spelling (``"CS.cl"`` → ``"cs.CL"``, ``"HEP-TH"`` →
    ``"hep-th"``), one of :data:`CATEGORIES` (from :data:`TAXONOMY`); raises
    :class:`SubscriberError` for anything else, naming the closest category
    (:func:`difflib.get_close_matches`) when one is close."""
    text = raw.strip()
    if not text:
        raise SubscriberError("a category is empty; write one such as cs.CL or hep-th")
    known = CATEGORIES.get(text.casefold())
    if known is not None:
        return known
    close = difflib.get_close_matches(text.casefold(), CATEGORIES, n=1, cutoff=0.7)
    hint = f"did you mean {CATEGORIES[close[0]]}?" if close else "write one such as cs.CL"
    raise SubscriberError(
        f"category {raw[:40]!r} is not an arXiv category; {hint} "
        "(see https://arxiv.org/category_taxonomy)"
    )


def in_category(paper_categories: tuple[str, ...], followed: str) -> bool:
    """Whether a paper listed in ``paper_categories`` is in ``followed`` (an archive
    covers its subject classes)."""
    prefix = followed + "."
    return any(c == followed or c.startswith(prefix) for c in paper_categories)
