"""The authors and categories subscribers follow, as matrices over the candidates.

Built once per rank() call (:func:`build_follows`, from :func:`digest.rank.batch.build_batch`):
which followed author wrote which candidate, which candidate is in which followed or
excluded category. Linear in the candidates' author lists: followed names are indexed by
surname key, so each author of a candidate is parsed once and compared only with the
followed names of the same surname (see :mod:`digest.follows` for the matching rule).
May import :mod:`digest.records`, :mod:`digest.follows` and the matrix helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import scipy.sparse as sp

from ..follows import AuthorName, display_surname, parse_author, same_person
from ..records import Paper
from .inputs import Interest
from .matrices import csr


@dataclass
class Follows:
    """Followed authors and categories of one rank() call, numbered in sorted order."""

    author_of: sp.csr_matrix  # subscribers × followed authors, 1 where followed
    author_hits: sp.csr_matrix  # followed authors × candidates, 1 where an author of it
    author_names: list[str]  # per followed author: the surname as typed, for "by: …"
    category_of: sp.csr_matrix  # subscribers × followed categories
    category_hits: sp.csr_matrix  # followed categories × candidates, 1 where in it
    category_names: list[str]
    excluded: sp.csr_matrix  # subscribers × candidates, 1 where in an excluded category
    author_hit_sets: list[frozenset[int]] = field(default_factory=list)
    category_hit_sets: list[frozenset[int]] = field(default_factory=list)


def _hit_sets(m: sp.csr_matrix) -> list[frozenset[int]]:
    return [frozenset(m.indices[a:b].tolist()) for a, b in pairwise(m.indptr.tolist())]


def _author_hits(candidates: Sequence[Paper], followed: list[AuthorName]) -> list[list[int]]:
    """Per followed name, the candidates one of whose authors is that person."""
    by_surname: dict[str, list[int]] = {}
    for j, name in enumerate(followed):
        by_surname.setdefault(name.surname, []).append(j)
    hits: list[list[int]] = [[] for _ in followed]
    if not by_surname:
        return hits
    for c, paper in enumerate(candidates):
        for raw in paper.authors:
            parsed = parse_author(raw)
            if parsed is None:
                continue
            for j in by_surname.get(parsed.surname, ()):
                if same_person(followed[j], parsed) and (not hits[j] or hits[j][-1] != c):
                    hits[j].append(c)
    return hits


def _category_hits(candidates: Sequence[Paper], followed: list[str]) -> list[list[int]]:
    """Per followed category (or archive), the candidates listed in it."""
    position = {name: j for j, name in enumerate(followed)}
    hits: list[list[int]] = [[] for _ in followed]
    if not position:
        return hits
    for c, paper in enumerate(candidates):
        found: set[int] = set()
        for category in paper.categories:
            for key in (category, category.partition(".")[0]):
                if key in position:
                    found.add(position[key])
        for j in found:
            hits[j].append(c)
    return hits


def build_follows(candidates: Sequence[Paper], interests: Sequence[Interest]) -> Follows:
    """The follow matrices of ``interests`` over ``candidates`` (see :class:`Follows`)."""
    n_cand = len(candidates)
    parsed: dict[str, AuthorName] = {}
    display: dict[AuthorName, str] = {}
    for interest in interests:
        for raw in interest.authors:
            if raw not in parsed and (name := parse_author(raw)) is not None:
                parsed[raw] = name
                display.setdefault(name, display_surname(raw))
    names = sorted(display, key=lambda n: (n.surname, n.given))
    author_pos = {n: j for j, n in enumerate(names)}
    categories = sorted({c for i in interests for c in i.categories})
    category_pos = {c: j for j, c in enumerate(categories)}
    excluded_names = sorted({c for i in interests for c in i.exclude_categories})
    excluded_pos = {c: j for j, c in enumerate(excluded_names)}

    def rows(values: Sequence[Sequence[int]]) -> list[list[tuple[int, float]]]:
        return [[(j, 1.0) for j in sorted(set(v))] for v in values]

    author_of = rows([[author_pos[parsed[a]] for a in i.authors if a in parsed] for i in interests])
    category_of = rows([[category_pos[c] for c in i.categories] for i in interests])
    excluded_of = rows([[excluded_pos[c] for c in i.exclude_categories] for i in interests])
    author_hits = csr(rows(_author_hits(candidates, names)), n_cand)
    category_hits = csr(rows(_category_hits(candidates, categories)), n_cand)
    excluded_hits = csr(rows(_category_hits(candidates, excluded_names)), n_cand)
    excluded = sp.csr_matrix(csr(excluded_of, len(excluded_names)) @ excluded_hits)
    return Follows(
        author_of=csr(author_of, len(names)),
        author_hits=author_hits,
        author_names=[display[n] for n in names],
        category_of=csr(category_of, len(categories)),
        category_hits=category_hits,
        category_names=categories,
        excluded=excluded,
        author_hit_sets=_hit_sets(author_hits),
        category_hit_sets=_hit_sets(category_hits),
    )


def followed_hits(follows: Follows, rows: list[int], *, authors: bool) -> sp.csr_matrix:
    """rows × candidates: how many of each row's followed authors (or categories) the
    candidate has; the specific signal a send may rest on (issue 13)."""
    of, hits = (
        (follows.author_of, follows.author_hits)
        if authors
        else (follows.category_of, follows.category_hits)
    )
    return sp.csr_matrix(of[rows] @ hits)


def follow_reasons(follows: Follows, r: int, c: int) -> list[str]:
    """ "by: LeCun" and "in: cs.CL" for candidate ``c`` of subscriber row ``r``."""
    reasons: list[str] = []
    if not follows.author_names and not follows.category_names:
        return reasons  # nobody follows anything: every pick of every subscriber asks
    of = follows.author_of
    by = [
        follows.author_names[j]
        for j in of.indices[of.indptr[r] : of.indptr[r + 1]].tolist()
        if c in follows.author_hit_sets[j]
    ]
    if by:
        reasons.append("by: " + ", ".join(dict.fromkeys(by[:3])))
    of = follows.category_of
    cats = [
        follows.category_names[j]
        for j in of.indices[of.indptr[r] : of.indptr[r + 1]].tolist()
        if c in follows.category_hit_sets[j]
    ]
    if cats:
        reasons.append("in: " + ", ".join(cats[:3]))
    return reasons
