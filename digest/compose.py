"""Compose a day's digests: rank each subscriber's unseen papers and decide what each shows.

Owns :func:`compose`, the one way the daily run, ``digest preview``, ``digest rank`` and the
admin editor's live preview turn (store, config, subscribers, day, optional unsaved
profiles) into a :class:`Composition`: the :class:`Ranking` and, per subscriber, the
:class:`~digest.records.DigestContent` to render. :func:`compose` is :func:`prepare_day`
(the day's candidates, model and the candidates' side of the ranker: a :class:`DayRanking`)
then :meth:`DayRanking.compose`; the daily run prepares the day once and composes its
subscribers slice by slice (``compose(..., prepared=...)``), rendering one slice while it
ranks the next. Also the adapter between the store and
the pure ranker (:func:`build_interests`, :func:`rank_subscribers`, :func:`rank_interests`,
:func:`lookback_window`) and what every digest of a day shows alike (:class:`DayFacts`).

Reads the store, writes nothing. May import records, config, store and rank (so importing
it imports scikit-learn); never render, transports, run, web or cli: it returns content and
the caller renders it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from .config import Config
from .profiles import liked_and_disliked
from .progress import NO_PROGRESS, Progress
from .rank import Interest, Ranker, load_or_fit
from .records import DigestContent, Paper, Pick, Profile, Subscriber
from .store import Store


@dataclass(frozen=True)
class Ranking:
    """Picks for a set of subscribers, and the candidate papers they were drawn from."""

    picks: dict[int, list[Pick]]  # subscriber id → picks, best first
    candidates: dict[str, Paper]  # paper id → paper

    def papers_for(self, subscriber_id: int) -> list[tuple[Paper, Pick]]:
        return [(self.candidates[p.paper_id], p) for p in self.picks.get(subscriber_id, [])]


@dataclass(frozen=True)
class DayFacts:
    """What every digest of one day shows alike: trending papers, the count of new ones."""

    day: dt.date
    trending: tuple[Paper, ...]
    new_papers: int

    @classmethod
    def of(cls, store: Store, config: Config, day: dt.date) -> DayFacts:
        return cls(
            day=day,
            trending=tuple(store.trending(day, limit=config.ranking.trending_count)),
            new_papers=store.new_paper_count(day),
        )


@dataclass(frozen=True)
class Composition:
    """One day's digests for a set of subscribers: the ranking and what each digest shows."""

    ranking: Ranking
    facts: DayFacts
    subscribers: Mapping[int, Subscriber]  # as composed (an unsaved edit included)
    profiles: Mapping[int, Profile]
    resumed: Mapping[int, tuple[tuple[Paper, Pick], ...]]  # picks decided by an earlier run

    @property
    def candidates(self) -> int:
        """How many candidate papers the ranker weighed."""
        return len(self.ranking.candidates)

    def picks(self, subscriber_id: int) -> tuple[tuple[Paper, Pick], ...]:
        """The subscriber's picks, best first: resumed ones as recorded, else ranked."""
        resumed = self.resumed.get(subscriber_id)
        if resumed is not None:
            return resumed
        return tuple(self.ranking.papers_for(subscriber_id))

    def contents(self) -> Iterator[DigestContent]:
        """Every subscriber's :meth:`content`, in the order the subscribers were given."""
        for subscriber_id in self.subscribers:
            yield self.content(subscriber_id)

    def content(self, subscriber_id: int) -> DigestContent:
        """Everything the subscriber's digest of this day shows, ready to render."""
        facts = self.facts
        picks = self.picks(subscriber_id)
        # Trending lists only what the picks do not already show.
        picked = {paper.id for paper, _ in picks}
        trending = tuple(p for p in facts.trending if p.id not in picked)
        return DigestContent(
            subscriber=self.subscribers[subscriber_id],
            profile=self.profiles[subscriber_id],
            picks=picks,
            digest_date=facts.day,
            trending=trending,
            trending_all_picked=bool(facts.trending) and not trending,
            new_paper_count=facts.new_papers,
            below_threshold_count=self.candidates,
        )


