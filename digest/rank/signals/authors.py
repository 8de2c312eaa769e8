"""Signal ``author``: 1 when the paper is by an author the subscriber follows, else 0.

A followed author is a specific signal (the send gate may rest on it): :func:`hits` says
where it fired. The matching (names normalised, initials) is in :mod:`digest.follows`, the
matrices in :mod:`digest.rank.followed`. May import the batch and the matrix helpers.
"""

from __future__ import annotations

import scipy.sparse as sp

from ..batch import Batch, Chunk
from ..followed import followed_hits
from ..matrices import Floats
from .follow_signal import add_follow_signal


def hits(batch: Batch, rows: list[int]) -> sp.csr_matrix:
    """rows × candidates, nonzero where a followed author wrote the candidate."""
    return followed_hits(batch.follows, rows, authors=True)


def add(batch: Batch, chunk: Chunk, num: Floats, denom: Floats) -> None:
    add_follow_signal(batch, chunk, num, denom, authors=True)
