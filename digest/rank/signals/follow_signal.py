"""What the ``author`` and ``category`` signals share: 1 where a followed one fired, else 0.

Each adds ``weight · hit`` to the numerator and, for subscribers who follow any, ``weight``
to the denominator, so a subscriber who follows none is not pulled down by the signal.
"""

from __future__ import annotations

import numpy as np

from ..batch import Batch, Chunk
from ..followed import followed_hits
from ..matrices import Floats, add_scaled


def add_follow_signal(
    batch: Batch, chunk: Chunk, num: Floats, denom: Floats, *, authors: bool
) -> None:
    """Add the followed-author (``authors=True``) or followed-category signal of ``chunk``.

    ``num`` and ``denom`` are the chunk's rows × candidates numerator and its per-row
    denominator (float32), changed in place; the weight is ``batch.weights.author`` or
    ``batch.weights.category``.
    """
    follows = batch.follows
    of = follows.author_of if authors else follows.category_of
    has = np.diff(of[chunk.rows].indptr) > 0
    if not has.any():
        return
    found = followed_hits(follows, chunk.rows, authors=authors)
    found.data = np.minimum(found.data, 1)
    weight = np.float32(batch.weights.author if authors else batch.weights.category)
    add_scaled(num, found, np.full(len(chunk.rows), weight, dtype=np.float32))
    denom += has * weight
