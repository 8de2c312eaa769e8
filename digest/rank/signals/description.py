"""Signal ``description``: TF-IDF cosine of the paper and the subscriber's description.

May import the batch and the matrix helpers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..batch import Batch, Chunk
from ..matrices import Bools, Floats, add_scaled

# The cosine from which a paper is close enough to the description to be sent on it alone.
# Measured with benchmarks/eval_ranking.py on 53 real researchers, a paper title standing
# for a one-line description: 0.1 lets through 10% of relevant and 5% of unrelated papers
# (0.05: 17% / 9%). A description is a weak signal alone; keywords do the sending.
DESCRIPTION_FLOOR = 0.1


def add(batch: Batch, chunk: Chunk, num: Floats, denom: Floats, strong: Bools) -> None:
    w = batch.weights
    n = len(chunk.rows)
    desc = batch.desc_onehot[chunk.rows]
    has_desc = np.diff(desc.indptr) > 0
    if not has_desc.any():
        return
    sims = sp.csr_matrix(desc @ batch.desc_sim)
    close = sp.coo_matrix(sims >= DESCRIPTION_FLOOR)
    strong[close.row, close.col] = True
    add_scaled(num, sims, np.full(n, w.description, dtype=np.float32))
    denom += has_desc * np.float32(w.description)
