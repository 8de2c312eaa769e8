"""Rank candidate papers for every subscriber at once, and say why each was picked.

Pure functions over matrices: no database, disk or clock here (:mod:`digest.model_cache`
keeps the fitted TF-IDF model on disk). Every signal is on a 0..1 scale, so one
``min_score`` default makes sense whatever a profile holds::

    relevance = Σ wᵢ·signalᵢ / Σ wᵢ (over the signals this profile has)  −  w_disliked · disliked
    score     = relevance · (1 + w_upvotes · popularity)                  (when relevance > 0)

    keyword_match       weighted count of keywords/phrases found as words in the paper,
                        h / (1 + h) with h = Σ hit·weight / max weight  (one hit: 0.5)
    keyword_similarity  TF-IDF cosine of the paper and the weighted sum of the keywords
    description         TF-IDF cosine of the paper and the description
    liked_mean          mean TF-IDF cosine of the paper and the liked papers
    liked_nearest       TF-IDF cosine of the paper and its nearest liked paper
    classifier          ≥5 liked and ≥3 disliked: a LinearSVC fitted on those papers only;
                        the paper's projection on the unit normal of its hyperplane
    disliked            TF-IDF cosine of the paper and its nearest disliked paper
    popularity          log1p(upvotes) / log1p(1000), at most 1

Then diversity: maximal marginal relevance (MMR) over the best candidates, with
``diversity`` as its lambda and the TF-IDF cosine between candidates as redundancy.

Subscribers are ranked together: their profiles become sparse matrices (subscribers ×
keywords, × rated papers, × descriptions) that are multiplied against the candidates in
chunks, so the cost per extra subscriber is a few sparse row products, not a model fit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise, repeat

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from .errors import DigestError
from .records import Keyword, Paper, Pick

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.intp]

# Tokens of two or more word characters with at least one letter: "3d", "t5" and "gpt4"
# are words, "2023" and "10" are not (numbers only add noise to similarities).
TOKEN_PATTERN = r"(?u)\b(?=\w*[^\W\d_])\w\w+\b"
# scikit-learn's English list drops a few words that name research topics.
STOP_WORDS: tuple[str, ...] = tuple(
    sorted(ENGLISH_STOP_WORDS - {"computer", "system", "interest", "bottom", "top", "detail"})
)
# Vocabulary pruning, measured with benchmarks/eval_ranking.py --sweep (1,000 arXiv papers):
# - min_df=1 ranks worst (full profile nDCG@10 0.40-0.42 against 0.43-0.44 for 2 or 5):
#   a term of one paper relates no two papers but dilutes every cosine. So min_df is 2,
#   and 5 (arxiv-sanity's) from 10,000 papers on, which also bounds the bigram vocabulary.
# - max_df from 0.05 to 1.0 changed nDCG@10 by less than the noise (±0.02), but with 0.1
#   (arxiv-sanity's) the rated × candidate products are 79% instead of 99% dense and take
#   half the time. A fraction alone would starve small corpora (10 papers × 0.1 = words of
#   one paper), so a term may always be in MAX_DF_MIN_DOCS papers.
# - bigrams: within the noise too; kept so that phrases ("program synthesis") have their
#   own dimension for keyword and description similarity.
MAX_DF = 0.1
MAX_DF_MIN_DOCS = 10
MIN_DF_LARGE = 5
MIN_DF_LARGE_FROM = 10_000
MAX_FEATURES = 1_000_000


@dataclass(frozen=True)
class ScoreWeights:
    """The weights of the score's signals (see the module docstring).

    Chosen with benchmarks/eval_ranking.py --sweep: cosines to liked papers are small
    numbers (0.05-0.3) next to a keyword hit (0.5), so liked papers weigh more to be heard
    (keyword_match 2 instead of 0.5: full-profile nDCG@10 0.40 instead of 0.43). Their mean
    (a centroid) ranks a topic better than the single nearest one, which still counts so
    that a second interest or a near-duplicate is not averaged away.
    """

    keyword_match: float = 0.5
    keyword_similarity: float = 0.5
    description: float = 0.5
    liked_mean: float = 2.0
    liked_nearest: float = 0.5
    classifier: float = 1.0
    disliked: float = 0.5
    upvotes: float = 0.1


DEFAULT_WEIGHTS = ScoreWeights()
# Semantic Scholar's feeds need about this much feedback before a classifier helps.
CLASSIFIER_MIN_LIKED = 5
CLASSIFIER_MIN_DISLIKED = 3
# With a handful of papers in tens of thousands of dimensions LinearSVC separates anything;
# a small C keeps it close to the (balanced) liked-minus-disliked direction.
CLASSIFIER_C = 0.1
UPVOTES_FULL = 1000  # upvotes at which the popularity prior is full
LIKE_REASON_MIN = 0.1  # cosine from which the nearest liked paper is worth naming
POOL_EXTRA = 10  # MMR chooses among the best 3 × limit + POOL_EXTRA candidates
CELL_BUDGET = 4_000_000  # subscriber × candidate cells per chunk (16 MB per float32 array)
MAX_DENSE_CANDIDATES = 8_000  # above this, candidate-candidate cosines are computed per chunk
RATED_CELL_BUDGET = 150_000_000  # rated-paper × candidate cells kept for a whole call


@dataclass(frozen=True)
class Interest:
    """What the ranker knows about one subscriber.

    ``liked`` and ``disliked`` are papers of any date (they need not be candidates);
    ``seen`` holds ids never to offer again: already sent, liked or disliked.
    """

    key: str  # opaque to the ranker: the subscriber's email
    keywords: tuple[Keyword, ...] = ()
    exclude: tuple[str, ...] = ()
    description: str = ""
    liked: tuple[Paper, ...] = ()
    disliked: tuple[Paper, ...] = ()
    seen: frozenset[str] = frozenset()
    min_score: float = 0.05
    limit: int = 10


def doc_frequency_bounds(n_docs: int) -> tuple[int, int]:
    """``(min_df, max_df)`` as document counts for a corpus of ``n_docs`` papers."""
    min_df = 1 if n_docs < 5 else MIN_DF_LARGE if n_docs >= MIN_DF_LARGE_FROM else 2
    max_df = max(math.floor(MAX_DF * n_docs), MAX_DF_MIN_DOCS, min_df)
    return min_df, max_df


def build_vectorizer(n_docs: int = MIN_DF_LARGE_FROM) -> TfidfVectorizer:
    """An unfitted TF-IDF vectorizer, every parameter spelled out, for ``n_docs`` papers."""
    min_df, max_df = doc_frequency_bounds(n_docs)
    return TfidfVectorizer(
        input="content",
        encoding="utf-8",
        decode_error="strict",
        # arXiv text is nearly all ASCII; Unicode accent stripping costs 25% of transform time.
        strip_accents=None,
        lowercase=True,
        preprocessor=None,
        tokenizer=None,
        analyzer="word",
        stop_words=list(STOP_WORDS),
        token_pattern=TOKEN_PATTERN,
        # Bigrams give phrases ("program synthesis") their own dimension.
        ngram_range=(1, 2),
        max_df=max_df,
        min_df=min_df,
        max_features=MAX_FEATURES,
        vocabulary=None,
        binary=False,
        dtype=np.float32,  # halves memory; cosines need no more precision
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,  # a word said ten times is not ten times the topic
    )


def fit_model(texts: Sequence[str]) -> TfidfVectorizer:
    """Fit the TF-IDF model on the stored corpus (``Paper.text`` of every paper)."""
    docs = [t for t in texts if t.strip()]
    vectorizer = build_vectorizer(len(docs))
    try:
        vectorizer.fit(docs)
    except ValueError:
        # Too few papers share a word to survive pruning: keep every word instead.
        vectorizer = build_vectorizer(len(docs)).set_params(min_df=1, max_df=1.0)
        try:
            vectorizer.fit(docs)
        except ValueError as exc:
            raise DigestError(
                f"cannot fit the ranking model: the {len(texts)} stored papers have no words "
                "to learn from; ingest a listing first (digest ingest FILE)"
            ) from exc
    if hasattr(vectorizer, "stop_words_"):
        del vectorizer.stop_words_  # older scikit-learn: every pruned term, only bloats the cache
    return vectorizer


# -- fast TF-IDF transform --------------------------------------------------------------


_ASCII_NON_WORD = str.maketrans(
    {chr(i): " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}
)
TRANSFORM_BLOCK = 4096  # documents per block of the fast transform


def _fast_tokenizer(vectorizer: TfidfVectorizer) -> Callable[[str], list[str]] | None:
    """The vectorizer's tokens after stop words, without per-token regex cost, or None.

    None when the vectorizer is not of the shape :func:`build_vectorizer` makes (lowercase
    word n-grams up to bigrams, no custom preprocessor or tokenizer): then its own transform
    is used.
    """
    p = vectorizer.get_params()
    if (
        p["input"] != "content"
        or p["analyzer"] != "word"
        or p["preprocessor"] is not None
        or p["tokenizer"] is not None
        or p["strip_accents"] is not None
        or not p["lowercase"]
        or p["ngram_range"] not in ((1, 1), (1, 2))
    ):
        return None
    pattern = re.compile(p["token_pattern"])
    if pattern.groups:
        return None  # scikit-learn takes a group's text; keep to its own analyzer then
    findall = pattern.findall
    stop = frozenset(vectorizer.get_stop_words() or ())
    ours = p["token_pattern"] == TOKEN_PATTERN

    def tokenize(doc: str) -> list[str]:
        doc = doc.lower()
        if ours and doc.isascii():
            # TOKEN_PATTERN's tokens are the runs of 2+ word characters with a letter; in
            # ASCII text, splitting on everything else finds them 2.4 times faster.
            return [
                t
                for t in doc.translate(_ASCII_NON_WORD).split()
                if len(t) > 1 and t not in stop and t.strip("0123456789_")
            ]
        return [t for t in findall(doc) if t not in stop]

    return tokenize


class _FastCounts:
    """Term counts as ``CountVectorizer`` makes them, with the bigram lookups in numpy.

    scikit-learn joins every pair of neighbouring tokens into a string and looks it up in
    the vocabulary; with word ids, the pairs become integers searched in a sorted array.
    """

    def __init__(self, vectorizer: TfidfVectorizer, tokenize: Callable[[str], list[str]]):
        self.tokenize = tokenize
        self.n_terms = len(vectorizer.vocabulary_)
        self.word_ids: dict[str, int] = {}
        unigrams: list[tuple[int, int]] = []
        bigrams: list[tuple[int, int, int]] = []
        ids = self.word_ids
        for term, col in vectorizer.vocabulary_.items():
            words = term.split(" ")
            if len(words) == 1:
                unigrams.append((ids.setdefault(term, len(ids)), col))
            else:
                first, second = words
                bigrams.append(
                    (ids.setdefault(first, len(ids)), ids.setdefault(second, len(ids)), col)
                )
        self.n_words = len(ids)
        self.unigram_col = np.full(self.n_words + 1, -1, dtype=np.int64)  # last: unknown
        for w, col in unigrams:
            self.unigram_col[w] = col
        pairs = np.array(bigrams, dtype=np.int64).reshape(-1, 3)
        keys = pairs[:, 0] * self.n_words + pairs[:, 1]
        order = np.argsort(keys)
        self.bigram_keys = keys[order]
        self.bigram_cols = pairs[order, 2]

    def __call__(self, texts: Sequence[str]) -> sp.csr_matrix:
        blocks = [
            self._block(texts[start : start + TRANSFORM_BLOCK])
            for start in range(0, len(texts), TRANSFORM_BLOCK)
        ]
        return sp.csr_matrix(sp.vstack(blocks, format="csr"))

    def _block(self, texts: Sequence[str]) -> sp.csr_matrix:
        get = self.word_ids.get
        unknown = self.n_words
        ids: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            tokens = self.tokenize(text)
            ids.extend(map(get, tokens, repeat(unknown)))
            lengths[i] = len(tokens)
        word = np.array(ids, dtype=np.int64)
        doc = np.repeat(np.arange(len(texts)), lengths)
        cols = self.unigram_col[word]
        rows = doc[cols >= 0]
        cols = cols[cols >= 0]
        if len(self.bigram_keys) and len(word) > 1:
            first, second = word[:-1], word[1:]
            ok = (first < unknown) & (second < unknown) & (doc[:-1] == doc[1:])
            keys = first[ok] * self.n_words + second[ok]
            at = np.minimum(np.searchsorted(self.bigram_keys, keys), len(self.bigram_keys) - 1)
            hit = self.bigram_keys[at] == keys
            rows = np.concatenate([rows, doc[:-1][ok][hit]])
            cols = np.concatenate([cols, self.bigram_cols[at[hit]]])
        data = np.ones(len(cols), dtype=np.float32)
        x = sp.csr_matrix((data, (rows, cols)), shape=(len(texts), self.n_terms))
        x.sum_duplicates()
        return x


class _Vectorize:
    """``vectorizer.transform`` as float32 CSR (also of no texts), three times faster.

    Vectorizing the liked papers of many subscribers is the largest cost of a ranking;
    scikit-learn counts terms one by one in Python dicts. Made once per rank() call.
    """

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vectorizer = vectorizer
        tokenize = _fast_tokenizer(vectorizer)
        self.counts = _FastCounts(vectorizer, tokenize) if tokenize is not None else None

    def __call__(self, texts: Sequence[str]) -> sp.csr_matrix:
        v = self.vectorizer
        if not texts:
            return sp.csr_matrix((0, len(v.vocabulary_)), dtype=np.float32)
        if self.counts is None:
            return sp.csr_matrix(v.transform(texts)).astype(np.float32, copy=False)
        x = self.counts(texts)
        # Then what TfidfTransformer.transform does.
        if v.binary:
            x.data[:] = 1
        if v.sublinear_tf:
            np.log(x.data, out=x.data)
            x.data += 1
        if v.use_idf:
            x.data *= v.idf_[x.indices]  # in place: float32, rounded as scikit-learn does
        if v.norm is not None:
            x = sp.csr_matrix(normalize(x, norm=v.norm, copy=False))
        return x


# -- word and phrase matching ------------------------------------------------------------

_WORD = re.compile(r"\w+")
# Any punctuation but a hyphen ends a phrase: "a program. Synthesis" is no "program synthesis".
_PHRASE_BREAK = re.compile(r"[^\w\s-]+")


def _singular(word: str) -> str:
    """Drop a plural ending, so "transformer" matches "transformers" (both sides get this)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _segments(text: str, memo: dict[str, str] | None = None) -> list[list[str]]:
    """The text's words, split where punctuation breaks a phrase."""
    memo = {} if memo is None else memo
    return [
        [memo.get(w) or memo.setdefault(w, _singular(w)) for w in _WORD.findall(part)]
        for part in _PHRASE_BREAK.split(text.casefold())
    ]


