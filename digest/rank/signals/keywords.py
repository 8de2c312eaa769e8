"""Signals ``keyword_match`` and ``keyword_similarity``: the subscriber's weighted keywords.

keyword_match is the weighted count of keywords and phrases found as words in the paper,
h / (1 + h) with h = Σ hit·weight / largest weight, where a hit is the term's specificity
in the store's corpus (:mod:`digest.rank.specificity`), halved outside the title
(``candidates.ABSTRACT_HIT``; one full-weight specific hit in the title: 0.5; "models": 0);
keyword_similarity the TF-IDF cosine of the paper and the weighted sum of the keywords.
One module for both: they share the profile's keywords and its weight in the denominator.
May import the batch and the matrix helpers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..batch import Batch, Chunk
from ..matrices import Floats, add_scaled

# The keyword evidence h from which a paper may be sent on keywords alone. 0.4 lets through
# a full-weight keyword in the title if its specificity is at least 0.4 (in at most ~30% of
# the store's papers: "vision" on the shared listings, 26%, but not "code", 39%), or in the
# abstract if at least 0.8 (in at most ~9%); a keyword of a third of the profile's largest
# weight ("coverage" next to "conformal prediction^3") never alone, two of them in a title
# together. Measured on the shared listings (tests/test_rank_specific.py reproduces the
# three profiles of issue 13): 0.3 sent the "Code coverage…" paper to the conformal
# profile on its 1/3-weight "coverage" title hit.
KEYWORD_FLOOR = 0.4


def add(batch: Batch, chunk: Chunk, num: Floats, denom: Floats) -> None:
    """Both signals; ``chunk.strong`` where the keyword evidence h reaches KEYWORD_FLOOR."""
    w = batch.weights
    n = len(chunk.rows)
    kw = batch.kw_weight[chunk.rows]
    has_kw = np.diff(kw.indptr) > 0
    if not has_kw.any():
        return
    hits = sp.csr_matrix(kw @ batch.kw_hits)
    enough = sp.coo_matrix(hits >= KEYWORD_FLOOR)
    chunk.strong[enough.row, enough.col] = True
    hits.data = hits.data / (1 + hits.data)  # saturates: one full-weight hit is 0.5
    add_scaled(num, hits, np.full(n, w.keyword_match, dtype=np.float32))
    norm = batch.kw_norm[chunk.rows]
    scale = np.float32(w.keyword_similarity) / np.where(norm > 0, norm, 1)
    add_scaled(num, kw @ batch.kw_sim, scale.astype(np.float32))
    denom += has_kw * np.float32(w.keyword_match + w.keyword_similarity)
