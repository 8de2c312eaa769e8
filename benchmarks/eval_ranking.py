"""Offline evaluation of the ranker: real users' ratings, and arXiv categories.

Real users (``../shared/datasets/reviewer-match/``, see its README): for each of 53
researchers, their 5 most recent own papers are the liked papers of an Interest, and
rank() orders the 463 rated candidates as ``digest rank --all`` does (the same call:
include_below_threshold, every candidate listed, what would be sent first). Relevant: rated
>= 4. Printed side by side, in the same run: nDCG@10, recall@50 and pairwise accuracy
(pairs of the profile's rated papers with different ratings ordered the same way) for
digest, the arxiv-sanity-lite recipe (its TF-IDF, one LinearSVC per profile: positives the
5 own papers, negatives the rest of the corpus) and a TF-IDF centroid; mean ± standard
deviation over profiles, and digest's paired difference to arxiv-sanity. Then digest's
diversity and max_df settings, and how many relevant and unrelated papers pass each floor
of the "strong enough to send" rule (LIKED_FLOOR, DESCRIPTION_FLOOR).

Categories (``arxiv_categories_1000.csv``):
For every category with at least 20 papers and every draw (seeded), a simulated subscriber
gets 10 random "profile papers" of that category. From them come:

- liked-only:   the first 5 profile papers as liked papers;
- keyword-only: 5 keywords, the terms with the largest summed TF-IDF over the 10 profile
  papers (a term inside an already chosen term is skipped). They come from the profile
  papers only, never from the papers being ranked, so they are fair;
- category-name: the content words of the category's arXiv name ("Computer Vision and
  Pattern Recognition" -> computer, vision, pattern, recognition), a baseline a person
  could type without reading any paper;
- full: the keywords plus the liked papers;
- full + feedback: full plus 3 disliked papers drawn from other categories, so the
  per-subscriber classifier joins (≥5 liked and ≥3 disliked).

All 1,000 papers are candidates; the profile papers (and disliked ones) are the
subscriber's ``seen`` ids, so they are never ranked. A pick is relevant when the paper has
the category. ``min_score`` is turned off (-1) so every method returns 10 picks: this
measures ordering, not the threshold. Figures are macro-averages over categories.

    python benchmarks/eval_ranking.py [CSV] [--reviewers DIR] [--draws 5] [--seed 0] [--sweep]

``--sweep`` also scores vectorizer settings (min_df, max_df, n-grams) and score weights:
the table that chose the defaults in digest/rank/ (ScoreWeights, the TF-IDF recipe).
"""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval_real_users import DEFAULT_LISTINGS, DEFAULT_REVIEWERS, real_users, specificity_report

from digest.rank import (
    DEFAULT_WEIGHTS,
    STOP_WORDS,
    TOKEN_PATTERN,
    Interest,
    ScoreWeights,
    build_vectorizer,
    fit_model,
    rank,
)
from digest.records import Keyword, Paper

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CSV = REPO.parent / "shared" / "datasets" / "arxiv_categories_1000.csv"
MIN_PAPERS = 20
PROFILE_PAPERS = 10
LIKED = 5
DISLIKED = 3
KEYWORDS = 5
K = 10
CATEGORY_NAMES = {
    "cs.AI": "Artificial Intelligence",
    "cs.CL": "Computation and Language",
    "cs.CV": "Computer Vision and Pattern Recognition",
    "cs.LG": "Machine Learning",
    "cs.NE": "Neural and Evolutionary Computing",
    "cs.RO": "Robotics",
    "eess.IV": "Image and Video Processing",
    "stat.ML": "Machine Learning (Statistics)",
}
NAME_STOP = {"and", "of", "the"}


@dataclasses.dataclass(frozen=True)
class Case:
    """One simulated subscriber: a category, its profile papers and some disliked papers."""

    category: str
    profile: tuple[int, ...]
    disliked: tuple[int, ...]


def load(path: Path) -> tuple[list[Paper], list[frozenset[str]]]:
    papers, labels = [], []
    with path.open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f)):
            title = " ".join(row["titles"].split())
            abstract = " ".join(row["summaries"].split())
            papers.append(Paper(id=f"p{n}", title=title, abstract=abstract))
            labels.append(frozenset(ast.literal_eval(row["terms"])))
    return papers, labels


