"""Previews: a subscriber's next digest, rendered but neither sent nor recorded."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage

from .compose import compose
from .config import Config
from .progress import NO_PROGRESS, Progress
from .records import Keyword, Paper, Pick, Profile, Subscriber
from .render import make_renderer
from .store import Store
from .text import plural

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
    progress: Progress = NO_PROGRESS,
) -> Preview:
    """Rank and render ``email``'s digest for ``today`` (the sample subscriber when None)."""
    if email is None:  # not stored: its profile is given
        subscriber, profiles = SAMPLE_SUBSCRIBER, {SAMPLE_SUBSCRIBER.id: SAMPLE_PROFILE}
    else:
        subscriber, profiles = store.subscriber(email), None
    composed = compose(store, config, [subscriber], today, profiles=profiles, progress=progress)
    content = composed.content(subscriber.id)
    renderer = make_renderer(config, secret=secret)
    return Preview(
        email=subscriber.email,
        subject=renderer.subject(content, now=now),
        html=renderer.render_html(content, now=now),
        text=renderer.render_text(content, now=now),
        message=renderer.render(content, now=now),
        picks=content.picks,
        quiet_reason=(
            f"{plural(composed.candidates, 'candidate paper')} in the last "
            f"{plural(config.ranking.lookback_days, 'day')}, none unseen and above the threshold"
        ),
    )
