"""Matching keywords and phrases as whole words: :func:`matches_term` and the term index.

Owns the word rule every keyword and exclusion follows (whole words, case-insensitive,
plurals ignored, a phrase's words adjacent). Pure functions over text; imports nothing
from digest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

_WORD = re.compile(r"\w+")
# Any punctuation but a hyphen ends a phrase: "a program. Synthesis" is no "program synthesis".
_PHRASE_BREAK = re.compile(r"[^\w\s-]+")
_STREAM = re.compile(r"\w+|[^\w\s-]+")


def _singular(word: str) -> str:
    """Drop a plural ending, so "transformer" matches "transformers" (both sides get this)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def segments(text: str, memo: dict[str, str] | None = None) -> list[list[str]]:
    """The text's words, split where punctuation breaks a phrase."""
    memo = {} if memo is None else memo
    return [
        [memo.get(w) or memo.setdefault(w, _singular(w)) for w in _WORD.findall(part)]
        for part in _PHRASE_BREAK.split(text.casefold())
    ]


def word_stream(text: str, memo: dict[str, str]) -> list[str]:
    """The words of ``text`` in matching form, in order, with a punctuation mark (never a
    word) where :func:`segments` would break a phrase: neighbours here are its word pairs."""
    return [
        memo.get(w) or memo.setdefault(w, _singular(w)) for w in _STREAM.findall(text.casefold())
    ]


def word_set(text: str, memo: dict[str, str]) -> set[str]:
    """The distinct words of ``text`` in matching form (the words of :func:`segments`)."""
    return {memo.get(w) or memo.setdefault(w, _singular(w)) for w in _WORD.findall(text.casefold())}


def term_words(term: str) -> tuple[str, ...]:
    """A keyword's words as matching compares them (casefolded, singular)."""
    return tuple(_singular(w) for w in _WORD.findall(term.casefold()))


def _has_phrase(segs: list[list[str]], words: tuple[str, ...]) -> bool:
    n = len(words)
    first = words[0]
    for seg in segs:
        for i in range(len(seg) - n + 1):
            if seg[i] == first and tuple(seg[i : i + n]) == words:
                return True
    return False


def matches_term(term: str, text: str) -> bool:
    """Whether ``term`` occurs in ``text`` as whole words, case-insensitively.

    "vision" does not match "supervision"; a phrase's words must follow each other with only
    whitespace or hyphens between them ("program synthesis" matches "program-synthesis").
    A plural ending is ignored on both sides ("vision" matches "visions").
    """
    words = term_words(term)
    return bool(words) and _has_phrase(segments(text), words)


def term_key(text: str) -> str:
    """A keyword or exclusion as typed, reduced to what matching looks at (case, spacing)."""
    return " ".join(text.casefold().split())


class TermIndex:
    """Which candidates contain which words, to match many keywords at once."""

    def __init__(self, texts: Sequence[str]) -> None:
        memo: dict[str, str] = {}
        self._segments = [segments(t, memo) for t in texts]
        postings: dict[str, list[int]] = {}
        for i, segs in enumerate(self._segments):
            for word in {w for seg in segs for w in seg}:
                postings.setdefault(word, []).append(i)
        self._postings = {w: frozenset(ids) for w, ids in postings.items()}
        self._pairs: dict[int, frozenset[tuple[str, str]]] = {}

    def _adjacent(self, i: int) -> frozenset[tuple[str, str]]:
        """Text ``i``'s pairs of neighbouring words, built when a phrase first asks."""
        pairs = self._pairs.get(i)
        if pairs is None:
            pairs = frozenset(pair for seg in self._segments[i] for pair in pairwise(seg))
            self._pairs[i] = pairs
        return pairs

    def hits(self, term: str) -> list[int]:
        """Sorted indices of the texts that contain ``term`` (see :func:`matches_term`)."""
        words = term_words(term)
        if not words:
            return []
        sets = sorted((self._postings.get(w, frozenset()) for w in set(words)), key=len)
        found = sets[0].intersection(*sets[1:])
        if len(words) > 1:
            pairs = list(pairwise(words))
            found = frozenset(
                i
                for i in found
                if all(p in self._adjacent(i) for p in pairs)
                and (len(words) == 2 or _has_phrase(self._segments[i], words))
            )
        return sorted(found)