def _term_words(term: str) -> tuple[str, ...]:
    return tuple(_singular(w) for w in _WORD.findall(term.casefold()))


def _has_phrase(segments: list[list[str]], words: tuple[str, ...]) -> bool:
    n = len(words)
    first = words[0]
    for seg in segments:
        for i in range(len(seg) - n + 1):
            if seg[i] == first and tuple(seg[i : i + n]) == words:
                return True
    return False


def matches_term(term: str, text: str) -> bool:
    """Whether ``term`` occurs in ``text`` as whole words, case-insensitively.

    "vision" does not match "supervision"; a phrase's words must follow each other with only
    whitespace or hyphens between them ("program synthesis" matches "program-synthesis").
    A plural ending is ignored on both sides ("vision" matches "visions").
    """
    words = _term_words(term)
    return bool(words) and _has_phrase(_segments(text), words)


class _TermIndex:
    """Which candidates contain which words, to match many keywords at once."""

    def __init__(self, texts: Sequence[str]) -> None:
        memo: dict[str, str] = {}
        self._segments = [_segments(t, memo) for t in texts]
        postings: dict[str, list[int]] = {}
        for i, segs in enumerate(self._segments):
            for word in {w for seg in segs for w in seg}:
                postings.setdefault(word, []).append(i)
        self._postings = {w: frozenset(ids) for w, ids in postings.items()}
        self._pairs: dict[int, frozenset[tuple[str, str]]] = {}

    def _adjacent(self, i: int) -> frozenset[tuple[str, str]]:
        """Text ``i``'s pairs of neighbouring words, built when a phrase first asks."""
        pairs = self._pairs.get(i)
        if pairs is None:
            pairs = frozenset(pair for seg in self._segments[i] for pair in pairwise(seg))
            self._pairs[i] = pairs
        return pairs

    def hits(self, term: str) -> list[int]:
        """Sorted indices of the texts that contain ``term`` (see :func:`matches_term`)."""
        words = _term_words(term)
        if not words:
            return []
        sets = sorted((self._postings.get(w, frozenset()) for w in set(words)), key=len)
        found = sets[0].intersection(*sets[1:])
        if len(words) > 1:
            pairs = list(pairwise(words))
            found = frozenset(
                i
                for i in found
                if all(p in self._adjacent(i) for p in pairs)
                and (len(words) == 2 or _has_phrase(self._segments[i], words))
            )
        return sorted(found)


