"""What callers hand the ranker: each subscriber's :class:`Interest` and the :class:`ScoreWeights`.

Plain frozen dataclasses; may import :mod:`digest.records` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..records import Keyword, Paper


@dataclass(frozen=True)
class ScoreWeights:
    """The weights of the score's signals (see :mod:`digest.rank.signals`): one field each.

    Chosen with benchmarks/eval_ranking.py --sweep: cosines to liked papers are small
    numbers (0.05-0.3) next to a keyword hit (0.5), so liked papers weigh more to be heard
    (keyword_match 2 instead of 0.5: full-profile nDCG@10 0.40 instead of 0.43). Their mean
    (a centroid) ranks a topic better than the single nearest one, which still counts so
    that a second interest or a near-duplicate is not averaged away.
    """

    keyword_match: float = 0.5
    keyword_similarity: float = 0.5
    description: float = 0.5
    liked_mean: float = 2.0
    liked_nearest: float = 0.5
    classifier: float = 1.0
    disliked: float = 0.5
    upvotes: float = 0.1
    # A followed author is the most specific thing a profile says; a followed category
    # holds a hundred papers a day, so it counts for less (issue 13).
    author: float = 1.0
    category: float = 0.5


DEFAULT_WEIGHTS = ScoreWeights()


@dataclass(frozen=True)
class Interest:
    """What the ranker knows about one subscriber.

    ``liked`` and ``disliked`` are papers of any date (they need not be candidates);
    ``seen`` holds ids never to offer again: already sent, liked or disliked.
    """

    key: int  # the subscriber's id: rank() returns the picks under it
    keywords: tuple[Keyword, ...] = ()
    exclude: tuple[str, ...] = ()
    description: str = ""
    liked: tuple[Paper, ...] = ()
    disliked: tuple[Paper, ...] = ()
    seen: frozenset[str] = frozenset()
    min_score: float = 0.05
    limit: int = 10
    authors: tuple[str, ...] = ()  # followed authors as typed (see digest.follows)
    categories: tuple[str, ...] = ()  # followed arXiv categories or archives
    exclude_categories: tuple[str, ...] = ()  # a paper in one is never offered
