"""Signal ``disliked``: minus the TF-IDF cosine of the paper and its nearest disliked paper.

An adjustment: subtracted from the relevance after it is normalised. May import the batch.
"""

from __future__ import annotations

import numpy as np

from ..batch import Batch, Chunk
from ..matrices import Floats


def adjust(batch: Batch, chunk: Chunk, score: Floats) -> None:
    disliked_local = chunk.disliked_local
    if not disliked_local.shape[1]:
        return
    nearest_bad = np.zeros(score.shape, dtype=np.float32)
    for j in range(disliked_local.shape[1]):
        np.maximum(nearest_bad, chunk.rated_sim[disliked_local[:, j]], out=nearest_bad)
    nearest_bad *= np.float32(batch.weights.disliked)
    score -= nearest_bad
