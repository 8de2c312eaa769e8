"""Signal ``upvotes``: a small prior for popular papers, log1p(upvotes) / log1p(1000) ≤ 1.

An adjustment: a positive relevance is multiplied by 1 + weight · popularity (the batch
computes each candidate's popularity). May import the batch.
"""

from __future__ import annotations

import numpy as np

from ..batch import Batch, Chunk
from ..matrices import Floats


def adjust(batch: Batch, chunk: Chunk, score: Floats) -> None:
    boost = (1 + np.float32(batch.weights.upvotes) * batch.popularity)[None, :]
    np.multiply(score, boost, out=score, where=score > 0)
