"""Real users for benchmarks/eval_ranking.py: reviewer-match, and term specificity.

For each of the 53 researchers of ``../shared/datasets/reviewer-match/`` (see its README),
their 5 most recent own papers are the liked papers of an Interest and rank() orders the
463 rated candidates as ``digest rank --all`` does; beside it, in the same run, the
arxiv-sanity-lite recipe and a TF-IDF centroid. Also how many rated papers pass each send
floor, and the specificity of a few terms in a store of the shared listings. Run through
eval_ranking.py, which prints the figures the README quotes.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.rank import (
    Interest,
    build_vectorizer,
    fit_model,
    rank,
)
from digest.rank.batch import description_vectors
from digest.rank.signals.description import DESCRIPTION_FLOOR
from digest.rank.signals.liked import LIKED_FLOOR
from digest.rank.terms import TermIndex
from digest.rank.vectorizing import Vectorize
from digest.records import Paper
from digest.sources.formats import parse_listing

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REVIEWERS = REPO.parent / "shared" / "datasets" / "reviewer-match"
DEFAULT_LISTINGS = REPO.parent / "shared" / "listings"
# Terms whose specificity on the shared listings the constants of digest.rank.specificity cite.
SPECIFICITY_TERMS = ("models", "large", "learning", "code", "vision", "llm", "speech",
                     "diffusion", "code generation", "coverage", "free", "ml")  # fmt: skip
TODAY = datetime.date(2026, 12, 1)  # a date line's year, for the text pages
OWN_LIKED = 5  # the most recent own papers that stand for a researcher's library
RELEVANT_RATING = 4.0
RECALL_AT = 50
K = 10


# -- real users: reviewer-match ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Researcher:
    """One researcher of reviewer-match: own papers (newest first) and 1-5 ratings."""

    own: tuple[str, ...]
    ratings: dict[str, float]


def load_reviewers(folder: Path) -> tuple[dict[str, Paper], list[str], list[Researcher]]:
    """Every paper by id, the candidate ids (the rated papers) and the researchers."""
    papers: dict[str, Paper] = {}
    candidates: list[str] = []
    with (folder / "papers.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            title, abstract = " ".join(row["title"].split()), " ".join(row["abstract"].split())
            papers[row["id"]] = Paper(id=row["id"], title=title, abstract=abstract)
            if row["candidate"]:
                candidates.append(row["id"])
    with (folder / "profiles.jsonl").open(encoding="utf-8") as f:
        people = [json.loads(line) for line in f]
    return (
        papers,
        candidates,
        [Researcher(tuple(p["own_papers"]), dict(p["ratings"])) for p in people],
    )


def user_metrics(order: Sequence[str], who: Researcher) -> tuple[float, float, float] | None:
    """nDCG@10, recall@50 and pairwise accuracy of one researcher's ordering (None: no
    paper rated relevant, so nDCG is undefined)."""
    relevant = {p for p, r in who.ratings.items() if r >= RELEVANT_RATING}
    if not relevant:
        return None
    gains = [1.0 if p in relevant else 0.0 for p in order[:K]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(K, len(relevant))))
    recall = len(relevant & set(order[:RECALL_AT])) / len(relevant)
    position = {p: i for i, p in enumerate(order)}
    rated = [(p, r) for p, r in who.ratings.items() if p in position]
    agree = total = 0
    for a, ra in rated:
        for b, rb in rated:
            if ra > rb:
                total += 1
                agree += position[a] < position[b]
    return dcg / ideal, recall, agree / total if total else 0.5


UserRanker = Callable[[Researcher], list[str]]


def digest_user_ranker(
    vectorizer: Any, papers: dict[str, Paper], candidates: list[str], diversity: float
) -> Callable[[list[Researcher]], list[list[str]]]:
    """All researchers at once through rank(), as ``digest rank --all`` calls it."""
    cands = [papers[c] for c in candidates]

    def ranker(people: list[Researcher]) -> list[list[str]]:
        interests = [
            Interest(key=n, liked=tuple(papers[p] for p in who.own[:OWN_LIKED]), limit=len(cands))
            for n, who in enumerate(people)
        ]
        picks = rank(
            vectorizer, cands, interests, diversity=diversity, include_below_threshold=True
        )
        return [[p.paper_id for p in picks[n]] for n in range(len(people))]

    return ranker


def arxiv_sanity_vectorizer() -> TfidfVectorizer:
    """arxiv-sanity-lite's compute.py TF-IDF, as it spells it."""
    return TfidfVectorizer(
        input="content",
        encoding="utf-8",
        decode_error="replace",
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        max_df=0.1,
        min_df=5,
    )


