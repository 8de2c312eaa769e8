"""Trending never repeats a pick: the email's second list shows only what the picks do not."""

from __future__ import annotations

import datetime as dt

from digest.compose import Composition, DayFacts, Ranking
from digest.records import Paper, Pick, Profile, Subscriber

PAPERS = [Paper(id=f"2605.{n:05d}", title=f"Paper {n}", abstract="An abstract.") for n in range(12)]
BY_ID = {p.id: p for p in PAPERS}
DAY = dt.date(2026, 5, 1)
SUB = Subscriber(id=7, email="ada@example.org")
TRENDING = tuple(PAPERS[:3])


def trending_shown(picked: list[Paper]) -> tuple[tuple[Paper, ...], bool]:
    composition = Composition(
        ranking=Ranking({7: [Pick(p.id, 1.0, ("matches: x",)) for p in picked]}, BY_ID),
        facts=DayFacts(day=DAY, trending=TRENDING, new_papers=len(PAPERS)),
        subscribers={7: SUB},
        profiles={7: Profile()},
        resumed={},
    )
    content = composition.content(7)
    return content.trending, content.trending_all_picked


def test_trending_leaves_out_the_picks() -> None:
    assert trending_shown([PAPERS[1], PAPERS[10]]) == ((PAPERS[0], PAPERS[2]), False)


def test_trending_says_so_when_every_trending_paper_was_picked() -> None:
    assert trending_shown(list(PAPERS[:3])) == ((), True)


def test_trending_is_whole_without_picks() -> None:
    assert trending_shown([]) == (TRENDING, False)
