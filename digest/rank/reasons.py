"""Reasons: why each pick was chosen, in the subscriber's own words.

"matches: program synthesis" names the specific keywords found in the paper (never a
term most papers contain, see :mod:`digest.rank.specificity`), "like: GraphCodeBERT"
the nearest liked paper when close; otherwise a weaker reason (a related keyword, the
description's words, the classifier). May import the batch, the matrix helpers, the
classifier and description signals (whether one ran, its floor) and :mod:`digest.records`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..records import MATCHES_PREFIX, Pick
from . import budgets
from .batch import Batch, Chunk
from .followed import follow_reasons
from .matrices import Floats, Ints
from .signals.classifier import has_classifier
from .signals.description import DESCRIPTION_FLOOR

LIKE_REASON_MIN = 0.1  # cosine from which the nearest liked paper is worth naming


def _short_title(title: str) -> str:
    """A liked paper's name for a reason: the part before ":" or its first six words."""
    head, colon, _ = title.partition(":")
    if colon and 0 < len(head.split()) <= 6:
        return head.strip()
    words = title.split()
    return " ".join(words[:6]) + "…" if len(words) > 6 else " ".join(words)


def _like_reason(batch: Batch, rated: int) -> str:
    reason = batch.like_reasons.get(rated)
    if reason is None:
        reason = batch.like_reasons[rated] = "like: " + _short_title(batch.rated[rated].title)
    return reason


def _description_words(batch: Batch, d: int, c: int) -> list[str]:
    """The description's terms that weigh most in candidate ``c``."""
    q = batch.desc_vectors[d]
    x = batch.x[c]
    common, qi, xi = np.intersect1d(q.indices, x.indices, return_indices=True)
    if not len(common):
        return []
    strength = q.data[qi] * x.data[xi]
    words: list[str] = []
    for j in np.argsort(-strength, kind="stable"):
        term = batch.desc_terms[d].get(int(common[j]), "")
        if term and not any(term in t or t in term for t in words):
            words.append(term)
        if len(words) == 3:
            break
    return words


def _related_keyword(batch: Batch, r: int, c: int) -> str:
    """The subscriber's keyword closest to candidate ``c`` in TF-IDF space, if any."""
    best, name = 0.0, ""
    sims = batch.kw_sim
    for k, text in batch.kw_display[r]:
        if not batch.kw_named[k]:
            continue
        start, end = sims.indptr[k], sims.indptr[k + 1]
        at = start + int(np.searchsorted(sims.indices[start:end], c))
        if at < end and sims.indices[at] == c and sims.data[at] > best:
            best, name = float(sims.data[at]), text
    return name


def _weaker_reasons(batch: Batch, r: int, c: int) -> tuple[str, ...]:
    """Why ``c`` was picked when no keyword is in it and no liked paper is close."""
    d = batch.desc_of[r]
    close = d >= 0 and batch.desc_sim[d, c] >= DESCRIPTION_FLOOR
    # Sent on the description: its own words say why.
    if close and (words := _description_words(batch, d, c)):
        return ("about: " + ", ".join(words),)
    if related := _related_keyword(batch, r, c):
        return ("related to: " + related,)
    if d >= 0:
        words = _description_words(batch, d, c)
        return ("about: " + ", ".join(words) if words else "close to your description",)
    if has_classifier(batch, r):
        return ("close to papers you rated up",)
    return ("no match with your profile",)


def _nearest_liked(chunk: Chunk, order: Ints) -> tuple[Ints, Floats]:
    """For each pick: which of the subscriber's liked papers is nearest, and its cosine."""
    n, width = order.shape
    at = np.zeros((n, width), dtype=np.intp)
    value = np.zeros((n, width), dtype=np.float32)
    liked = chunk.liked_local
    if not liked.shape[1] or not width:
        return at, value
    safe = np.where(order >= 0, order, 0)
    step = max(1, budgets.CELL_BUDGET // (liked.shape[1] * width))
    for start in range(0, n, step):
        part = slice(start, start + step)
        sims = chunk.rated_sim[liked[part, :, None], safe[part, None, :]]
        at[part] = np.argmax(sims, axis=1)
        value[part] = np.max(sims, axis=1)
    return at, value


def picks_with_reasons(
    batch: Batch, chunk: Chunk, scores: Floats, order: Ints, counts: Ints
) -> Iterator[tuple[int, list[Pick]]]:
    """Picks with reasons for each subscriber of the chunk, best first.

    ``order`` holds each row's chosen candidates (``counts`` of them valid). Reasons name
    the keywords found in the paper and, if close, the nearest liked paper (this runs for
    every pick of every subscriber, so it only looks things up).
    """
    like_at, like_value = _nearest_liked(chunk, order)
    ids = [p.id for p in batch.candidates]
    hit_sets = batch.kw_hit_sets
    for i, r in enumerate(chunk.rows):
        n = int(counts[i])
        cands = order[i, :n]
        # Only specific keywords are named: "matches: models" says nothing.
        keywords = [(hit_sets[k], text) for k, text in batch.kw_display[r] if batch.kw_named[k]]
        liked = batch.liked[r]
        picks = []
        for c, score, at, value in zip(
            cands.tolist(),
            scores[i, cands].tolist(),
            like_at[i, :n].tolist(),
            like_value[i, :n].tolist(),
            strict=True,
        ):
            reasons = follow_reasons(batch.follows, r, c)  # "by: LeCun", "in: cs.CL"
            matched = [text for hits, text in keywords if c in hits]
            if matched:
                reasons.append(MATCHES_PREFIX + ", ".join(matched[:3]))
            if value > 0 and (value >= LIKE_REASON_MIN or not reasons):
                reasons.append(_like_reason(batch, liked[at]))
            picks.append(
                Pick(ids[c], score, tuple(reasons) if reasons else _weaker_reasons(batch, r, c))
            )
        yield r, picks
