"""Previews: a subscriber's next digest, rendered but neither sent nor recorded."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage

from .config import Config
from .rank import Interest
from .records import Keyword, Paper, Pick, Profile, Subscriber
from .render import make_renderer
from .run import DayFacts, Ranking, rank_interests, rank_subscribers
from .store import Store

SAMPLE_SUBSCRIBER = Subscriber(
    id=0, email="sample@example.org", name="Sample Reader", quiet_day="note"
)
SAMPLE_PROFILE = Profile(
    keywords=(Keyword("code generation", 2.0), Keyword("retrieval"), Keyword("language model")),
    description="Language models for code and search.",
)


@dataclass(frozen=True)
class Preview:
    email: str
    subject: str
    html: str
    text: str
    message: EmailMessage | None  # None: no email on this quiet day
    picks: tuple[tuple[Paper, Pick], ...]
    quiet_reason: str


def preview_digest(
    store: Store,
    config: Config,
    *,
    email: str | None,
    today: dt.date,
    now: dt.datetime,
    secret: str | None = None,
) -> Preview:
    """Rank and render ``email``'s digest for ``today`` (the sample subscriber when None)."""
    if email is None:
        subscriber, profile = SAMPLE_SUBSCRIBER, SAMPLE_PROFILE
        ranking = _rank_sample(store, config, today)
    else:
        subscriber = store.subscriber(email)
        profile = store.profile(subscriber.id)
        ranking = rank_subscribers(store, config, [subscriber], today=today)
    picks = tuple(ranking.papers_for(subscriber.id))
    content = DayFacts.of(store, config, today).content(
        subscriber, profile, picks, candidates=len(ranking.candidates)
    )
    renderer = make_renderer(config, secret=secret)
    return Preview(
        email=subscriber.email,
        subject=renderer.subject(content, now=now),
        html=renderer.render_html(content, now=now),
        text=renderer.render_text(content, now=now),
        message=renderer.render(content, now=now),
        picks=picks,
        quiet_reason=(
            f"{len(ranking.candidates)} candidate papers in the last "
            f"{config.ranking.lookback_days} days, none unseen and above the threshold"
        ),
    )


def _rank_sample(store: Store, config: Config, today: dt.date) -> Ranking:
    interest = Interest(
        key=SAMPLE_SUBSCRIBER.id,
        keywords=SAMPLE_PROFILE.keywords,
        description=SAMPLE_PROFILE.description,
        min_score=config.ranking.min_score,
        limit=SAMPLE_SUBSCRIBER.max_papers,
    )
    return rank_interests(store, config, lambda: [interest], today=today)