# -- matrix helpers ----------------------------------------------------------------------


def _csr(rows: Sequence[Sequence[tuple[int, float]]], n_cols: int) -> sp.csr_matrix:
    """A float32 CSR matrix from per-row (column, value) lists, columns kept in order."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    nnz = int(indptr[-1])
    indices = np.fromiter((c for r in rows for c, _ in r), dtype=np.int64, count=nnz)
    data = np.fromiter((v for r in rows for _, v in r), dtype=np.float32, count=nnz)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_cols))


def _hit_matrix(index: _TermIndex, terms: Sequence[str], n_cols: int) -> sp.csr_matrix:
    """terms × candidates, 1 where the candidate contains the term."""
    return _csr([[(c, 1.0) for c in index.hits(t)] for t in terms], n_cols)


def _padded(lists: Sequence[Sequence[int]], pad: int) -> Ints:
    """A rows × longest matrix of the lists, padded with ``pad``."""
    width = max((len(x) for x in lists), default=0)
    out = np.full((len(lists), width), pad, dtype=np.intp)
    for i, x in enumerate(lists):
        out[i, : len(x)] = x
    return out


def _dense_product(a: sp.csr_matrix, bt: sp.csr_matrix, *, extra_zero_row: bool = False) -> Floats:
    """``a @ bt`` as a dense float32 array, built in row blocks to bound sparse temporaries."""
    rows = a.shape[0]
    out = np.zeros((rows + int(extra_zero_row), bt.shape[1]), dtype=np.float32)
    step = max(1, CELL_BUDGET // max(bt.shape[1], 1))
    for start in range(0, rows, step):
        end = min(start + step, rows)
        out[start:end] = (a[start:end] @ bt).toarray()
    return out


def _add_scaled(dense: Floats, m: sp.spmatrix, row_scale: Floats) -> None:
    """``dense += row_scale[:, None] * m`` for a sparse ``m`` without densifying it."""
    coo = sp.coo_matrix(m)  # from a CSR product: each (row, col) once
    dense[coo.row, coo.col] += row_scale[coo.row] * coo.data.astype(np.float32, copy=False)


# -- the batch ---------------------------------------------------------------------------


def _term_key(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass
class _Batch:
    """What one rank() call derives once from the candidates and all the interests.

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
    kw_hits: sp.csr_matrix  # keywords × candidates: 1 where found as words
    kw_hit_sets: list[frozenset[int]]  # the same, per keyword
    kw_sim: sp.csr_matrix  # keywords × candidates: tfidf(keyword) · tfidf(candidate)
    kw_display: list[list[tuple[int, str]]]  # per subscriber: (keyword, as typed), best first
    desc_onehot: sp.csr_matrix  # subscribers × descriptions
    desc_vectors: sp.csr_matrix  # descriptions × vocabulary
    desc_sim: sp.csr_matrix  # descriptions × candidates
    desc_terms: list[dict[int, str]]  # per description: vocabulary column -> term
    desc_of: list[int]  # per subscriber, -1 for none
    rated: list[Paper]  # liked or disliked by someone
    rated_x: sp.csr_matrix  # rated × vocabulary
    rated_sim: Floats | None  # rated × candidates, then a zero row; None: per chunk
    liked: list[list[int]]  # per subscriber, into rated
    disliked: list[list[int]]
    blocked: sp.csr_matrix  # subscribers × candidates: seen or excluded
    like_reasons: dict[int, str] = field(default_factory=dict)  # rated -> "like: …"


