"""Signal ``description``: TF-IDF cosine of the paper and the subscriber's description.

May import the batch and the matrix helpers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..batch import Batch, Chunk
from ..matrices import Floats, add_scaled

# The cosine from which a paper is close enough to the description to be sent on it alone.
# Measured with benchmarks/eval_ranking.py on 53 real researchers, the title of their
# newest paper standing for a one-line description (README, "floors"): 0.2 lets through 3%
# of the papers they rated relevant and 0% of those rated unrelated (0.15: 6% / 4%; 0.1:
# 10% / 5%). A description is a weak signal alone; keywords and liked papers do most of
# the sending, the description mostly orders what they let through.
DESCRIPTION_FLOOR = 0.2


def add(batch: Batch, chunk: Chunk, num: Floats, denom: Floats) -> None:
    w = batch.weights
    n = len(chunk.rows)
    desc = batch.desc_onehot[chunk.rows]
    has_desc = np.diff(desc.indptr) > 0
    if not has_desc.any():
        return
    sims = sp.csr_matrix(desc @ batch.desc_sim)
    close = sp.coo_matrix(sims >= DESCRIPTION_FLOOR)
    chunk.strong[close.row, close.col] = True
    add_scaled(num, sims, np.full(n, w.description, dtype=np.float32))
    denom += has_desc * np.float32(w.description)
