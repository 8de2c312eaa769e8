"""Rank candidate papers for every subscriber at once, and say why each was picked.

Pure functions over matrices: no database, clock or network here, and one module with disk
I/O (:mod:`~digest.rank.model_cache`, which keeps the fitted TF-IDF model). Subscribers are
ranked together: their profiles become sparse matrices (subscribers × keywords, × rated
papers, × descriptions) multiplied against the candidates in chunks, so the cost per extra
subscriber is a few sparse row products, not a model fit. Then maximal marginal relevance
picks a diverse digest and every pick gets its reasons.

Modules, each importing only those above it (and :mod:`digest.records`, ``errors``,
``files``, ``text`` — never store, render or run)::

    budgets      memory bounds of the batched code (results never depend on them)
    terms        keywords and phrases matched as whole words; the term index
    specificity  how common a term is in the stored corpus (kept with the fitted model)
    vectorizing  the TF-IDF recipe, fitting it, the fast tokenizer/counts transform
    matrices     sparse/dense helpers
    inputs       Interest, ScoreWeights
    candidates   what a ranking derives once from its candidates (Candidates)
    followed     followed authors and categories as matrices
    batch        what a set of interests derives once (Batch) and per chunk (Chunk)
    signals/     one module per ingredient of the score, and their registry
    scoring      combines the registered signals into a chunk's scores
    mmr          diversity: maximal marginal relevance
    reasons      why each pick was chosen
    ranking      rank(): the flow of one call; Ranker: prepared once, called per slice
    model_cache  the fitted model on disk (uses digest.files for its atomic writes)

Adding a ranking signal (see :mod:`digest.rank.signals` for the score formula):

1. Write ``signals/<name>.py`` with ``add(batch, chunk, num, denom)``: add weight · signal
   (0..1) to ``num`` and the weight to ``denom`` for the chunk's rows that have the input,
   and set ``chunk.strong`` where it alone is enough to send the paper (or, for a signal
   specific by nature, list its ``hits(batch, rows)`` in ``SPECIFIC``) —
   or, to change the normalised score instead, ``adjust(batch, chunk, score)``.
2. Add ``<name>.add`` to ``RELEVANCE`` (or ``<name>.adjust`` to ``ADJUSTMENTS``) in
   ``signals/__init__.py``, and a line to the table there.
3. Add its weight to :class:`ScoreWeights` (``inputs.py``).
4. Per-subscriber input it needs: a field of :class:`Interest`, turned into a matrix once
   per call in ``batch.build_batch``. To name it in a pick's reasons: ``reasons.py``.
5. Tune the weight with ``benchmarks/eval_ranking.py --sweep``; check speed with
   ``benchmarks/bench_rank.py``.
"""

from __future__ import annotations

from .inputs import DEFAULT_WEIGHTS, Interest, ScoreWeights
from .model_cache import load_or_fit
from .ranking import Ranker, rank
from .terms import matches_term
from .vectorizing import (
    STOP_WORDS,
    TOKEN_PATTERN,
    build_vectorizer,
    doc_frequency_bounds,
    fit_model,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "STOP_WORDS",
    "TOKEN_PATTERN",
    "Interest",
    "Ranker",
    "ScoreWeights",
    "build_vectorizer",
    "doc_frequency_bounds",
    "fit_model",
    "load_or_fit",
    "matches_term",
    "rank",
]