def _build(
    vectorizer: TfidfVectorizer,
    candidates: list[Paper],
    interests: Sequence[Interest],
    weights: ScoreWeights,
) -> _Batch:
    vectorize = _Vectorize(vectorizer)
    n_cand = len(candidates)
    texts = [p.text for p in candidates]
    x = vectorize(texts)
    xt = x.T.tocsr()
    index = _TermIndex(texts)
    position = {p.id: i for i, p in enumerate(candidates)}
    offered = frozenset(position)
    upvotes = np.array([max(p.upvotes or 0, 0) for p in candidates], dtype=np.float32)
    popularity = np.minimum(np.log1p(upvotes) / np.float32(math.log1p(UPVOTES_FULL)), 1)

    keys: dict[str, str] = {}  # text as typed -> _term_key, computed once per distinct text
    for i in interests:
        for text in (*(k.text for k in i.keywords if k.weight > 0), *i.exclude):
            if text not in keys:
                keys[text] = _term_key(text)
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

    kw_weight = _csr(kw_rows, len(kw_keys))
    kw_vectors = vectorize(kw_keys)
    combined = kw_weight @ kw_vectors
    kw_norm = np.sqrt(np.asarray(combined.multiply(combined).sum(axis=1)).ravel())
    kw_hits = _hit_matrix(index, kw_keys, n_cand)
    kw_sim = sp.csr_matrix(kw_vectors @ xt)
    kw_sim.sort_indices()  # searched per pick by _related_keyword
    excluded = _csr(ex_rows, len(ex_keys)) @ _hit_matrix(index, ex_keys, n_cand)
    blocked = sp.csr_matrix(_csr(seen_rows, n_cand) + excluded)

    desc_vectors = vectorize(descs)
    analyzer = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    rated_x = vectorize([p.text for p in rated])
    small = (len(rated) + 1) * n_cand <= RATED_CELL_BUDGET
    return _Batch(
        candidates=candidates,
        weights=weights,
        x=x,
        xt=xt,
        popularity=popularity.astype(np.float32),
        cand_sim=_dense_product(x, xt) if n_cand <= MAX_DENSE_CANDIDATES else None,
        kw_weight=kw_weight,
        kw_norm=kw_norm.astype(np.float32),
        kw_hits=kw_hits,
        kw_hit_sets=[
            frozenset(kw_hits.indices[a:b].tolist()) for a, b in pairwise(kw_hits.indptr.tolist())
        ],
        kw_sim=kw_sim,
        kw_display=kw_display,
        desc_onehot=_csr([[(d, 1.0)] if d >= 0 else [] for d in desc_of], len(descs)),
        desc_vectors=desc_vectors,
        desc_sim=sp.csr_matrix(desc_vectors @ xt),
        desc_terms=[{vocabulary[t]: t for t in analyzer(d) if t in vocabulary} for d in descs],
        desc_of=desc_of,
        rated=rated,
        rated_x=rated_x,
        rated_sim=_dense_product(rated_x, xt, extra_zero_row=True) if small else None,
        liked=liked,
        disliked=disliked,
        blocked=blocked,
    )