def peer_rankers(
    papers: dict[str, Paper], candidates: list[str]
) -> dict[str, Callable[[list[Researcher]], list[list[str]]]]:
    """arxiv-sanity-lite (a LinearSVC per profile on the whole corpus) and a centroid."""
    ids = list(papers)
    row = {p: i for i, p in enumerate(ids)}
    x = arxiv_sanity_vectorizer().fit_transform([papers[p].text for p in ids])
    cand_rows = [row[c] for c in candidates]

    def ordered(scores: np.ndarray) -> list[str]:
        return [candidates[i] for i in np.argsort(-scores, kind="stable")]

    def svm(people: list[Researcher]) -> list[list[str]]:
        out = []
        for who in people:
            y = np.zeros(len(ids))
            y[[row[p] for p in who.own[:OWN_LIKED]]] = 1
            clf = LinearSVC(
                class_weight="balanced", verbose=0, max_iter=1_000_000, tol=1e-6, C=0.01
            )
            clf.fit(x, y)
            out.append(ordered(clf.decision_function(x[cand_rows])))
        return out

    def centroid(people: list[Researcher]) -> list[list[str]]:
        out = []
        for who in people:
            c = np.asarray(x[[row[p] for p in who.own[:OWN_LIKED]]].mean(axis=0)).ravel()
            out.append(ordered(np.asarray(x[cand_rows] @ c).ravel()))
        return out

    return {"arxiv-sanity (tfidf + LinearSVC)": svm, "tf-idf centroid": centroid}


def score_users(
    ranker: Callable[[list[Researcher]], list[list[str]]], people: list[Researcher]
) -> np.ndarray:
    """profiles × (nDCG@10, recall@50, pairwise); NaN rows for profiles with no relevant."""
    orders = ranker(people)
    out = np.full((len(people), 3), np.nan)
    for n, (order, who) in enumerate(zip(orders, people, strict=True)):
        m = user_metrics(order, who)
        if m is not None:
            out[n] = m
    return out


def real_users(folder: Path, diversity: float, sweep: bool) -> None:
    papers, candidates, people = load_reviewers(folder)
    texts = [p.text for p in papers.values()]
    vectorizer = fit_model(texts)
    figures = np.full(0, 0.0)
    print(
        f"\n# real users ({folder.name}): {len(people)} researchers, {len(candidates)} rated "
        f"candidates, {len(papers)} papers; liked = {OWN_LIKED} newest own papers; "
        f"relevant = rated >= {RELEVANT_RATING}; mean ± sd over profiles with a relevant paper"
    )
    print(f"{'method':<40} {'nDCG@10':>13} {'recall@50':>13} {'pairwise':>13}")
    runs = {
        f"digest (diversity {diversity})": digest_user_ranker(
            vectorizer, papers, candidates, diversity
        )
    }
    runs.update(peer_rankers(papers, candidates))
    results = {}
    for name, ranker in runs.items():
        figures = score_users(ranker, people)
        results[name] = figures
        print(f"{name:<40} " + " ".join(_mean_sd(figures[:, i]) for i in range(3)))
    ours, svm = results[next(iter(runs))], results["arxiv-sanity (tfidf + LinearSVC)"]
    diff = ours[:, 0] - svm[:, 0]
    diff = diff[~np.isnan(diff)]
    print(
        f"# digest - arxiv-sanity nDCG@10, paired: {diff.mean():+.3f} "
        f"(standard error {diff.std(ddof=1) / math.sqrt(len(diff)):.3f}, {len(diff)} profiles)"
    )
    _floors(vectorizer, papers, candidates, people)
    if not sweep:
        return
    print("\n# digest settings on real users: nDCG@10 / recall@50 / pairwise")
    for div in (1.0, 0.9, 0.8, 0.7):
        f = score_users(digest_user_ranker(vectorizer, papers, candidates, div), people)
        print(f"diversity={div:<4} max_df=default  " + _means(f))
    for max_df in (0.05, 0.1, 0.2, 0.5, 1.0):
        vec = build_vectorizer(len(texts)).set_params(max_df=max_df).fit(texts)
        f = score_users(digest_user_ranker(vec, papers, candidates, diversity), people)
        print(f"diversity={diversity:<4} max_df={max_df:<7} " + _means(f))


