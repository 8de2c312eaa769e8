"""Signal ``category``: 1 when the paper is in an arXiv category (or archive) the
subscriber follows, else 0.

A followed category is a specific signal (the send gate may rest on it): :func:`hits` says
where it fired. Excluded categories are not a signal: the batch blocks those papers
(:mod:`digest.rank.followed`). May import the batch and the matrix helpers.
"""

from __future__ import annotations

import scipy.sparse as sp

from ..batch import Batch, Chunk
from ..followed import followed_hits
from ..matrices import Floats
from .follow_signal import add_follow_signal


def hits(batch: Batch, rows: list[int]) -> sp.csr_matrix:
    """rows × candidates, nonzero where the candidate is in a followed category."""
    return followed_hits(batch.follows, rows, authors=False)


def add(batch: Batch, chunk: Chunk, num: Floats, denom: Floats) -> None:
    add_follow_signal(batch, chunk, num, denom, authors=False)