# -- scoring -----------------------------------------------------------------------------


@dataclass
class _Chunk:
    """Scores of a chunk of subscribers against all candidates."""

    rows: list[int]  # subscribers (indices into the interests)
    score: Floats  # chunk × candidates; -inf where seen or excluded
    rated_sim: Floats  # rated papers × candidates, last row zero
    liked_local: Ints  # chunk × most liked: rows of rated_sim (pad: the zero row)


def _chunk_rated(batch: _Batch, rows: list[int]) -> tuple[Floats, list[list[int]], list[list[int]]]:
    """The rated × candidate cosines a chunk needs, and its liked/disliked rows in them."""
    if batch.rated_sim is not None:
        return batch.rated_sim, [batch.liked[r] for r in rows], [batch.disliked[r] for r in rows]
    used = sorted({j for r in rows for j in (*batch.liked[r], *batch.disliked[r])})
    local = {j: n for n, j in enumerate(used)}
    sims = _dense_product(batch.rated_x[used], batch.xt, extra_zero_row=True)
    return (
        sims,
        [[local[j] for j in batch.liked[r]] for r in rows],
        [[local[j] for j in batch.disliked[r]] for r in rows],
    )


def _has_classifier(batch: _Batch, r: int) -> bool:
    return (
        len(batch.liked[r]) >= CLASSIFIER_MIN_LIKED
        and len(batch.disliked[r]) >= CLASSIFIER_MIN_DISLIKED
    )


