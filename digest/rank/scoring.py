"""The scorer: every registered signal, weighted and combined, for a chunk of subscribers.

Owns the combination (numerator / denominator, then adjustments, then blocking what a
subscriber must not be offered); the signals themselves are in :mod:`digest.rank.signals`.
May import the batch and the signal registry.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .batch import Batch, Chunk
from .matrices import Bools, Floats
from .signals import ADJUSTMENTS, RELEVANCE, SPECIFIC


def score_chunk(batch: Batch, chunk: Chunk) -> tuple[Floats, Bools]:
    """chunk × candidates scores (see :mod:`digest.rank.signals`), -inf where seen or
    excluded, and whether some signal alone is strong enough to send the paper."""
    n, n_cand = len(chunk.rows), len(batch.candidates)
    num = np.zeros((n, n_cand), dtype=np.float32)
    denom = np.zeros(n, dtype=np.float32)
    for add in RELEVANCE:
        add(batch, chunk, num, denom)
    strong = chunk.strong
    for fired in SPECIFIC:  # specific by nature: wherever they fire
        hits = sp.coo_matrix(fired(batch, chunk.rows))
        strong[hits.row[hits.data > 0], hits.col[hits.data > 0]] = True
    score = num
    score *= (1 / np.where(denom > 0, denom, 1)).astype(np.float32)[:, None]
    for adjust in ADJUSTMENTS:
        adjust(batch, chunk, score)
    blocked = sp.coo_matrix(batch.blocked[chunk.rows])
    score[blocked.row, blocked.col] = -np.inf
    return score, strong
