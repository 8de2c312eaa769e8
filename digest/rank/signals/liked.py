"""Signals ``liked_mean`` and ``liked_nearest``: cosines of the paper and the liked papers.

liked_mean is the mean TF-IDF cosine of the paper and the liked papers (their centroid),
liked_nearest the cosine of its nearest liked paper. One module for both: one pass over the
chunk's shared rated × candidate cosines computes the two. May import the batch.

One "more like this" vote moves the profile, it does not take it over: both weights grow
with the number of liked papers up to LIKED_FULL_VOTES, and a paper is sent on its liked
papers alone only when its nearest one is at least LIKED_FLOOR close.
"""

from __future__ import annotations

import numpy as np

from ..batch import Batch, Chunk
from ..matrices import Floats

# Liked papers from which they weigh fully in the score (fewer: pro rata). Semantic
# Scholar's feeds need about 5 positive ratings to get good.
LIKED_FULL_VOTES = 5
# The cosine to the nearest liked paper from which a paper may be sent on that alone: a real
# similarity, so that one vote adds only the voted paper's close neighbours. Measured with
# benchmarks/eval_ranking.py on 53 real researchers (README, "floors"), share of the
# papers they rated relevant / unrelated that pass: one own paper liked, 0.15: 7% / 0%
# (0.1: 14% / 5%); five own papers, 0.15: 22% / 2% (0.1: 52% / 14%). Summing the cosines
# of the agreeing votes instead let more unrelated papers through at every recall (0.25:
# 22% / 5%). A digest sends a few papers of ~100 a day: it may miss relevant ones, it
# should not send unrelated ones. The votes' weight in the score grows with their number
# (LIKED_FULL_VOTES).
LIKED_FLOOR = 0.15


def add(batch: Batch, chunk: Chunk, num: Floats, denom: Floats) -> None:
    w = batch.weights
    liked_local = chunk.liked_local
    if not liked_local.shape[1]:
        return
    n, n_cand = num.shape
    n_liked = np.array([len(batch.liked[r]) for r in chunk.rows], dtype=np.float32)
    total = np.zeros((n, n_cand), dtype=np.float32)
    nearest = np.zeros((n, n_cand), dtype=np.float32)
    for j in range(liked_local.shape[1]):  # the j-th liked paper of every subscriber
        block = chunk.rated_sim[liked_local[:, j]]
        total += block
        np.maximum(nearest, block, out=nearest)
    chunk.strong |= nearest >= np.float32(LIKED_FLOOR)
    trust = np.minimum(n_liked / np.float32(LIKED_FULL_VOTES), 1).astype(np.float32)
    total *= (np.float32(w.liked_mean) * trust / np.maximum(n_liked, 1))[:, None]
    nearest *= (np.float32(w.liked_nearest) * trust)[:, None]
    num += total
    num += nearest
    denom += trust * np.float32(w.liked_mean + w.liked_nearest)
