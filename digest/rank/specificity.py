"""How specific a term is in the stored corpus: :class:`TermFrequencies` and its specificity.

A hit on a word most papers contain ("models") says nothing about a paper; a hit on one
few contain ("conformal prediction") says much. Specificity is measured over the whole
store's papers (the corpus the TF-IDF model is fitted on, counted once per fit by
:func:`term_frequencies`), never over one day's candidates: on a day of 35 code-generation
papers "code generation" is in every candidate but still rare in the store, so it stays a
reason to send them. Pure functions; imports only :mod:`digest.rank.terms`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from .terms import term_words, word_set, word_stream

# specificity(share f of the store's papers containing a term) =
#   log(1/f) / log(1/SPECIFIC_FRACTION), capped to 0..1.
# A term in at most 1 paper in 20 is fully specific. In a store of the 275 papers of the
# three shared daily-papers listings (benchmarks/eval_ranking.py prints these): "models"
# (in 98% of them) 0.04, "large" (64%) 0.18, "learning" (49%) 0.27, "code" (39%) 0.34,
# "vision" (26%) 0.48, "llm" (17%) 0.63; "speech", "diffusion", "code generation" (3-4%)
# and "coverage" (0.4%) 1.0. "free" (3%) is as rare as "diffusion": no frequency tells
# them apart, so a word used only inside a compound is handled where descriptions are
# read (digest.rank.batch).
SPECIFIC_FRACTION = 0.05
# A store of fewer papers cannot show how common a term is: shares are counted as if it
# held this many (the extra papers without the term). Three days of a daily-papers listing:
# on a store holding only the 35-paper code-generation case, "code generation" (in all 35)
# is then in 12% (specificity 0.72) instead of 100% (0.0), and is still sent.
SPECIFICITY_MIN_DOCS = 300
# From this specificity on a term counts as evidence and may be named in a reason (a share
# of at most ~41% of the store): "matches: models" or "about: learning" is no reason.
SPECIFIC_MIN = 0.3

# What a small or single-topic store cannot show: words common in any research abstract.
# Measured: the words (matching form: casefolded, singular) in at least 20% of the papers
# of both general corpora we have, 1,000 arXiv abstracts of all fields and the 929 papers
# of reviewer-match (the smaller of the two shares, rounded). A store's own share counts
# when larger. "ml" and "ai" name the whole field of a machine-learning digest: a paper
# mentioning them is not about a topic (their shares in the corpora, 1-2%, cannot show it).
GENERIC_SHARES: dict[str, float] = {
    "model": 0.56,
    "method": 0.38,
    "data": 0.38,
    "learning": 0.36,
    "task": 0.36,
    "based": 0.35,
    "paper": 0.34,
    "result": 0.33,
    "propose": 0.33,
    "dataset": 0.32,
    "performance": 0.30,
    "work": 0.30,
    "using": 0.29,
    "training": 0.28,
    "problem": 0.25,
    "state": 0.25,
    "use": 0.24,
    "experiment": 0.24,
    "new": 0.24,
    "approach": 0.24,
    "demonstrate": 0.23,
    "large": 0.22,
    "present": 0.22,
    "information": 0.22,
    "neural": 0.21,
    "different": 0.21,
    "ml": 0.5,
    "ai": 0.5,
}


def specificity_of_share(share: float) -> float:
    """Specificity 0..1 of a term in ``share`` (0..1) of the papers (see SPECIFIC_FRACTION)."""
    if share <= SPECIFIC_FRACTION:
        return 1.0
    return max(0.0, min(1.0, math.log(1 / share) / math.log(1 / SPECIFIC_FRACTION)))


@dataclass(frozen=True)
class TermFrequencies:
    """Document frequencies of the store's common words and word pairs.

    ``counts`` maps a word, or two neighbouring words joined by a space (matching form, see
    :func:`digest.rank.terms.term_words`), to the number of the ``n_docs`` papers containing
    it; only terms in more than SPECIFIC_FRACTION of the papers are kept (any other term is
    fully specific), so the table stays small whatever the store's size.
    """

    n_docs: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def share(self, part: str) -> float:
        """Share (0..1) of the papers containing ``part`` (a word or a word pair)."""
        own = self.counts.get(part, 0) / max(self.n_docs, SPECIFICITY_MIN_DOCS)
        return max(own, GENERIC_SHARES.get(part, 0.0))

    def specificity(self, term: str) -> float:
        """How specific keyword or phrase ``term`` is, 0..1 (0 for a term with no words).

        A phrase is in at most as many papers as its rarest word or word pair, so its
        specificity is at least theirs: the largest of them is used.
        """
        words = term_words(term)
        if not words:
            return 0.0
        parts = [*words, *(" ".join(p) for p in pairwise(words))]
        return max(specificity_of_share(self.share(p)) for p in parts)

    def is_specific(self, term: str) -> bool:
        """Whether a hit on ``term`` counts as evidence and may be named in a reason."""
        return self.specificity(term) >= SPECIFIC_MIN


def term_frequencies(texts: Iterable[str]) -> TermFrequencies:
    """Count the common words and word pairs of ``texts`` (the store's ``Paper.text``).

    Two passes over the texts: words, then the pairs of two common words (a pair is in no
    more papers than either word). Time linear in the texts' length.
    """
    docs: Sequence[str] = texts if isinstance(texts, Sequence) else list(texts)
    memo: dict[str, str] = {}
    words: Counter[str] = Counter()
    for text in docs:
        words.update(word_set(text, memo))
    n = len(docs)
    keep = SPECIFIC_FRACTION * max(n, SPECIFICITY_MIN_DOCS)
    common = {w for w, c in words.items() if c > keep}
    pairs: Counter[str] = Counter()
    for text in docs:
        stream = word_stream(text, memo)
        pairs.update({f"{a} {b}" for a, b in pairwise(stream) if a in common and b in common})
    counts = {w: words[w] for w in common}
    counts.update({p: c for p, c in pairs.items() if c > keep})
    return TermFrequencies(n_docs=n, counts=counts)
