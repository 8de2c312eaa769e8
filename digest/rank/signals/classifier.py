"""Signal ``classifier``: a per-subscriber LinearSVC once there is enough feedback.

With ≥5 liked and ≥3 disliked papers, a LinearSVC fitted on those papers only; the signal
is the paper's projection on the unit normal of its hyperplane. May import the batch.
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import LinearSVC

from ..batch import Batch, Chunk
from ..matrices import Floats

# Semantic Scholar's feeds need about this much feedback before a classifier helps.
CLASSIFIER_MIN_LIKED = 5
CLASSIFIER_MIN_DISLIKED = 3
# With a handful of papers in tens of thousands of dimensions LinearSVC separates anything;
# a small C keeps it close to the (balanced) liked-minus-disliked direction.
CLASSIFIER_C = 0.1


def has_classifier(batch: Batch, r: int) -> bool:
    """Whether subscriber ``r`` rated enough papers for a classifier."""
    return (
        len(batch.liked[r]) >= CLASSIFIER_MIN_LIKED
        and len(batch.disliked[r]) >= CLASSIFIER_MIN_DISLIKED
    )


def add(batch: Batch, chunk: Chunk, num: Floats, denom: Floats) -> None:
    """Adds to the score only: a paper is sent on the liked papers' own floor (liked.py)."""
    w = batch.weights
    for i, r in enumerate(chunk.rows):
        if has_classifier(batch, r):
            num[i] += np.float32(w.classifier) * _classifier(
                batch, batch.liked[r], batch.disliked[r]
            )
            denom[i] += np.float32(w.classifier)


def _classifier(batch: Batch, liked: list[int], disliked: list[int]) -> Floats:
    """A LinearSVC on one subscriber's rated papers, scored on the candidates."""
    labelled = batch.rated_x[liked + disliked]
    # Only words of the labelled papers can get a weight (the L2 solution lies in their
    # span), so fit on those columns: the same model, without a vocabulary-wide weight vector.
    cols = np.unique(labelled.indices)
    y = np.r_[np.ones(len(liked)), np.zeros(len(disliked))]
    svm = LinearSVC(
        penalty="l2",
        loss="squared_hinge",
        dual=True,
        tol=1e-4,
        C=CLASSIFIER_C,
        multi_class="ovr",
        fit_intercept=True,
        intercept_scaling=1.0,
        class_weight="balanced",
        verbose=0,
        random_state=0,
        max_iter=1000,
    ).fit(labelled[:, cols], y)
    w = svm.coef_.ravel().astype(np.float32)
    norm = float(np.linalg.norm(w))
    if norm == 0.0 or len(cols) == 0:
        return np.zeros(len(batch.candidates), dtype=np.float32)
    # Without the intercept: a direction in TF-IDF space, on the cosines' scale.
    return np.asarray(batch.xt[cols].T @ (w / np.float32(norm)), dtype=np.float32).ravel()
