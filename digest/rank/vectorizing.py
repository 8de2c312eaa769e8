"""The TF-IDF recipe and a fast transform: text → float32 sparse vectors.

Owns how papers become vectors: the vectorizer's every parameter (:func:`build_vectorizer`),
fitting it on the corpus (:func:`fit_model`), and :class:`Vectorize`, a transform that gives
scikit-learn's numbers three times faster. May import :mod:`digest.errors` and
:mod:`digest.rank.budgets`; no disk, database or clock (:mod:`digest.rank.model_cache` keeps
the fitted model on disk).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from itertools import repeat

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from ..errors import DigestError
from . import budgets
from .specificity import TermFrequencies, term_frequencies

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
    """Fit the TF-IDF model on the stored corpus (``Paper.text`` of every paper).

    The model also keeps the corpus's :class:`~digest.rank.specificity.TermFrequencies`
    (attribute ``term_frequencies_``, read by :func:`corpus_frequencies`).
    """
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
    # Fitted on the same corpus, kept with the model: how specific each keyword is.
    vectorizer.term_frequencies_ = term_frequencies(docs)
    return vectorizer


def corpus_frequencies(vectorizer: TfidfVectorizer) -> TermFrequencies:
    """The store's term frequencies :func:`fit_model` kept with the model.

    A vectorizer fitted otherwise has none: then only the generic words known beforehand
    (:data:`digest.rank.specificity.GENERIC_SHARES`) are common.
    """
    found = getattr(vectorizer, "term_frequencies_", None)
    return found if isinstance(found, TermFrequencies) else TermFrequencies()


# -- fast TF-IDF transform --------------------------------------------------------------


_ASCII_NON_WORD = str.maketrans(
    {chr(i): " " for i in range(128) if not (chr(i).isalnum() or chr(i) == "_")}
)


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
            self._block(texts[start : start + budgets.TRANSFORM_BLOCK])
            for start in range(0, len(texts), budgets.TRANSFORM_BLOCK)
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


class Vectorize:
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
