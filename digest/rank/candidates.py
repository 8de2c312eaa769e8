"""What a ranking derives once from its candidate papers: :class:`Candidates`.

The candidates' TF-IDF vectors, their word indexes, their pairwise cosines and the fast
transform's vocabulary tables take a second or more on 2,000 candidates and a 50,000-paper
model, whatever the number of subscribers. Built once (:func:`prepare_candidates`), they
serve every batch of interests ranked against those candidates
(:func:`digest.rank.batch.build_batch`), so the daily run can rank its subscribers in
slices at about the cost of ranking them at once. Memos are filled as batches ask: each
keyword's vector, hits and specificity, which vocabulary terms are specific words, each
rated paper's vector and its cosines with the candidates (up to
``budgets.RATED_CACHE_CELLS``); an entry depends only on its term or paper, never on the
batch that asked first, so a slice ranks as it would among everyone.

May import :mod:`digest.records` and the rank modules below it (budgets, terms,
specificity, vectorizing, matrices).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from ..records import Paper
from . import budgets
from .matrices import Floats, Ints, csr, dense_product
from .specificity import SPECIFIC_MIN, TermFrequencies
from .terms import TermIndex
from .vectorizing import Vectorize, corpus_frequencies

UPVOTES_FULL = 1000  # upvotes at which the popularity prior is full
# A keyword found only in the abstract counts this much of a hit in the title: a title names
# the paper's topic, an abstract mentions much in passing ("code coverage" as a metric).
# Set with KEYWORD_FLOOR (signals/keywords.py), not fitted on its own: at 0.5 an abstract
# hit of a full-weight keyword sends a paper only if the keyword is in at most ~9% of the
# stored papers; on the shared listings this keeps "speech", "diffusion" and "code
# generation" abstract hits (3-4%) and drops "vision" (26%) and "code" (39%) ones.
ABSTRACT_HIT = 0.5


@dataclass
class Keywords:
    """Keywords (as :func:`~digest.rank.terms.term_key` reduces them) against the candidates,
    one row per keyword in the order :meth:`Candidates.keywords` first met them."""

    vectors: sp.csr_matrix  # keywords × vocabulary: TF-IDF of the keyword's text
    sim: sp.csr_matrix  # keywords × candidates: vectors @ xt, indices sorted
    hits: sp.csr_matrix  # keywords × candidates: hit strength where found as words
    hit_sets: list[frozenset[int]]  # where found, per keyword
    specificity: Floats  # per keyword, in the store's corpus


@dataclass
class Candidates:
    """The candidate papers of a ranking and what every batch of interests reads of them."""

    papers: list[Paper]  # distinct ids, in the order given
    vectorizer: TfidfVectorizer
    vectorize: Vectorize
    freqs: TermFrequencies  # the corpus's, kept with the model
    x: sp.csr_matrix  # candidates × vocabulary
    xt: sp.csr_matrix  # vocabulary × candidates
    index: TermIndex  # words of title and abstract
    titles: TermIndex  # words of the title
    position: dict[str, int]  # paper id → row
    popularity: Floats  # per candidate, 0..1
    cand_sim: Floats | None  # candidates × candidates cosines, if not too many candidates
    # Keep each rated paper's vector and cosines for later batches (a Ranker called per
    # slice); a single batch (rank()) computes them in place, holding them once.
    keep_rated: bool = True
    _known: Keywords | None = field(default=None, repr=False)
    _keyword_row: dict[str, int] = field(default_factory=dict, repr=False)
    _specific: Floats | None = field(default=None, repr=False)  # per vocabulary term, -1 unknown
    _names: Sequence[str] | None = field(default=None, repr=False)
    # Rated (liked or disliked) papers, by id: the TF-IDF row (columns, values), and the
    # row of cosines with the candidates (kept up to budgets.RATED_CACHE_CELLS cells).
    _rated: dict[str, tuple[Ints, Floats]] = field(default_factory=dict, repr=False)
    rated_sims: dict[str, Floats] = field(default_factory=dict, repr=False)

    def rated_vectors(self, papers: Sequence[Paper]) -> sp.csr_matrix:
        """papers × vocabulary TF-IDF vectors of the rated papers' texts (each paper's row
        is its text's alone: vectorized once per :class:`Candidates` that keeps them)."""
        if not self.keep_rated:
            return self.vectorize([p.text for p in papers])
        new = {p.id: p for p in papers if p.id not in self._rated}
        if new:
            m = self.vectorize([p.text for p in new.values()])
            for i, paper_id in enumerate(new):
                a, b = m.indptr[i], m.indptr[i + 1]
                self._rated[paper_id] = (m.indices[a:b], m.data[a:b])
        rows = [self._rated[p.id] for p in papers]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(cols) for cols, _ in rows], out=indptr[1:])
        n_terms = len(self.vectorizer.vocabulary_)
        if not rows:
            return sp.csr_matrix((0, n_terms), dtype=np.float32)
        indices = np.concatenate([cols for cols, _ in rows])
        data = np.concatenate([values for _, values in rows])
        return sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_terms))

    def keywords(self, terms: Sequence[str]) -> Keywords:
        """The :class:`Keywords` rows of ``terms`` (keys, see :func:`~digest.rank.terms.term_key`).

        A hit weighs the term's specificity (:mod:`digest.rank.specificity`), × ABSTRACT_HIT
        when the term is not in the title; a term under SPECIFIC_MIN is no evidence: 0.
        Each term is vectorized and looked up once per :class:`Candidates`, at the first
        batch that names it; a row depends on its term alone.
        """
        new = [t for t in dict.fromkeys(terms) if t not in self._keyword_row]
        known = self._known
        if new or known is None:
            known = self._add_keywords(new)
        rows = np.array([self._keyword_row[t] for t in terms], dtype=np.intp)
        sim = sp.csr_matrix(known.sim[rows])
        sim.sort_indices()  # searched per pick by reasons.related_keyword
        return Keywords(
            vectors=sp.csr_matrix(known.vectors[rows]),
            sim=sim,
            hits=sp.csr_matrix(known.hits[rows]),
            hit_sets=[known.hit_sets[r] for r in rows.tolist()],
            specificity=known.specificity[rows],
        )

    def _add_keywords(self, terms: list[str]) -> Keywords:
        vectors = self.vectorize(terms)
        sim = sp.csr_matrix(vectors @ self.xt)
        sim.sort_indices()
        rows: list[list[tuple[int, float]]] = []
        spec = np.zeros(len(terms), dtype=np.float32)
        for j, t in enumerate(terms):
            found = self.index.hits(t)
            spec[j] = self.freqs.specificity(t)
            s = float(spec[j]) if spec[j] >= SPECIFIC_MIN else 0.0
            in_title = set(self.titles.hits(t)) if found else set()
            rows.append([(c, s if c in in_title else s * ABSTRACT_HIT) for c in found])
        hits = csr(rows, len(self.papers))
        added = Keywords(
            vectors=vectors,
            sim=sim,
            hits=hits,
            hit_sets=[frozenset(c for c, _ in r) for r in rows],
            specificity=spec,
        )
        known = self._known
        if known is not None:
            added = Keywords(
                vectors=sp.csr_matrix(sp.vstack([known.vectors, vectors], format="csr")),
                sim=sp.csr_matrix(sp.vstack([known.sim, sim], format="csr")),
                hits=sp.csr_matrix(sp.vstack([known.hits, hits], format="csr")),
                hit_sets=[*known.hit_sets, *added.hit_sets],
                specificity=np.concatenate([known.specificity, spec]),
            )
        for t in terms:
            self._keyword_row[t] = len(self._keyword_row)
        self._known = added
        return added

    def hit_matrix(self, terms: Sequence[str]) -> sp.csr_matrix:
        """terms × candidates, 1 where the candidate contains the term."""
        return csr([[(c, 1.0) for c in self.index.hits(t)] for t in terms], len(self.papers))

    def specific_columns(self, indices: Ints) -> Floats:
        """Per vocabulary term, 1 where it is among the columns ``indices`` and a specific
        word (a unigram with specificity >= SPECIFIC_MIN, :mod:`digest.rank.specificity`),
        else 0. Each term is looked up once per :class:`Candidates`."""
        n_terms = len(self.vectorizer.vocabulary_)
        if self._specific is None:
            self._specific = np.full(n_terms, -1, dtype=np.float32)
        known = self._specific
        used = np.zeros(n_terms, dtype=np.bool_)
        used[indices] = True
        columns = np.flatnonzero(used)
        unknown = columns[known[columns] < 0].tolist()
        if unknown:
            if self._names is None:
                self._names = self.vectorizer.get_feature_names_out()
            for col in unknown:
                term = str(self._names[col])
                known[col] = 1.0 if " " not in term and self.freqs.is_specific(term) else 0.0
        out = np.zeros(n_terms, dtype=np.float32)
        out[columns] = known[columns]
        return out