def _classifier(batch: _Batch, liked: list[int], disliked: list[int]) -> Floats:
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


def _score_chunk(batch: _Batch, rows: list[int]) -> _Chunk:
    """Every signal, weighted and combined (module docstring), for a chunk of subscribers."""
    w = batch.weights
    n, n_cand = len(rows), len(batch.candidates)
    num = np.zeros((n, n_cand), dtype=np.float32)
    denom = np.zeros(n, dtype=np.float32)

    kw = batch.kw_weight[rows]
    has_kw = np.diff(kw.indptr) > 0
    if has_kw.any():
        hits = sp.csr_matrix(kw @ batch.kw_hits)
        hits.data = hits.data / (1 + hits.data)  # saturates: one full-weight hit is 0.5
        _add_scaled(num, hits, np.full(n, w.keyword_match, dtype=np.float32))
        norm = batch.kw_norm[rows]
        scale = np.float32(w.keyword_similarity) / np.where(norm > 0, norm, 1)
        _add_scaled(num, kw @ batch.kw_sim, scale.astype(np.float32))
        denom += has_kw * np.float32(w.keyword_match + w.keyword_similarity)

    desc = batch.desc_onehot[rows]
    has_desc = np.diff(desc.indptr) > 0
    if has_desc.any():
        _add_scaled(num, desc @ batch.desc_sim, np.full(n, w.description, dtype=np.float32))
        denom += has_desc * np.float32(w.description)

    rated_sim, liked, disliked = _chunk_rated(batch, rows)
    pad = rated_sim.shape[0] - 1
    liked_local = _padded(liked, pad)
    if liked_local.shape[1]:
        n_liked = np.array([len(x) for x in liked], dtype=np.float32)
        total = np.zeros((n, n_cand), dtype=np.float32)
        nearest = np.zeros((n, n_cand), dtype=np.float32)
        for j in range(liked_local.shape[1]):  # the j-th liked paper of every subscriber
            block = rated_sim[liked_local[:, j]]
            total += block
            np.maximum(nearest, block, out=nearest)
        total *= (np.float32(w.liked_mean) / np.maximum(n_liked, 1))[:, None]
        nearest *= np.float32(w.liked_nearest)
        num += total
        num += nearest
        denom += (n_liked > 0) * np.float32(w.liked_mean + w.liked_nearest)

    for i, r in enumerate(rows):
        if _has_classifier(batch, r):
            num[i] += np.float32(w.classifier) * _classifier(
                batch, batch.liked[r], batch.disliked[r]
            )
            denom[i] += np.float32(w.classifier)

    score = num
    score *= (1 / np.where(denom > 0, denom, 1)).astype(np.float32)[:, None]
    disliked_local = _padded(disliked, pad)
    if disliked_local.shape[1]:
        nearest_bad = np.zeros((n, n_cand), dtype=np.float32)
        for j in range(disliked_local.shape[1]):
            np.maximum(nearest_bad, rated_sim[disliked_local[:, j]], out=nearest_bad)
        nearest_bad *= np.float32(w.disliked)
        score -= nearest_bad
    boost = (1 + np.float32(w.upvotes) * batch.popularity)[None, :]
    np.multiply(score, boost, out=score, where=score > 0)

    blocked = sp.coo_matrix(batch.blocked[rows])
    score[blocked.row, blocked.col] = -np.inf
    return _Chunk(rows=rows, score=score, rated_sim=rated_sim, liked_local=liked_local)


# -- selection ---------------------------------------------------------------------------