@dataclass(frozen=True)
class DayRanking:
    """One day's ranking, prepared once for any number of subscribers: the candidates (new
    papers of the lookback window), the fitted model and the candidates' side of the
    ranker (:class:`~digest.rank.Ranker`), and what every digest of the day shows alike.

    Every subscriber composed with it, all at once or slice by slice, is ranked against
    the same candidates by the same model, so a slice's picks are those the subscriber
    gets when everyone is ranked at once.
    """

    facts: DayFacts
    candidates: dict[str, Paper]  # paper id → paper
    ranker: Ranker | None  # None: no candidates, or nothing to rank (see prepare_day)

    def rank(self, interests: Callable[[], list[Interest]]) -> Ranking:
        """The picks of ``interests`` (keys are subscriber ids), called only when there are
        candidates to rank: a day with none reads no profiles, feedback or sends."""
        if self.ranker is None:
            return Ranking({}, self.candidates)
        return Ranking(self.ranker.rank(interests()), self.candidates)

    def compose(
        self,
        store: Store,
        config: Config,
        subscribers: Sequence[Subscriber],
        *,
        profiles: Mapping[int, Profile] | None = None,
        resume: Mapping[int, Sequence[Pick]] | None = None,
        limit: int | None = None,
    ) -> Composition:
        """The :class:`Composition` of ``subscribers`` (see :func:`compose` for the options)."""
        given = resume or {}
        resume = {s.id: given[s.id] for s in subscribers if s.id in given}
        overrides = profiles or {}
        stored = store.profiles(s.id for s in subscribers if s.id not in overrides)
        all_profiles = {**stored, **overrides}
        ranked = [s for s in subscribers if s.id not in resume]
        ranking = (
            self.rank(
                lambda: build_interests(store, config, ranked, limit=limit, profiles=all_profiles)
            )
            if ranked
            else Ranking({}, self.candidates)
        )
        recorded = store.papers_by_id(p.paper_id for picks in resume.values() for p in picks)
        resumed = {
            sub_id: tuple((recorded[p.paper_id], p) for p in picks if p.paper_id in recorded)
            for sub_id, picks in resume.items()
        }
        return Composition(
            ranking=ranking,
            facts=self.facts,
            subscribers={s.id: s for s in subscribers},
            profiles=all_profiles,
            resumed=resumed,
        )


def prepare_day(
    store: Store,
    config: Config,
    day: dt.date,
    *,
    ranking: bool = True,
    include_below_threshold: bool = False,
    progress: Progress = NO_PROGRESS,
) -> DayRanking:
    """Prepare ``day``'s ranking: read its candidates, load (or fit) the model and build
    the candidates' side of the ranker. With ``ranking`` False (every digest's picks were
    recorded by an earlier run) neither candidates nor model are read.

    Raises :class:`~digest.errors.DigestError` when the model cannot be fitted.
    """
    candidates, ranker = (
        _prepared_ranker(
            store, config, day, include_below_threshold=include_below_threshold, progress=progress
        )
        if ranking
        else ({}, None)
    )
    return DayRanking(facts=DayFacts.of(store, config, day), candidates=candidates, ranker=ranker)


def compose(
    store: Store,
    config: Config,
    subscribers: Sequence[Subscriber],
    day: dt.date,
    *,
    profiles: Mapping[int, Profile] | None = None,
    resume: Mapping[int, Sequence[Pick]] | None = None,
    limit: int | None = None,
    include_below_threshold: bool = False,
    progress: Progress = NO_PROGRESS,
    prepared: DayRanking | None = None,
) -> Composition:
    """Rank and compose ``day``'s digests of ``subscribers``.

    ``subscribers`` may carry unsaved settings (``max_papers``, ``min_score``, … from an
    editor) and ``profiles`` replaces stored profiles (an unsaved one, or one for a
    subscriber who is not stored, like ``digest preview --sample``). ``resume`` holds the
    picks already recorded for a digest (rendered before a crash): those subscribers are
    not ranked again and keep those papers. ``limit`` overrides each ``max_papers`` and
    ``include_below_threshold`` keeps papers under ``min_score`` (``digest rank --all``).

    ``prepared`` is ``day``'s ranking prepared already (:func:`prepare_day`; the daily run
    prepares it once and composes its subscribers a slice at a time); then
    ``include_below_threshold`` and ``progress`` are those it was prepared with. Raises
    ValueError when it was prepared for another day.
    """
    resume = resume or {}
    if prepared is None:
        prepared = prepare_day(
            store,
            config,
            day,
            ranking=any(s.id not in resume for s in subscribers),
            include_below_threshold=include_below_threshold,
            progress=progress,
        )
    elif prepared.facts.day != day:
        raise ValueError(f"the ranking was prepared for {prepared.facts.day}, not {day}")
    return prepared.compose(
        store, config, subscribers, profiles=profiles, resume=resume, limit=limit
    )


# --- the ranking adapter: store → ranker ---------------------------------------------------


