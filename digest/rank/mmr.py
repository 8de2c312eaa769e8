"""Diversity: maximal marginal relevance (MMR) over each subscriber's best candidates.

``diversity`` is MMR's lambda and the TF-IDF cosine between candidates the redundancy.
May import the batch and the matrix helpers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .batch import Batch
from .matrices import Floats, Ints, dense_product

POOL_EXTRA = 10  # MMR chooses among the best 3 × limit + POOL_EXTRA candidates


def sims_to(batch: Batch, picked: Ints, pool: Ints) -> Floats:
    """Cosines between each row's picked candidate and the candidates of its pool."""
    if batch.cand_sim is not None:
        return batch.cand_sim[picked[:, None], pool]
    rows = dense_product(batch.x[picked], batch.xt)
    return np.take_along_axis(rows, pool, axis=1)


def mmr(
    batch: Batch, score: Floats, eligible: npt.NDArray[np.bool_], limits: Ints, diversity: float
) -> Ints:
    """Maximal marginal relevance: rows × max(limits) candidate indices, -1 past the end.

    Each step takes the candidate maximising ``diversity·relevance − (1−diversity)·(its
    largest cosine to those already taken)``, among the best 3·limit + POOL_EXTRA.
    """
    n, n_cand = score.shape
    most = min(int(limits.max(initial=0)), n_cand)
    chosen = np.full((n, most), -1, dtype=np.intp)
    if most == 0:
        return chosen
    size = min(n_cand, 3 * most + POOL_EXTRA)
    work = np.where(eligible, score, -np.inf)
    if size < n_cand:
        pool = np.sort(np.argpartition(-work, size - 1, axis=1)[:, :size], axis=1)
    else:
        pool = np.tile(np.arange(n_cand), (n, 1))
    # Best first, ties by candidate order, so a subscriber ranks the same in any batch.
    pool_score = np.take_along_axis(work, pool, axis=1)
    order = np.argsort(-pool_score, axis=1, kind="stable")
    pool = np.take_along_axis(pool, order, axis=1)
    pool_score = np.take_along_axis(pool_score, order, axis=1)
    avail = np.isfinite(pool_score)
    # Relevance relative to the subscriber's best, so lambda means the same for any profile.
    top = pool_score[:, :1]
    relevance = np.where(avail, pool_score / np.where(np.isfinite(top) & (top > 0), top, 1), 0)
    redundancy = np.zeros_like(relevance)
    r = np.arange(n)
    for step in range(most):
        avail &= (step < limits)[:, None]
        if not avail.any():
            break
        mmr = np.where(avail, diversity * relevance - (1 - diversity) * redundancy, -np.inf)
        best = np.argmax(mmr, axis=1)
        taken = avail[r, best]
        picked = pool[r, best]
        chosen[taken, step] = picked[taken]
        avail[r, best] = False
        if diversity < 1:
            np.maximum(redundancy, sims_to(batch, picked, pool), out=redundancy)
    return chosen