def _sims_to(batch: _Batch, picked: Ints, pool: Ints) -> Floats:
    """Cosines between each row's picked candidate and the candidates of its pool."""
    if batch.cand_sim is not None:
        return batch.cand_sim[picked[:, None], pool]
    rows = _dense_product(batch.x[picked], batch.xt)
    return np.take_along_axis(rows, pool, axis=1)


def _mmr(
    batch: _Batch, score: Floats, eligible: npt.NDArray[np.bool_], limits: Ints, diversity: float
) -> Ints:
    """Maximal marginal relevance: rows × max(limits) candidate indices, -1 past the end.

    Each step takes the candidate maximising ``diversity·relevance − (1−diversity)·(its
    largest cosine to those already taken)``, among the best 3·limit + POOL_EXTRA.
    """
    n, n_cand = score.shape
    most = min(int(limits.max(initial=0)), n_cand)
    chosen = np.full((n, most), -1, dtype=np.intp)
    if most == 0:
        return chosen
    size = min(n_cand, 3 * most + POOL_EXTRA)
    work = np.where(eligible, score, -np.inf)
    if size < n_cand:
        pool = np.sort(np.argpartition(-work, size - 1, axis=1)[:, :size], axis=1)
    else:
        pool = np.tile(np.arange(n_cand), (n, 1))
    # Best first, ties by candidate order, so a subscriber ranks the same in any batch.
    pool_score = np.take_along_axis(work, pool, axis=1)
    order = np.argsort(-pool_score, axis=1, kind="stable")
    pool = np.take_along_axis(pool, order, axis=1)
    pool_score = np.take_along_axis(pool_score, order, axis=1)
    avail = np.isfinite(pool_score)
    # Relevance relative to the subscriber's best, so lambda means the same for any profile.
    top = pool_score[:, :1]
    relevance = np.where(avail, pool_score / np.where(np.isfinite(top) & (top > 0), top, 1), 0)
    redundancy = np.zeros_like(relevance)
    r = np.arange(n)
    for step in range(most):
        avail &= (step < limits)[:, None]
        if not avail.any():
            break
        mmr = np.where(avail, diversity * relevance - (1 - diversity) * redundancy, -np.inf)
        best = np.argmax(mmr, axis=1)
        taken = avail[r, best]
        picked = pool[r, best]
        chosen[taken, step] = picked[taken]
        avail[r, best] = False
        if diversity < 1:
            np.maximum(redundancy, _sims_to(batch, picked, pool), out=redundancy)
    return chosen


# -- reasons -----------------------------------------------------------------------------


def _short_title(title: str) -> str:
    """A liked paper's name for a reason: the part before ":" or its first six words."""
    head, colon, _ = title.partition(":")
    if colon and 0 < len(head.split()) <= 6:
        return head.strip()
    words = title.split()
    return " ".join(words[:6]) + "…" if len(words) > 6 else " ".join(words)


def _like_reason(batch: _Batch, rated: int) -> str:
    reason = batch.like_reasons.get(rated)
    if reason is None:
        reason = batch.like_reasons[rated] = "like: " + _short_title(batch.rated[rated].title)
    return reason


def _description_words(batch: _Batch, d: int, c: int) -> list[str]:
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


def _related_keyword(batch: _Batch, r: int, c: int) -> str:
    """The subscriber's keyword closest to candidate ``c`` in TF-IDF space, if any."""
    best, name = 0.0, ""
    sims = batch.kw_sim
    for k, text in batch.kw_display[r]:
        start, end = sims.indptr[k], sims.indptr[k + 1]
        at = start + int(np.searchsorted(sims.indices[start:end], c))
        if at < end and sims.indices[at] == c and sims.data[at] > best:
            best, name = float(sims.data[at]), text
    return name


def _weaker_reasons(batch: _Batch, r: int, c: int) -> tuple[str, ...]:
    """Why ``c`` was picked when no keyword is in it and no liked paper is close."""
    if related := _related_keyword(batch, r, c):
        return ("related to: " + related,)
    if (d := batch.desc_of[r]) >= 0:
        words = _description_words(batch, d, c)
        return ("about: " + ", ".join(words) if words else "close to your description",)
    if _has_classifier(batch, r):
        return ("close to papers you rated up",)
    return ("no match with your profile",)


