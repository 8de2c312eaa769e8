"""The pipeline: wires the store, the ranker, the renderer and the transports.

This module reads from the store and passes plain data to the pure stages.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from .config import Config
from .model_cache import load_or_fit
from .models import Paper, Pick, Subscriber
from .rank import Interest, rank
from .store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranking:
    """Picks for a set of subscribers, and the candidate papers they were drawn from."""

    picks: dict[int, list[Pick]]  # subscriber id → picks, best first
    candidates: dict[str, Paper]  # paper id → paper

    def papers_for(self, subscriber_id: int) -> list[tuple[Paper, Pick]]:
        return [(self.candidates[p.paper_id], p) for p in self.picks.get(subscriber_id, [])]


def lookback_window(config: Config, today: dt.date) -> tuple[str, str]:
    """The first-seen days whose papers are candidates on ``today`` (inclusive ISO dates)."""
    start = today - dt.timedelta(days=config.ranking.lookback_days - 1)
    return start.isoformat(), today.isoformat()


def build_interests(
    store: Store, config: Config, subscribers: Sequence[Subscriber], *, limit: int | None = None
) -> list[Interest]:
    """Everything the ranker needs to know about each subscriber, read in a few queries.

    Liked papers are the profile's likes plus "more like this" feedback; disliked the
    profile's dislikes plus "less like this" (the latest vote on a paper wins).
    """
    ids = [s.id for s in subscribers]
    profiles = store.profiles(ids)
    votes = store.feedback_votes(ids)
    sent = store.sent_paper_ids(ids)
    wanted: set[str] = set()
    for sub in subscribers:
        wanted.update(profiles[sub.id].liked, profiles[sub.id].disliked, votes[sub.id])
    papers = store.papers_by_id(wanted)
    interests = []
    for sub in subscribers:
        profile, sub_votes = profiles[sub.id], votes[sub.id]
        liked = [p for p in profile.liked if sub_votes.get(p, 1) > 0]
        liked += [p for p, v in sub_votes.items() if v > 0 and p not in liked]
        disliked = [p for p in profile.disliked if sub_votes.get(p, -1) < 0]
        disliked += [p for p, v in sub_votes.items() if v < 0 and p not in disliked]
        interests.append(
            Interest(
                key=str(sub.id),
                keywords=profile.keywords,
                exclude=profile.exclude,
                description=profile.description,
                liked=tuple(papers[p] for p in liked if p in papers),
                disliked=tuple(papers[p] for p in disliked if p in papers),
                seen=frozenset(sent[sub.id] | set(liked) | set(disliked)),
                min_score=sub.min_score if sub.min_score is not None else config.ranking.min_score,
                limit=limit if limit is not None else sub.max_papers,
            )
        )
    return interests


def rank_subscribers(
    store: Store,
    config: Config,
    subscribers: Sequence[Subscriber],
    *,
    today: dt.date,
    limit: int | None = None,
    include_below_threshold: bool = False,
) -> Ranking:
    """Rank the unseen candidates of ``today``'s lookback window for each subscriber."""
    since, until = lookback_window(config, today)
    candidates = store.papers(since=since, until=until)
    if not candidates or not subscribers:
        return Ranking({s.id: [] for s in subscribers}, {p.id: p for p in candidates})
    vectorizer = load_or_fit(
        config.store.cache_dir, store.corpus_fingerprint(), lambda: list(store.iter_paper_texts())
    )
    interests = build_interests(store, config, subscribers, limit=limit)
    ranked = rank(
        vectorizer,
        candidates,
        interests,
        diversity=config.ranking.diversity,
        include_below_threshold=include_below_threshold,
    )
    return Ranking(
        {int(key): picks for key, picks in ranked.items()}, {p.id: p for p in candidates}
    )
