"""The public entry point, :func:`rank`: every subscriber at once, chunk by chunk; and
:class:`Ranker`, the same prepared once for a day's candidates and called per slice.

Owns the flow of one call: build the batch, then per chunk of subscribers score
(:mod:`~digest.rank.scoring`), threshold, choose by MMR (:mod:`~digest.rank.mmr`) and give
reasons (:mod:`~digest.rank.reasons`). May import the rank modules and :mod:`digest.records`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from ..records import Paper, Pick
from . import budgets
from .batch import build_batch, chunk_of
from .candidates import Candidates, prepare_candidates
from .inputs import DEFAULT_WEIGHTS, Interest, ScoreWeights
from .matrices import Floats, Ints
from .mmr import mmr
from .reasons import picks_with_reasons
from .scoring import score_chunk


def rank(
    vectorizer: TfidfVectorizer,
    candidates: Sequence[Paper],
    interests: Sequence[Interest],
    *,
    diversity: float = 0.7,
    include_below_threshold: bool = False,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
) -> dict[int, list[Pick]]:
    """Rank ``candidates`` for each interest: ``interest.key`` (subscriber id) -> picks, best first.

    Drops each subscriber's ``seen`` (and liked and disliked) papers and papers with an
    ``exclude`` term in their title or abstract, scores the rest (see
    :mod:`digest.rank.signals`), keeps those scoring at least ``min_score`` that some signal
    alone supports (a specific keyword hit, a close liked paper or description) and chooses at
    most ``limit`` of them by maximal marginal relevance with ``diversity`` as lambda (1.0:
    by score alone, lower: less alike). Every pick has at least one reason.

    With ``include_below_threshold`` papers under ``min_score`` are kept too: after the
    picks the threshold lets through, the rest by score, still at most ``limit`` (pass a
    large limit to see every candidate that is not seen or excluded).

    Raises ValueError for a ``diversity`` outside 0..1. To rank many interests against the
    same candidates a few at a time, prepare a :class:`Ranker` once instead.
    """
    ranker = Ranker(
        vectorizer,
        candidates,
        diversity=diversity,
        include_below_threshold=include_below_threshold,
        weights=weights,
        calls=1,
    )
    return ranker.rank(interests)


class Ranker:
    """:func:`rank` prepared once for ``candidates``: :meth:`rank` ranks any set of
    interests against them, each interest exactly as :func:`rank` would among any others.

    What depends only on the candidates (their vectors, word indexes and cosines, the
    model's tables: :mod:`~digest.rank.candidates`) is built here, once; what a set of
    interests needs (:class:`~digest.rank.batch.Batch`) is built per call and freed with
    it, but for the rated papers' vectors and cosines, kept for later calls unless
    ``calls`` says there is only one. Raises ValueError for a ``diversity`` outside 0..1.
    """

    def __init__(
        self,
        vectorizer: TfidfVectorizer,
        candidates: Sequence[Paper],
        *,
        diversity: float = 0.7,
        include_below_threshold: bool = False,
        weights: ScoreWeights = DEFAULT_WEIGHTS,
        calls: int | None = None,
    ) -> None:
        if not 0.0 <= diversity <= 1.0:
            raise ValueError(f"diversity is {diversity!r}; expected a number from 0.0 to 1.0")
        self.diversity = diversity
        self.include_below_threshold = include_below_threshold
        self.weights = weights
        self.candidates: Candidates | None = (
            prepare_candidates(vectorizer, candidates, keep_rated=calls != 1)
            if candidates
            else None
        )

    def rank(self, interests: Sequence[Interest]) -> dict[int, list[Pick]]:
        """``interest.key`` (subscriber id) -> picks, best first (see :func:`rank`)."""
        result: dict[int, list[Pick]] = {i.key: [] for i in interests}
        cands = self.candidates
        if cands is None or not interests:
            return result
        batch = build_batch(cands, interests, self.weights)
        # Subscribers with as many rated papers share a chunk, so its padding stays short.
        order = sorted(
            range(len(interests)), key=lambda r: (len(batch.liked[r]), len(batch.disliked[r]))
        )
        step = max(1, budgets.CELL_BUDGET // len(cands.papers))
        for start in range(0, len(order), step):
            rows = order[start : start + step]
            chunk = chunk_of(batch, rows)
            score, strong = score_chunk(batch, chunk)
            limits = np.array([max(interests[r].limit, 0) for r in rows], dtype=np.intp)
            floor = np.array([interests[r].min_score for r in rows], dtype=np.float32)
            eligible = strong & np.isfinite(score) & (score >= floor[:, None])
            chosen = mmr(batch, score, eligible, limits, self.diversity)
            counts = (chosen >= 0).sum(axis=1)
            if self.include_below_threshold:
                chosen, counts = _append_rest(score, chosen, counts)
                counts = np.minimum(counts, limits)
            for r, picks in picks_with_reasons(batch, chunk, score, chosen, counts):
                result[interests[r].key] = picks
        return result


def _append_rest(score: Floats, chosen: Ints, counts: Ints) -> tuple[Ints, Ints]:
    """After the picks, every other unblocked candidate by score (ties: candidate order)."""
    n, n_cand = score.shape
    out = np.full((n, n_cand), -1, dtype=np.intp)
    totals = np.zeros(n, dtype=np.intp)
    by_score = np.argsort(-score, axis=1, kind="stable")
    for i in range(n):
        head = chosen[i, : counts[i]]
        taken = np.zeros(n_cand, dtype=bool)
        taken[head] = True
        rest = by_score[i][~taken[by_score[i]] & np.isfinite(score[i, by_score[i]])]
        row = np.concatenate([head, rest])
        out[i, : len(row)] = row
        totals[i] = len(row)
    return out, totals
