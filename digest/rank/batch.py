"""What one batch of interests derives once (:class:`Batch`) and per chunk of subscribers.

The batch turns every interest into matrices against the prepared candidates
(:mod:`~digest.rank.candidates`, whose vectors it shares): subscribers × keywords,
× descriptions, × rated papers, and what each subscriber may not be offered. Signals, MMR
and reasons only read it. May import :mod:`digest.records` and the rank modules below it
(inputs, terms, vectorizing, matrices, budgets, candidates, followed); never signals,
scoring or anything outside rank.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from ..records import Paper
from . import budgets
from .candidates import Candidates
from .followed import Follows, build_follows
from .inputs import Interest, ScoreWeights
from .matrices import Bools, Floats, Ints, csr, padded
from .specificity import SPECIFIC_MIN, TermFrequencies
from .terms import term_key
from .vectorizing import Vectorize, corpus_frequencies

_COMPOUND = re.compile(r"\w+(?:-\w+)+")
_WORD = re.compile(r"\w+")


def _compound_parts(text: str) -> set[str]:
    """Words of ``text`` found only inside hyphenated compounds ("free" of
    "distribution-free"): alone they are not what the text is about."""
    low = text.casefold()
    inside = {w for c in _COMPOUND.findall(low) for w in c.split("-")}
    alone = set(_WORD.findall(_COMPOUND.sub(" ", low)))
    return inside - alone


def _description_terms(
    description: str,
    analyzer: Callable[[str], list[str]],
    vocabulary: dict[str, int],
    freqs: TermFrequencies,
) -> dict[int, str]:
    """The description's terms a reason may name: vocabulary column -> term.

    Only specific terms (see :mod:`digest.rank.specificity`), and no word the description
    uses only inside a compound ("free" of "distribution-free").
    """
    parts = _compound_parts(description)
    return {
        vocabulary[t]: t
        for t in analyzer(description)
        if t in vocabulary and t not in parts and freqs.is_specific(t)
    }


def description_vectors(
    vectorizer: TfidfVectorizer, descriptions: Sequence[str], vectorize: Vectorize | None = None
) -> tuple[sp.csr_matrix, list[dict[int, str]]]:
    """descriptions × vocabulary TF-IDF vectors of their specific terms, and those terms.

    A description's generic words ("models", "ML", "free" of "distribution-free") are
    dropped from its vector (not renormalised: a description of generic words is far from
    everything), so a paper is not close to it for sharing them. Used by the description
    signal and by benchmarks/eval_ranking.py, which measures its floor.
    """
    vectorize = vectorize or Vectorize(vectorizer)
    freqs = corpus_frequencies(vectorizer)
    analyzer = vectorizer.build_analyzer()
    terms = [_description_terms(d, analyzer, vectorizer.vocabulary_, freqs) for d in descriptions]
    vectors = vectorize(list(descriptions)).tocoo()
    keep = np.array(
        [int(c) in terms[r] for r, c in zip(vectors.row, vectors.col, strict=True)], dtype=bool
    )
    kept = sp.csr_matrix(
        (vectors.data[keep], (vectors.row[keep], vectors.col[keep])), shape=vectors.shape
    )
    return kept, terms


# A rated (liked or disliked) paper is a signal only when its TF-IDF vector holds at least
# this many distinct specific words (unigrams of the model's vocabulary, which keeps words of
# at least two papers, with specificity >= SPECIFIC_MIN, digest.rank.specificity): a
# title-only library entry such as "Huge v" or "Another study of fish" (stop words out) has
# one or two, so every paper sharing one of them looked close to it. A real abstract has
# dozens; a real title alone ("Diffusion transformers for speech synthesis") three or four.
RATED_MIN_SPECIFIC_WORDS = 3
# A candidate is close to a rated paper only when the two share at least this many specific
# words: one shared word ("fish", "huge") is a coincidence of vocabulary, not a topic. Two
# keeps a paper's close neighbours, which share many (tests/test_rank_specific.py).
RATED_MIN_SHARED_WORDS = 2


def specific_words(
    vectorizer: TfidfVectorizer,
    rated_x: sp.csr_matrix,
    x: sp.csr_matrix,
    specific: Floats | None = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The specific words of the rated papers (rated × vocabulary, 1 per word; the row of
    a paper with fewer than RATED_MIN_SPECIFIC_WORDS left empty) and of the candidates
    (vocabulary × candidates, only the rated papers' words). Specificity is looked up
    only for the rated papers' words, unless ``specific`` gives it (per vocabulary term:
    1 for a rated paper's specific word, else 0; see :meth:`Candidates.specific_columns`)."""
    if specific is None:
        specific = np.zeros(rated_x.shape[1], dtype=np.float32)
        if rated_x.shape[0] and x.shape[0]:
            freqs = corpus_frequencies(vectorizer)
            names = vectorizer.get_feature_names_out()
            for col in np.unique(rated_x.indices).tolist():
                term = str(names[col])
                if " " not in term and freqs.is_specific(term):
                    specific[col] = 1
    words = sp.csr_matrix(rated_x, copy=True)
    words.data = specific[words.indices]
    words.eliminate_zeros()
    enough = np.diff(words.indptr) >= RATED_MIN_SPECIFIC_WORDS
    for row in np.flatnonzero(~enough).tolist():
        words.data[words.indptr[row] : words.indptr[row + 1]] = 0
    words.eliminate_zeros()
    cand = sp.csr_matrix(x, copy=True)
    cand.data = specific[cand.indices]
    cand.eliminate_zeros()
    return words, cand.T.tocsr()


