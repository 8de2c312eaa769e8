"""Memory bounds of the batched ranking: how big a block of work may get.

Results never depend on these numbers, only peak memory and speed do (the tests shrink
them and compare). They are read as ``budgets.NAME`` at call time, never imported by
name, so that one assignment here changes every user. Imports nothing.
"""

from __future__ import annotations

CELL_BUDGET = 4_000_000  # subscriber × candidate cells per chunk (16 MB per float32 array)
MAX_DENSE_CANDIDATES = 8_000  # above this, candidate-candidate cosines are computed per chunk
RATED_CELL_BUDGET = 150_000_000  # rated-paper × candidate cells kept for a whole call
RATED_CACHE_CELLS = (
    100_000_000  # rated-paper × candidate cells a Ranker keeps across calls (400 MB)
)
TRANSFORM_BLOCK = 4096  # documents per block of the fast TF-IDF transform
