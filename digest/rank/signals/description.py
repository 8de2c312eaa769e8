"""Signal ``description``: TF-IDF cosine of the paper and the subscriber's description.

May import the batch and the matrix helpers.
"""

from __future__ import annotations

import numpy as np

from ..batch import Batch, Chunk
from ..matrices import Floats, add_scaled


def add(batch: Batch, chunk: Chunk, num: Floats, denom: Floats) -> None:
    w = batch.weights
    n = len(chunk.rows)
    desc = batch.desc_onehot[chunk.rows]
    has_desc = np.diff(desc.indptr) > 0
    if not has_desc.any():
        return
    add_scaled(num, desc @ batch.desc_sim, np.full(n, w.description, dtype=np.float32))
    denom += has_desc * np.float32(w.description)
