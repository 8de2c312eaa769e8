"""Signals ``liked_mean`` and ``liked_nearest``: cosines of the paper and the liked papers.

liked_mean is the mean TF-IDF cosine of the paper and the liked papers (their centroid),
liked_nearest the cosine of its nearest liked paper. One module for both: one pass over the
chunk's shared rated × candidate cosines computes the two. May import the batch.
"""

from __future__ import annotations

import numpy as np

from ..batch import Batch, Chunk
from ..matrices import Floats


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
    total *= (np.float32(w.liked_mean) / np.maximum(n_liked, 1))[:, None]
    nearest *= np.float32(w.liked_nearest)
    num += total
    num += nearest
    denom += (n_liked > 0) * np.float32(w.liked_mean + w.liked_nearest)