def make_cases(labels: Sequence[frozenset[str]], draws: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    for terms in labels:
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
    cases = []
    for cat in sorted(c for c, n in counts.items() if n >= MIN_PAPERS):
        inside = [i for i, t in enumerate(labels) if cat in t]
        outside = [i for i, t in enumerate(labels) if cat not in t]
        for _ in range(draws):
            profile = tuple(rng.sample(inside, PROFILE_PAPERS))
            cases.append(Case(cat, profile, tuple(rng.sample(outside, DISLIKED))))
    return cases


class KeywordPicker:
    """Derives a profile's keywords as a person would: the words its papers share.

    A term's score is the square of the number of profile papers containing it times its
    inverse document frequency in the whole corpus (unsupervised, so fair), among terms in
    at least two profile papers and twice as frequent there as in the corpus: shared topic
    words beat a rare word two papers share, and words every paper uses are out. Only the
    profile papers' text is read.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        self.counter = CountVectorizer(
            stop_words=list(STOP_WORDS),
            token_pattern=TOKEN_PATTERN,
            ngram_range=(1, 2),
            min_df=2,
            binary=True,
        )
        df = np.asarray(self.counter.fit_transform(texts).sum(axis=0)).ravel()
        self.idf = np.log(len(texts) / df)
        self.names = self.counter.get_feature_names_out()

    def __call__(self, papers: Sequence[Paper]) -> tuple[Keyword, ...]:
        present = np.asarray(self.counter.transform([p.text for p in papers]).sum(axis=0)).ravel()
        # Twice as common in the profile as in the corpus, or it says nothing about the topic.
        enriched = present / len(papers) >= 2 * np.exp(-self.idf)
        score = np.where((present >= 2) & enriched, present**2 * self.idf, 0)
        chosen: list[str] = []
        for j in np.argsort(-score, kind="stable"):
            term = str(self.names[j])
            if score[j] <= 0:
                break
            if not any(term in c or c in term for c in chosen):
                chosen.append(term)
            if len(chosen) == KEYWORDS:
                break
        return tuple(Keyword(t) for t in chosen)


def name_keywords(category: str) -> tuple[Keyword, ...]:
    words = CATEGORY_NAMES.get(category, category).replace("(", " ").replace(")", " ").split()
    return tuple(Keyword(w.lower()) for w in words if w.lower() not in NAME_STOP)


def interests(
    method: str, cases: Sequence[Case], papers: Sequence[Paper], picker: KeywordPicker
) -> list[Interest]:
    """The simulated subscribers of ``method`` (see the module docstring), one per case."""
    out = []
    for n, case in enumerate(cases):
        profile = [papers[i] for i in case.profile]
        disliked = tuple(papers[i] for i in case.disliked)
        keywords = name_keywords(case.category) if method == "category-name" else picker(profile)
        out.append(
            Interest(
                key=n,
                keywords=() if method == "liked-only" else keywords,
                liked=tuple(profile[:LIKED]) if method.startswith(("liked", "full")) else (),
                disliked=disliked if method == "full + feedback" else (),
                seen=frozenset(p.id for p in (*profile, *disliked)),
                min_score=-1.0,
                limit=K,
            )
        )
    return out


def metrics(ranked: Sequence[str], relevant: set[str], n_relevant: int) -> tuple[float, float]:
    gains = [1.0 if pid in relevant else 0.0 for pid in ranked[:K]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(K, n_relevant)))
    return sum(gains) / K, dcg / ideal if ideal else 0.0


def evaluate(
    ranker: Callable[[list[Interest]], dict[int, list[str]]],
    method: str,
    cases: Sequence[Case],
    papers: Sequence[Paper],
    labels: Sequence[frozenset[str]],
    picker: KeywordPicker,
) -> tuple[float, float]:
    """Macro-averaged (over categories) precision@10 and nDCG@10."""
    result = ranker(interests(method, cases, papers, picker))
    per_cat: dict[str, list[tuple[float, float]]] = {}
    for n, case in enumerate(cases):
        seen = set(case.profile) | set(case.disliked)
        relevant = {p.id for i, p in enumerate(papers) if case.category in labels[i]}
        relevant -= {papers[i].id for i in seen}
        per_cat.setdefault(case.category, []).append(metrics(result[n], relevant, len(relevant)))
    means = [np.mean(v, axis=0) for v in per_cat.values()]
    p, ndcg = np.mean(means, axis=0)
    return float(p), float(ndcg)


def random_ranker(
    papers: Sequence[Paper], seed: int
) -> Callable[[list[Interest]], dict[int, list[str]]]:
    def ranker(profiles: list[Interest]) -> dict[int, list[str]]:
        rng = random.Random(seed)
        out = {}
        for i in profiles:
            pool = [p.id for p in papers if p.id not in i.seen]
            out[i.key] = rng.sample(pool, K)
        return out

    return ranker


def model_ranker(
    vectorizer: Any,
    papers: Sequence[Paper],
    diversity: float,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
) -> Callable[[list[Interest]], dict[int, list[str]]]:
    def ranker(profiles: list[Interest]) -> dict[int, list[str]]:
        # What would be sent first, then the rest: the "strong enough" floors must not
        # shorten a list that measures ordering.
        picks = rank(
            vectorizer,
            papers,
            profiles,
            diversity=diversity,
            weights=weights,
            include_below_threshold=True,
        )
        return {k: [p.paper_id for p in v] for k, v in picks.items()}

    return ranker


METHODS = ("keywords", "category-name", "liked-only", "full", "full + feedback")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("csv", nargs="?", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--reviewers", type=Path, default=DEFAULT_REVIEWERS)
    parser.add_argument("--listings", type=Path, default=DEFAULT_LISTINGS)
    parser.add_argument("--draws", type=int, default=10, help="profiles per category")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--diversity", type=float, default=0.7)
    parser.add_argument("--sweep", action="store_true", help="also compare settings")
    args = parser.parse_args(argv)
    if not args.csv.exists():
        parser.error(f"{args.csv}: no such file; pass the dataset's path")

    started = time.perf_counter()
    papers, labels = load(args.csv)
    cases = make_cases(labels, args.draws, args.seed)
    texts = [p.text for p in papers]
    vectorizer = fit_model(texts)
    picker = KeywordPicker(texts)
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )
    categories = sorted({c.category for c in cases})
    print(
        f"# {args.csv.name}: {len(papers)} papers, {len(categories)} categories with "
        f">= {MIN_PAPERS} papers ({', '.join(categories)}), {args.draws} draws each, "
        f"vocabulary {len(vectorizer.vocabulary_)} terms"
    )
    print(f"{'method':<38} {'P@10':>6} {'nDCG@10':>8}")
    runs: list[tuple[str, str, Callable[[list[Interest]], dict[int, list[str]]]]] = [
        ("random", "full", random_ranker(papers, args.seed))
    ]
    ranker = model_ranker(vectorizer, papers, args.diversity)
    runs += [(f"{m} (diversity {args.diversity})", m, ranker) for m in METHODS]
    runs.append(("full (diversity 1.0: no MMR)", "full", model_ranker(vectorizer, papers, 1.0)))
    for name, method, fn in runs:
        p, ndcg = evaluate(fn, method, cases, papers, labels, picker)
        print(f"{name:<38} {p:6.3f} {ndcg:8.3f}")
    if args.sweep:
        sweep(papers, labels, cases, picker, args.diversity)
    if args.listings.exists():
        specificity_report(args.listings)
    if args.reviewers.exists():
        real_users(args.reviewers, args.diversity, args.sweep)
    else:
        print(f"# {args.reviewers}: not found, real-user evaluation skipped")
    print(f"# {time.perf_counter() - started:.1f} s")
    return 0


def sweep(
    papers: Sequence[Paper],
    labels: Sequence[frozenset[str]],
    cases: Sequence[Case],
    picker: KeywordPicker,
    diversity: float,
) -> None:
    """nDCG@10 of other vectorizer settings and score weights."""
    texts = [p.text for p in papers]
    methods = ("keywords", "liked-only", "full", "full + feedback")
    print(f"\n# vectorizer settings; nDCG@10 of {' / '.join(methods)}")
    for ngram in ((1, 1), (1, 2)):
        for min_df in (1, 2, 5):
            for max_df in (0.05, 0.1, 0.2, 0.5, 1.0):
                vec = build_vectorizer(len(texts)).set_params(
                    ngram_range=ngram, min_df=min_df, max_df=max_df
                )
                vec.fit(texts)
                ranker = model_ranker(vec, papers, diversity)
                scores = [evaluate(ranker, m, cases, papers, labels, picker)[1] for m in methods]
                print(
                    f"ngram={ngram} min_df={min_df} max_df={max_df:<4} "
                    f"vocab={len(vec.vocabulary_):>6}  " + " / ".join(f"{s:.3f}" for s in scores)
                )
    vectorizer = fit_model(texts)
    print(f"\n# score weights; nDCG@10 of {' / '.join(methods)}")
    variants: dict[str, dict[str, float]] = {
        "defaults": {},
        "keyword_similarity=0": {"keyword_similarity": 0},
        "keyword_similarity=1": {"keyword_similarity": 1},
        "keyword_match=0.5": {"keyword_match": 0.5},
        "keyword_match=2": {"keyword_match": 2},
        "liked_mean=0": {"liked_mean": 0},
        "liked_nearest=0": {"liked_nearest": 0},
        "liked_mean=1, liked_nearest=1": {"liked_mean": 1, "liked_nearest": 1},
        "liked_mean=2, liked_nearest=2": {"liked_mean": 2, "liked_nearest": 2},
        "classifier=0": {"classifier": 0},
        "classifier=1": {"classifier": 1},
        "disliked=0": {"disliked": 0},
        "disliked=1": {"disliked": 1},
    }
    for name, change in variants.items():
        weights = dataclasses.replace(DEFAULT_WEIGHTS, **change)
        ranker = model_ranker(vectorizer, papers, diversity, weights)
        scores = [evaluate(ranker, m, cases, papers, labels, picker)[1] for m in methods]
        print(f"{name:<32} " + " / ".join(f"{s:.3f}" for s in scores))


if __name__ == "__main__":
    raise SystemExit(main())
