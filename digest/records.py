"""The records that flow between digest's stages.

Plain frozen dataclasses: parsers produce :class:`PaperRecord`, the store hands out
:class:`Paper`, :class:`Subscriber` and :class:`Profile`, the ranker returns :class:`Pick`,
:mod:`digest.compose` hands the renderer :class:`DigestContent`.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

SUBSCRIBER_STATUSES = ("active", "paused", "unsubscribed", "bounced")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The most papers one digest may hold: more would not fit in one email under Gmail's
# ~102 KB clip (the renderer also drops picks past the size bound; they stay candidates).
MAX_PAPERS = 50
QUIET_DAY_CHOICES = ("skip", "note")
# The range of a relevance threshold: every ranking signal is on a 0..1 scale (see
# digest.rank.signals), so a threshold outside it would keep everything or nothing.
MIN_SCORE_RANGE = (0.0, 1.0)
# arXiv's announcement types (its RSS feeds' ``Announce Type:``): a new submission, a
# cross-list from another category, and a new version of an older paper (``replace``,
# ``replace-cross``). See https://info.arxiv.org/help/rss_specifications.html.
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
REPLACEMENT_TYPES = ("replace", "replace-cross")


def is_valid_min_score(value: object) -> bool:
    """Whether ``value`` is a usable relevance threshold: a finite number (not a bool) in
    :data:`MIN_SCORE_RANGE`. The one check the CLI, import files, the web and config use."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    low, high = MIN_SCORE_RANGE
    return math.isfinite(value) and low <= value <= high


@dataclass(frozen=True, slots=True)
class PaperRecord:
    """One paper as a listing file describes it, before identity and dedupe."""

    title: str
    abstract: str
    arxiv_id: str | None = None
    source_id: str | None = None
    authors: tuple[str, ...] = ()
    url: str | None = None
    published: str | None = None  # ISO date, yyyy-mm-dd
    upvotes: int | None = None
    categories: tuple[str, ...] = ()
    version: int | None = None  # the arXiv version (2 for 2305.07922v2) when the listing says
    announce_type: str | None = None  # one of ANNOUNCE_TYPES when the listing says


@dataclass(frozen=True)
class ParsedListing:
    """What a parser found in one listing file."""

    format: str
    date: str | None  # ISO date of the listing when the file says it
    records: tuple[PaperRecord, ...]


@dataclass(frozen=True)
class ListingStream:
    """A listing whose records are parsed as they are read: a large export is never held
    as records all at once, and a bad record surfaces when the reader reaches it."""

    format: str
    date: str | None
    records: Iterator[PaperRecord]


def paper_text(title: str, abstract: str) -> str:
    """The text the ranker reads for a paper: the corpus it is fitted on and the candidates
    it scores must be made the same way."""
    return f"{title}. {abstract}"


@dataclass(frozen=True)
class Paper:
    """A paper as stored: one row of ``papers``."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    url: str | None = None
    published: str | None = None
    upvotes: int | None = None
    first_seen: str = ""  # ISO date the paper was first ingested
    listing_date: str | None = None  # ISO date of the latest listing that carried it
    categories: tuple[str, ...] = ()  # arXiv categories, primary first, when the source gave them

    @property
    def text(self) -> str:
        """Title and abstract, the text the ranker reads."""
        return paper_text(self.title, self.abstract)


@dataclass(frozen=True)
class Keyword:
    """A weighted interest keyword or phrase (``"program synthesis^2"`` has weight 2)."""

    text: str
    weight: float = 1.0

    def __str__(self) -> str:
        if self.weight == 1.0:
            return self.text
        weight = int(self.weight) if self.weight.is_integer() else self.weight
        return f"{self.text}^{weight}"


@dataclass(frozen=True)
class Profile:
    """A subscriber's interest profile."""

    keywords: tuple[Keyword, ...] = ()
    exclude: tuple[str, ...] = ()
    liked: tuple[str, ...] = ()  # paper ids
    disliked: tuple[str, ...] = ()  # paper ids
    description: str = ""
    authors: tuple[str, ...] = ()  # followed authors, as typed ("Yann LeCun")
    categories: tuple[str, ...] = ()  # followed arXiv categories ("cs.CL")
    exclude_categories: tuple[str, ...] = ()  # a paper in one of these is never sent


@dataclass(frozen=True)
class Subscriber:
    """One row of ``subscribers``."""

    id: int
    email: str
    name: str = ""
    status: str = "active"
    frequency: str = "daily"  # "daily" or "weekly:mon" … "weekly:sun"
    timezone: str = "UTC"
    max_papers: int = 10
    min_score: float | None = None  # None: use the config's ranking.min_score
    quiet_day: str = "skip"  # "skip": no email on a quiet day; "note": a short note
    created: str = ""
    updated: str = ""


# How a pick's reason names the profile keywords it matched ("matches: a, b"): written by
# digest.rank.reasons, read by the renderer for the subject line.
MATCHES_PREFIX = "matches: "


@dataclass(frozen=True)
class Pick:
    """A ranked paper for one subscriber, with the reasons it was picked."""

    paper_id: str
    score: float
    reasons: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class DigestContent:
    """Everything one subscriber's digest shows, decided by the ranker."""

    subscriber: Subscriber
    profile: Profile
    picks: tuple[tuple[Paper, Pick], ...]  # best first
    digest_date: datetime.date
    trending: tuple[Paper, ...] = ()  # today's top papers by upvotes, not among the picks
    trending_all_picked: bool = False  # every trending paper is among the picks
    new_paper_count: int = 0  # candidates considered today, for the quiet-day note
    below_threshold_count: int = 0
    digest_id: int | None = None  # the stored digest (the run sets it): its "view in browser" link