def rated_cosines(
    rated_x: sp.csr_matrix, xt: sp.csr_matrix, words: sp.csr_matrix, cand_words_t: sp.csr_matrix
) -> Floats:
    """rated × candidates cosines, then a zero row, kept only where the candidate shares
    RATED_MIN_SHARED_WORDS of the rated paper's specific words (:func:`specific_words`);
    built in row blocks as :func:`digest.rank.matrices.dense_product` does, so the shared
    counts never exist whole."""
    rows = rated_x.shape[0]
    out = np.zeros((rows + 1, xt.shape[1]), dtype=np.float32)
    step = max(1, budgets.CELL_BUDGET // max(xt.shape[1], 1))
    for start in range(0, rows, step):
        end = min(start + step, rows)
        block = (rated_x[start:end] @ xt).toarray()
        shared = (words[start:end] @ cand_words_t).toarray()
        block[shared < RATED_MIN_SHARED_WORDS] = 0
        out[start:end] = block
    return out


def rated_overlap(
    vectorizer: TfidfVectorizer, rated_x: sp.csr_matrix, x: sp.csr_matrix
) -> sp.csr_matrix:
    """rated × candidates, 1 where a rated paper may count as close to a candidate (see
    :func:`rated_cosines`), else no entry: for tests and benchmarks."""
    words, cand_words_t = specific_words(vectorizer, rated_x, x)
    shared = sp.csr_matrix(words @ cand_words_t)
    shared.data = (shared.data >= RATED_MIN_SHARED_WORDS).astype(np.float32)
    shared.eliminate_zeros()
    return shared


@dataclass
class Batch:
    """What one batch of interests derives once against the prepared candidates (whose
    vectors, popularity and cosines it holds too, shared, not copied).

    Distinct keywords, exclusions, descriptions and rated papers are numbered in sorted
    order, so a subscriber's rows hold the same numbers in the same order whether ranked
    alone or with others, and their scores are computed by the same float operations.
    """

    candidates: list[Paper]
    weights: ScoreWeights
    x: sp.csr_matrix  # candidates × vocabulary
    xt: sp.csr_matrix  # vocabulary × candidates
    popularity: Floats  # per candidate
    cand_sim: Floats | None  # candidates × candidates cosines, if not too many candidates
    kw_weight: sp.csr_matrix  # subscribers × keywords: weight / the profile's largest weight
    kw_norm: Floats  # per subscriber: norm of Σ weight·tfidf(keyword)
    kw_hits: sp.csr_matrix  # keywords × candidates: hit strength where found as words
    kw_hit_sets: list[frozenset[int]]  # where found, per keyword
    kw_named: Ints  # per keyword: 1 if specific enough to name in a reason
    kw_sim: sp.csr_matrix  # keywords × candidates: tfidf(keyword) · tfidf(candidate)
    kw_display: list[list[tuple[int, str]]]  # per subscriber: (keyword, as typed), best first
    desc_onehot: sp.csr_matrix  # subscribers × descriptions
    desc_vectors: sp.csr_matrix  # descriptions × vocabulary
    desc_sim: sp.csr_matrix  # descriptions × candidates
    desc_terms: list[dict[int, str]]  # per description: vocabulary column -> specific term
    desc_of: list[int]  # per subscriber, -1 for none
    rated: list[Paper]  # liked or disliked by someone
    rated_x: sp.csr_matrix  # rated × vocabulary
    rated_sim: Floats | None  # rated × candidates, then a zero row; None: per chunk
    rated_words: sp.csr_matrix  # rated × vocabulary: specific words (see specific_words)
    cand_words_t: sp.csr_matrix  # vocabulary × candidates: their specific words
    liked: list[list[int]]  # per subscriber, into rated
    disliked: list[list[int]]
    blocked: sp.csr_matrix  # subscribers × candidates: seen or excluded
    follows: Follows  # followed authors and categories, excluded categories
    like_reasons: dict[int, str] = field(default_factory=dict)  # rated -> "like: …"


def build_batch(cands: Candidates, interests: Sequence[Interest], weights: ScoreWeights) -> Batch:
    """The batch of ``interests`` against the prepared candidates ``cands``."""
    vectorizer, vectorize = cands.vectorizer, cands.vectorize
    candidates, n_cand, position = cands.papers, len(cands.papers), cands.position
    x, xt = cands.x, cands.xt
    offered = frozenset(position)

    keys: dict[str, str] = {}  # text as typed -> _term_key, computed once per distinct text
    for i in interests:
        for text in (*(k.text for k in i.keywords if k.weight > 0), *i.exclude):
            if text not in keys:
                keys[text] = term_key(text)
    kw_keys = sorted({keys[k.text] for i in interests for k in i.keywords if k.weight > 0} - {""})
    kw_pos = {k: j for j, k in enumerate(kw_keys)}
    ex_keys = sorted({keys[t] for i in interests for t in i.exclude} - {""})
    ex_pos = {k: j for j, k in enumerate(ex_keys)}
    descs = sorted({i.description.strip() for i in interests} - {""})
    desc_pos = {d: j for j, d in enumerate(descs)}
    rated_by_id: dict[str, Paper] = {}
    for i in interests:
        for p in (*i.liked, *i.disliked):
            rated_by_id.setdefault(p.id, p)
    rated = [rated_by_id[k] for k in sorted(rated_by_id)]
    rated_pos = {p.id: j for j, p in enumerate(rated)}

    kw_rows: list[list[tuple[int, float]]] = []
    kw_display: list[list[tuple[int, str]]] = []
    desc_of: list[int] = []
    liked: list[list[int]] = []
    disliked: list[list[int]] = []
    ex_rows: list[list[tuple[int, float]]] = []
    seen_rows: list[list[tuple[int, float]]] = []
    for interest in interests:
        best: dict[int, tuple[float, str]] = {}
        for k in interest.keywords:
            j = kw_pos.get(keys.get(k.text, ""), -1)
            if j >= 0 and (j not in best or k.weight > best[j][0]):
                best[j] = (k.weight, k.text.strip())
        top = max((w for w, _ in best.values()), default=1.0)
        kw_rows.append([(j, best[j][0] / top) for j in sorted(best)])
        kw_display.append([(j, t) for j, (_, t) in sorted(best.items(), key=lambda e: -e[1][0])])
        desc_of.append(desc_pos.get(interest.description.strip(), -1))
        liked.append(sorted({rated_pos[p.id] for p in interest.liked}))
        disliked.append(sorted({rated_pos[p.id] for p in interest.disliked}))
        excluded_terms = {ex_pos[keys[t]] for t in interest.exclude if keys[t] in ex_pos}
        ex_rows.append([(j, 1.0) for j in sorted(excluded_terms)])
        # A subscriber's seen set grows every day: intersect it with the candidates in C.
        never = interest.seen & offered
        never |= {p.id for p in (*interest.liked, *interest.disliked)} & offered
        seen_rows.append([(c, 1.0) for c in sorted(position[i] for i in never)])

    kw_weight = csr(kw_rows, len(kw_keys))
    kw = cands.keywords(kw_keys)
    combined = kw_weight @ kw.vectors
    kw_norm = np.sqrt(np.asarray(combined.multiply(combined).sum(axis=1)).ravel())
    excluded = csr(ex_rows, len(ex_keys)) @ cands.hit_matrix(ex_keys)
    follows = build_follows(candidates, interests)
    blocked = sp.csr_matrix(csr(seen_rows, n_cand) + excluded + follows.excluded)

    desc_vectors, desc_terms = description_vectors(vectorizer, descs, vectorize)
    rated_x = cands.rated_vectors(rated)
    specific = cands.specific_columns(rated_x.indices) if rated else None
    rated_words, cand_words_t = specific_words(vectorizer, rated_x, x, specific)
    small = (len(rated) + 1) * n_cand <= budgets.RATED_CELL_BUDGET
    return Batch(
        candidates=candidates,
        weights=weights,
        x=x,
        xt=xt,
        popularity=cands.popularity,
        cand_sim=cands.cand_sim,
        kw_weight=kw_weight,
        kw_norm=kw_norm.astype(np.float32),
        kw_hits=kw.hits,
        kw_hit_sets=kw.hit_sets,
        kw_named=(kw.specificity >= SPECIFIC_MIN).astype(np.intp),
        kw_sim=kw.sim,
        kw_display=kw_display,
        desc_onehot=csr([[(d, 1.0)] if d >= 0 else [] for d in desc_of], len(descs)),
        desc_vectors=desc_vectors,
        desc_sim=sp.csr_matrix(desc_vectors @ xt),
        desc_terms=desc_terms,
        desc_of=desc_of,
        rated=rated,
        rated_x=rated_x,
        rated_sim=_rated_sim(cands, rated, rated_x, rated_words, cand_words_t) if small else None,
        rated_words=rated_words,
        cand_words_t=cand_words_t,
        liked=liked,
        disliked=disliked,
        blocked=blocked,
        follows=follows,
    )


def _rated_sim(
    cands: Candidates,
    rated: list[Paper],
    rated_x: sp.csr_matrix,
    words: sp.csr_matrix,
    cand_words_t: sp.csr_matrix,
) -> Floats:
    """:func:`rated_cosines` of the batch's rated papers; a :class:`Candidates` that
    keeps them computes each paper's row once, while budgets.RATED_CACHE_CELLS holds them
    (a row depends on its paper alone: the shared words counted are its own)."""
    if not cands.keep_rated:
        return rated_cosines(rated_x, cands.xt, words, cand_words_t)
    memo = cands.rated_sims
    out = np.zeros((len(rated) + 1, len(cands.papers)), dtype=np.float32)
    todo: list[int] = []
    for j, paper in enumerate(rated):
        row = memo.get(paper.id)
        if row is None:
            todo.append(j)
        else:
            out[j] = row
    if todo:
        sims = rated_cosines(rated_x[todo], cands.xt, words[todo], cand_words_t)
        out[todo] = sims[:-1]
        room = budgets.RATED_CACHE_CELLS // max(len(cands.papers), 1) - len(memo)
        for k, j in enumerate(todo[: max(room, 0)]):
            memo[rated[j].id] = sims[k].copy()
    return out


@dataclass
class Chunk:
    """A chunk of subscribers, and the rated × candidate cosines their signals share."""

    rows: list[int]  # subscribers (indices into the interests)
    rated_sim: Floats  # rated papers × candidates, last row zero
    liked_local: Ints  # chunk × most liked: rows of rated_sim (pad: the zero row)
    disliked_local: Ints  # chunk × most disliked: rows of rated_sim (pad: the zero row)
    # chunk × candidates: some signal alone is specific and strong enough to send the paper
    # (the signals set it, see digest.rank.signals).
    strong: Bools


def chunk_of(batch: Batch, rows: list[int]) -> Chunk:
    """The chunk of ``rows``: its liked and disliked papers as rows of its cosine matrix."""
    rated_sim, liked, disliked = _chunk_rated(batch, rows)
    pad = rated_sim.shape[0] - 1
    return Chunk(
        rows=rows,
        rated_sim=rated_sim,
        liked_local=padded(liked, pad),
        disliked_local=padded(disliked, pad),
        strong=np.zeros((len(rows), len(batch.candidates)), dtype=np.bool_),
    )


def _chunk_rated(batch: Batch, rows: list[int]) -> tuple[Floats, list[list[int]], list[list[int]]]:
    """The rated × candidate cosines a chunk needs, and its liked/disliked rows in them."""
    if batch.rated_sim is not None:
        return batch.rated_sim, [batch.liked[r] for r in rows], [batch.disliked[r] for r in rows]
    used = sorted({j for r in rows for j in (*batch.liked[r], *batch.disliked[r])})
    local = {j: n for n, j in enumerate(used)}
    sims = rated_cosines(batch.rated_x[used], batch.xt, batch.rated_words[used], batch.cand_words_t)
    return (
        sims,
        [[local[j] for j in batch.liked[r]] for r in rows],
        [[local[j] for j in batch.disliked[r]] for r in rows],
    )