def lookback_window(config: Config, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first-seen days whose papers are candidates on ``today`` (inclusive).

    A window reaching back past ``date.min`` starts there instead of overflowing.
    """
    back = config.ranking.lookback_days - 1
    if back >= (today - dt.date.min).days:
        return dt.date.min, today
    return today - dt.timedelta(days=back), today


def build_interests(
    store: Store,
    config: Config,
    subscribers: Sequence[Subscriber],
    *,
    limit: int | None = None,
    profiles: Mapping[int, Profile] | None = None,
) -> list[Interest]:
    """Everything the ranker needs to know about each subscriber, read in a few queries.

    Liked papers are the profile's likes plus "more like this" feedback; disliked the
    profile's dislikes plus "less like this" (the latest vote on a paper wins). ``profiles``
    replaces stored profiles (the web editor previews an unsaved one); the store is asked
    only for the others.
    """
    ids = [s.id for s in subscribers]
    given = profiles or {}
    profiles = {**store.profiles(i for i in ids if i not in given), **given}
    votes = store.feedback_votes(ids)
    sent = store.sent_paper_ids(ids)
    wanted: set[str] = set()
    for sub in subscribers:
        wanted.update(profiles[sub.id].liked, profiles[sub.id].disliked, votes[sub.id])
    papers = store.papers_by_id(wanted)
    interests = []
    for sub in subscribers:
        profile = profiles[sub.id]
        liked, disliked = liked_and_disliked(profile, votes[sub.id])
        interests.append(
            Interest(
                key=sub.id,
                keywords=profile.keywords,
                exclude=profile.exclude,
                description=profile.description,
                liked=tuple(papers[p] for p in liked if p in papers),
                disliked=tuple(papers[p] for p in disliked if p in papers),
                # Rated ids as stored, and the ids those papers have now.
                seen=frozenset(
                    sent[sub.id]
                    | set(liked)
                    | set(disliked)
                    | {papers[p].id for p in (*liked, *disliked) if p in papers}
                ),
                min_score=sub.min_score if sub.min_score is not None else config.ranking.min_score,
                limit=limit if limit is not None else sub.max_papers,
                authors=profile.authors,
                categories=profile.categories,
                exclude_categories=profile.exclude_categories,
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
    profiles: Mapping[int, Profile] | None = None,
    progress: Progress = NO_PROGRESS,
) -> Ranking:
    """Rank the unseen candidates of ``today``'s lookback window for each subscriber."""
    if not subscribers:
        return Ranking({}, {})
    return rank_interests(
        store,
        config,
        lambda: build_interests(store, config, subscribers, limit=limit, profiles=profiles),
        today=today,
        include_below_threshold=include_below_threshold,
        progress=progress,
    )


def rank_interests(
    store: Store,
    config: Config,
    interests: Callable[[], list[Interest]],
    *,
    today: dt.date,
    include_below_threshold: bool = False,
    progress: Progress = NO_PROGRESS,
) -> Ranking:
    """Rank ``today``'s candidates (new papers of the lookback window; old papers, first
    seen as replacements, never are) for prepared interests (keys are subscriber ids).

    ``interests`` is called only when there are candidates: a day with none reads no
    profiles, feedback or sends.
    """
    candidates, ranker = _prepared_ranker(
        store, config, today, include_below_threshold=include_below_threshold, progress=progress
    )
    if ranker is None:
        return Ranking({}, candidates)
    return Ranking(ranker.rank(interests()), candidates)


def _prepared_ranker(
    store: Store,
    config: Config,
    today: dt.date,
    *,
    include_below_threshold: bool,
    progress: Progress,
) -> tuple[dict[str, Paper], Ranker | None]:
    """``today``'s candidates by id, and a ranker for them (None when there are none)."""
    since, until = lookback_window(config, today)
    candidates = store.papers(since=since, until=until, new_only=True)
    by_id = {p.id: p for p in candidates}
    if not candidates:
        return by_id, None
    with contextlib.ExitStack() as fitting:

        def texts() -> list[str]:
            # Called only when the cached model is stale: the fit that follows is the slow
            # part (a minute on 50k papers), so the step lasts until load_or_fit returns.
            fitting.enter_context(progress.step("fitting the ranking model on the papers"))
            return list(store.iter_paper_texts())

        vectorizer = load_or_fit(config.store.cache_dir, store.corpus_fingerprint(), texts)
    ranker = Ranker(
        vectorizer,
        candidates,
        diversity=config.ranking.diversity,
        include_below_threshold=include_below_threshold,
    )
    return by_id, ranker