def _mean_sd(column: np.ndarray) -> str:
    return f"{np.nanmean(column):.3f} ± {np.nanstd(column):.2f}"


def _means(figures: np.ndarray) -> str:
    return " / ".join(f"{np.nanmean(figures[:, i]):.3f}" for i in range(3))


def _floors(
    vectorizer: Any, papers: dict[str, Paper], candidates: list[str], people: list[Researcher]
) -> None:
    """Share of relevant (>= 4) and unrelated (<= 2) rated papers whose cosine to the nearest
    liked paper (or to a one-line description: the newest own paper's title) passes a floor."""
    vectorize = Vectorize(vectorizer)
    x = vectorize([papers[c].text for c in candidates])
    at = {c: i for i, c in enumerate(candidates)}
    sims: dict[str, tuple[list[float], list[float]]] = {
        "one vote": ([], []),
        f"{OWN_LIKED} votes": ([], []),
        "description": ([], []),
    }
    for who in people:
        liked = vectorize([papers[p].text for p in who.own[:OWN_LIKED]])
        cos = (liked @ x.T).toarray()
        nearest = cos.max(axis=0)
        title = description_vectors(vectorizer, [papers[who.own[0]].title], vectorize)[0]
        desc = np.asarray((title @ x.T).toarray()).ravel()
        for p, r in who.ratings.items():
            side = 0 if r >= RELEVANT_RATING else 1 if r <= 2 else -1
            if side >= 0:
                sims["one vote"][side].append(float(cos[0, at[p]]))
                sims[f"{OWN_LIKED} votes"][side].append(float(nearest[at[p]]))
                sims["description"][side].append(float(desc[at[p]]))
    print(
        "\n# floors: share of relevant / unrelated (rated <= 2) papers at or above each value:"
        "\n# cosine to the newest own paper (one vote), to the nearest of the 5 newest (5 votes),"
        "\n# to the newest one's title (a description)"
    )
    current = {
        "one vote": LIKED_FLOOR,
        f"{OWN_LIKED} votes": LIKED_FLOOR,
        "description": DESCRIPTION_FLOOR,
    }
    for name, (good, bad) in sims.items():
        cells = []
        for floor in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
            g = np.mean(np.array(good) >= floor)
            b = np.mean(np.array(bad) >= floor)
            mark = "*" if math.isclose(floor, current[name]) else " "
            cells.append(f"{floor:.2f}{mark} {g:.2f}/{b:.2f}")
        print(f"{name:<12} ({len(good)} relevant, {len(bad)} unrelated)  " + "  ".join(cells))


def specificity_report(folder: Path) -> None:
    """Share and specificity of SPECIFICITY_TERMS in a store of the daily-papers dumps."""
    texts: dict[str, str] = {}
    for f in sorted(folder.glob("*.txt")):
        listing = parse_listing(f.read_text(encoding="utf-8"), source=str(f), today=TODAY)
        for r in listing.records:
            texts.setdefault(r.title, f"{r.title}\n{r.abstract}")
    freqs = fit_model(list(texts.values())).term_frequencies_
    index = TermIndex(list(texts.values()))
    print(f"\n# specificity in a store of the {len(texts)} papers of {folder}: share, specificity")
    print(
        "  ".join(
            f"{t}: {len(index.hits(t)) / len(texts):.3f} {freqs.specificity(t):.2f}"
            for t in SPECIFICITY_TERMS
        )
    )
