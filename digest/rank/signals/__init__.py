"""The registry of ranking signals: one module per ingredient of the score.

Every signal is on a 0..1 scale, so one ``min_score`` default makes sense whatever a
profile holds. :func:`digest.rank.scoring.score_chunk` iterates the two registries below::

    relevance = Σ wᵢ·signalᵢ / Σ wᵢ (over the signals this profile has)  −  w_disliked · disliked
    score     = relevance · (1 + w_upvotes · popularity)                  (when relevance > 0)

RELEVANCE signals add ``weight · signal`` to the numerator and ``weight`` to the
denominator, for the subscribers of the chunk that have what they need (keywords, a
description, rated papers), and set ``chunk.strong`` where their evidence alone would send
the paper (a specific keyword hit, a description or liked paper closer than a floor, each
floor named and measured in its module): a paper no signal marks is never sent, whatever
its score. A signal that is specific by nature (a followed author or arXiv category)
lists its ``hits(batch, rows)`` in SPECIFIC instead: every paper it fires on may be sent.
One that only orders papers (classifier) marks none.
ADJUSTMENTS then change the normalised relevance in place.
Both run in registry order, which fixes the float operations and so every score.

    keywords     keyword_match, keyword_similarity   (keywords.py)
    description  description                         (description.py)
    liked        liked_mean, liked_nearest           (liked.py)
    classifier   classifier                          (classifier.py)
    authors      author     (a followed author)      (authors.py, specific: hits())
    categories   category   (a followed category)    (categories.py, specific: hits())
    disliked     disliked                            (disliked.py, adjustment)
    upvotes      upvotes                             (upvotes.py, adjustment)

Each weight is a field of :class:`digest.rank.inputs.ScoreWeights`. A signal module may
import the batch, the matrix helpers and scikit-learn; never another signal, the scorer
or anything outside digest.rank.
"""

from __future__ import annotations

from collections.abc import Callable

import scipy.sparse as sp

from ..batch import Batch, Chunk
from ..matrices import Floats
from . import authors, categories, classifier, description, disliked, keywords, liked, upvotes

# (batch, chunk, numerator, denominator): add weight·signal and weight, rows of the chunk,
# and set ``chunk.strong`` where this signal alone is specific and strong enough to send.
Relevance = Callable[[Batch, Chunk, Floats, Floats], None]
# (batch, chunk, score): change the chunk's normalised relevance in place.
Adjustment = Callable[[Batch, Chunk, Floats], None]

RELEVANCE: tuple[Relevance, ...] = (
    keywords.add,
    description.add,
    liked.add,
    classifier.add,
    authors.add,
    categories.add,
)
# Signals whose hit alone says why a paper is worth sending (issue 13's send gate):
# (batch, rows) -> rows × candidates, nonzero where the signal fired.
Specific = Callable[[Batch, list[int]], sp.csr_matrix]
SPECIFIC: tuple[Specific, ...] = (
    authors.hits,
    categories.hits,
)
ADJUSTMENTS: tuple[Adjustment, ...] = (
    disliked.adjust,
    upvotes.adjust,
)