def prepare_candidates(
    vectorizer: TfidfVectorizer, papers: Sequence[Paper], *, keep_rated: bool = True
) -> Candidates:
    """The :class:`Candidates` of ``papers`` under the fitted ``vectorizer`` (a paper id
    given twice counts once, its first time); ``keep_rated``: see :class:`Candidates`."""
    unique: dict[str, Paper] = {}
    for p in papers:
        unique.setdefault(p.id, p)
    cands = list(unique.values())
    vectorize = Vectorize(vectorizer)
    texts = [p.text for p in cands]
    x = vectorize(texts)
    xt = x.T.tocsr()
    upvotes = np.array([max(p.upvotes or 0, 0) for p in cands], dtype=np.float32)
    popularity = np.minimum(np.log1p(upvotes) / np.float32(math.log1p(UPVOTES_FULL)), 1)
    return Candidates(
        papers=cands,
        vectorizer=vectorizer,
        vectorize=vectorize,
        freqs=corpus_frequencies(vectorizer),
        x=x,
        xt=xt,
        index=TermIndex(texts),
        titles=TermIndex([p.title for p in cands]),
        position={p.id: i for i, p in enumerate(cands)},
        popularity=popularity.astype(np.float32),
        cand_sim=dense_product(x, xt) if len(cands) <= budgets.MAX_DENSE_CANDIDATES else None,
        keep_rated=keep_rated,
    )