def _nearest_liked(chunk: _Chunk, order: Ints) -> tuple[Ints, Floats]:
    """For each pick: which of the subscriber's liked papers is nearest, and its cosine."""
    n, width = order.shape
    at = np.zeros((n, width), dtype=np.intp)
    value = np.zeros((n, width), dtype=np.float32)
    liked = chunk.liked_local
    if not liked.shape[1] or not width:
        return at, value
    safe = np.where(order >= 0, order, 0)
    step = max(1, CELL_BUDGET // (liked.shape[1] * width))
    for start in range(0, n, step):
        part = slice(start, start + step)
        sims = chunk.rated_sim[liked[part, :, None], safe[part, None, :]]
        at[part] = np.argmax(sims, axis=1)
        value[part] = np.max(sims, axis=1)
    return at, value


def _picks(
    batch: _Batch, chunk: _Chunk, order: Ints, counts: Ints
) -> Iterator[tuple[int, list[Pick]]]:
    """Picks with reasons for each subscriber of the chunk (``order`` rows, ``counts`` valid).

    Reasons name the keywords found in the paper and, if close, the nearest liked paper
    (this runs for every pick of every subscriber, so it only looks things up).
    """
    like_at, like_value = _nearest_liked(chunk, order)
    ids = [p.id for p in batch.candidates]
    hit_sets = batch.kw_hit_sets
    for i, r in enumerate(chunk.rows):
        n = int(counts[i])
        cands = order[i, :n]
        keywords = [(hit_sets[k], text) for k, text in batch.kw_display[r]]
        liked = batch.liked[r]
        picks = []
        for c, score, at, value in zip(
            cands.tolist(),
            chunk.score[i, cands].tolist(),
            like_at[i, :n].tolist(),
            like_value[i, :n].tolist(),
            strict=True,
        ):
            reasons = []
            matched = [text for hits, text in keywords if c in hits]
            if matched:
                reasons.append("matches: " + ", ".join(matched[:3]))
            if value > 0 and (value >= LIKE_REASON_MIN or not reasons):
                reasons.append(_like_reason(batch, liked[at]))
            picks.append(
                Pick(ids[c], score, tuple(reasons) if reasons else _weaker_reasons(batch, r, c))
            )
        yield r, picks


# -- the public entry point --------------------------------------------------------------


def rank(
    vectorizer: TfidfVectorizer,
    candidates: Sequence[Paper],
    interests: Sequence[Interest],
    *,
    diversity: float = 0.7,
    include_below_threshold: bool = False,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
) -> dict[str, list[Pick]]:
    """Rank ``candidates`` for every interest: ``interest.key`` -> picks, best first.

    Drops each subscriber's ``seen`` (and liked and disliked) papers and papers with an
    ``exclude`` term in their title or abstract, scores the rest (see the module
    docstring), keeps those scoring at least ``min_score`` and chooses at most ``limit`` of
    them by maximal marginal relevance with ``diversity`` as lambda (1.0: by score alone,
    lower: less alike). Every pick has at least one reason.

    With ``include_below_threshold`` papers under ``min_score`` are kept too: after the
    picks the threshold lets through, the rest by score, still at most ``limit`` (pass a
    large limit to see every candidate that is not seen or excluded).
    """
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity is {diversity!r}; expected a number from 0.0 to 1.0")
    unique: dict[str, Paper] = {}
    for p in candidates:
        unique.setdefault(p.id, p)
    cands = list(unique.values())
    result: dict[str, list[Pick]] = {i.key: [] for i in interests}
    if not cands or not interests:
        return result
    batch = _build(vectorizer, cands, interests, weights)
    # Subscribers with as many rated papers share a chunk, so its padding stays short.
    order = sorted(
        range(len(interests)), key=lambda r: (len(batch.liked[r]), len(batch.disliked[r]))
    )
    step = max(1, CELL_BUDGET // len(cands))
    for start in range(0, len(order), step):
        rows = order[start : start + step]
        chunk = _score_chunk(batch, rows)
        limits = np.array([max(interests[r].limit, 0) for r in rows], dtype=np.intp)
        floor = np.array([interests[r].min_score for r in rows], dtype=np.float32)
        eligible = np.isfinite(chunk.score) & (chunk.score >= floor[:, None])
        chosen = _mmr(batch, chunk.score, eligible, limits, diversity)
        counts = (chosen >= 0).sum(axis=1)
        if include_below_threshold:
            chosen, counts = _append_rest(chunk.score, chosen, counts)
            counts = np.minimum(counts, limits)
        for r, picks in _picks(batch, chunk, chosen, counts):
            result[interests[r].key] = picks
    return result


def _append_rest(score: Floats, chosen: Ints, counts: Ints) -> tuple[Ints, Ints]:
    """After the picks, every other unblocked candidate by score (ties: candidate order)."""
    n, n_cand = score.shape
    out = np.full((n, n_cand), -1, dtype=np.intp)
    totals = np.zeros(n, dtype=np.intp)
    by_score = np.argsort(-score, axis=1, kind="stable")
    for i in range(n):
        head = chosen[i, : counts[i]]
        taken = np.zeros(n_cand, dtype=bool)
        taken[head] = True
        rest = by_score[i][~taken[by_score[i]] & np.isfinite(score[i, by_score[i]])]
        row = np.concatenate([head, rest])
        out[i, : len(row)] = row
        totals[i] = len(row)
    return out, totals
