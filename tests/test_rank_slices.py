"""Issue 16: the daily run ranks its subscribers a slice at a time against one prepared day.

- A :class:`~digest.rank.Ranker` (the candidates' side built once) ranks any slicing of
  the interests, in any order, as :func:`~digest.rank.rank` ranks them all at once,
  whatever it keeps of the rated papers between slices.
- Against a real store: subscribers of every kind (keywords, phrases, weights, exclusions,
  a description, liked and disliked papers, feedback, followed authors and categories,
  excluded categories, ``min_score``, ``max_papers``) composed slice by slice against a
  prepared day get the picks and the digest content they get composed all at once; a
  resumed digest keeps its recorded picks.
- Every slice ranks against the day as it was prepared: papers ingested between two
  slices (new candidates, a changed corpus and so a refitted model) reach no later slice.
- A run in several slices (in-process and in two render workers) composes each slice once
  and sends every digest exactly once, byte for byte what a run in one slice sends.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import pytest
import sqlite_utils

import digest.run
from digest.compose import Composition, compose, prepare_day
from digest.config import Config, load_config
from digest.ingest import ingest_file
from digest.rank import Interest, Ranker, rank
from digest.rank import budgets as rank_budgets
from digest.records import Keyword, Pick, Profile, Subscriber
from digest.render import make_renderer
from digest.run import RunContext, run_digests
from digest.store import Store
from digest.store.subscribers import SubscriberSettings, SubscriberUpdate
from digest.transports import OutboxTransport
from tests.run_helpers import TEST_SECRET
from tests.test_rank import CORPUS, fitted, mixed_interests

DAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC)
TOPICS = (
    "program synthesis",
    "speech recognition",
    "graph neural networks",
    "image segmentation",
    "reinforcement learning",
    "machine translation",
)
# Words of each topic, each in a few papers: what liked papers and descriptions share.
TOPIC_WORDS = (
    "compiler sketch enumerative grammar verifier lambda interpreter tactic refactor lisp",
    "phoneme acoustic vocoder prosody spectrogram diarization accent utterance waveform",
    "node molecule spectral citation subgraph adjacency homophily oversmoothing readout",
    "mask pixel boundary panoptic lidar tumor annotation saliency superpixel",
    "reward policy actor critic exploration rollout bandit regret simulator",
    "bilingual parallel lexicon beam alignment multilingual idiom subword bleu",
)
AUTHORS = ("Yann LeCun", "Ada Lovelace", "Grace Hopper", "Alan Turing", "Emmy Noether")
CATEGORIES = ("cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "math.OC")


# -- the pure ranker -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "budgets",
    [
        {},
        {"RATED_CACHE_CELLS": 0},  # no rated paper's cosines kept across slices
        {"RATED_CACHE_CELLS": 3 * len(CORPUS)},  # three kept, the rest per slice
        {"RATED_CELL_BUDGET": 10},  # rated-paper cosines per chunk
    ],
)
def test_a_ranker_ranks_any_slicing_as_rank_ranks_everyone(
    budgets: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in budgets.items():
        monkeypatch.setattr(rank_budgets, name, value)
    model = fitted()
    interests = [
        *mixed_interests(),
        # The same keyword typed otherwise, first met by a later slice.
        Interest(11, keywords=(Keyword("Program  Synthesis", 3), Keyword("COMPILER"))),
        Interest(12, keywords=(Keyword("phoneme"),), exclude=("camera",), min_score=0.5),
    ]
    whole = rank(model, CORPUS, interests)
    assert sum(bool(picks) for picks in whole.values()) >= len(interests) - 2
    for size in (1, 2, 3):
        parts = [interests[i : i + size] for i in range(0, len(interests), size)]
        for order in (parts, parts[::-1]):  # the memos fill in another order
            ranker = Ranker(model, CORPUS)
            sliced: dict[int, list[Pick]] = {}
            for part in order:
                sliced.update(ranker.rank(part))
            assert sliced == whole, size


# -- against a real store --------------------------------------------------------------------


def record(n: int, prefix: str) -> dict[str, object]:
    topic, other = n % 6, (n * 5 + 2) % 6
    words = TOPIC_WORDS[topic].split()
    own = " ".join(words[(n // 6 + k) % len(words)] for k in range(4))
    return {
        "id": f"{prefix}.{n:05d}",
        "title": f"{TOPICS[topic].title()} with {TOPICS[other]}: study {n}",
        "abstract": f"We study {TOPICS[topic]} through {own}, and {TOPICS[other]} too.",
        "authors": [AUTHORS[n % 5], f"Author {n % 7}"],
        "categories": [CATEGORIES[n % 6], CATEGORIES[(n + 2) % 6]],
        "upvotes": n % 13,
    }


def ingest(store: Store, folder: Path, name: str, records: list[dict[str, object]], day: dt.date):
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = ingest_file(store, path, today=day, now=NOW)
    assert not result.failed, result.message


def old(n: int) -> str:
    return f"2610.{n:05d}"


def profile(n: int) -> Profile:
    """Subscriber ``n``'s profile: each kind of interest in turn, and mixes of them."""
    kind = n % 8
    return Profile(
        keywords=(
            (Keyword(TOPICS[n % 6], float(1 + n % 3)), Keyword(TOPICS[(n + 1) % 6].split()[0]))
            if kind in (0, 1, 5, 7)
            else ()
        ),
        exclude=("translation",) if kind == 1 else (),
        liked=(old(n), old(n + 6), old(n + 12)) if kind in (2, 5) else (),
        disliked=(old(n + 1), old(n + 7)) if kind in (2, 6) else (),
        description=" ".join(TOPIC_WORDS[n % 6].split()[n % 3 : n % 3 + 3])
        if kind in (3, 7)
        else "",
        authors=(AUTHORS[n % 5],) if kind in (4, 7) else (),
        categories=(CATEGORIES[n % 6],) if kind in (6, 7) else (),
        exclude_categories=(CATEGORIES[(n + 1) % 6],) if kind in (4, 5) else (),
    )


SUBSCRIBERS = 26


def ingest_corpus(store: Store, tmp_path: Path) -> None:
    """An older corpus (40 papers, 20 days back) and the day's 48 new papers."""
    ingest(
        store,
        tmp_path,
        "older.jsonl",
        [record(n, "2610") for n in range(40)],
        DAY - dt.timedelta(days=20),
    )
    ingest(store, tmp_path, "day.jsonl", [record(n, "2611") for n in range(48)], DAY)


@pytest.fixture
def day_store(instance: Config, tmp_path: Path):  # type: ignore[no-untyped-def]
    """An instance with an older corpus, the day's 48 new papers and subscribers of every
    kind; two of them voted on papers ("more/less like this")."""
    store = Store.open(instance.store.database)
    ingest_corpus(store, tmp_path)
    store.save_subscribers(
        [
            SubscriberUpdate(
                f"s{n:02d}@example.org",
                SubscriberSettings(
                    max_papers=1 + n % 6,
                    min_score=(None, 0.0, 0.35)[n % 3],
                ),
                profile(n),
            )
            for n in range(SUBSCRIBERS)
        ],
        who="test",
        now=NOW,
    )
    subs = store.subscribers(status="active")
    store.record_feedback(subs[3].id, old(20), 1, source="email", now=NOW)
    store.record_feedback(subs[9].id, "2611.00004", -1, source="email", now=NOW)
    yield store
    store.close()


def picks(composed: Composition, subs: list[Subscriber]) -> dict[int, list[Pick]]:
    return {s.id: [p for _, p in composed.picks(s.id)] for s in subs}


def reasons(composed: Composition, subs: list[Subscriber]) -> set[str]:
    return {r.split(": ")[0] for s in subs for _, p in composed.picks(s.id) for r in p.reasons}


@pytest.mark.parametrize("size", [1, 4, 7])
def test_slices_of_a_prepared_day_compose_what_all_at_once_composes(
    day_store: Store, instance: Config, size: int
) -> None:
    store, config = day_store, instance
    subs = store.subscribers(status="active")
    # Two digests were rendered before a crash: they keep their recorded picks.
    resume = {subs[2].id: [Pick("2610.00005", 0.5, ("like: x",))], subs[11].id: []}
    whole = compose(store, config, subs, DAY, resume=resume)
    # The set covers every kind of signal, and the thresholds and limits bite.
    assert {"matches", "about", "like", "by", "in"} <= reasons(whole, subs)
    counts = [len(whole.picks(s.id)) for s in subs]
    assert sum(c > 0 for c in counts) >= SUBSCRIBERS - 4
    assert any(c == s.max_papers for c, s in zip(counts, subs, strict=True))
    prepared = prepare_day(store, config, DAY)
    parts = [subs[i : i + size] for i in range(0, len(subs), size)]
    for part in parts[::-1]:  # last first: nothing depends on which slice ranked before
        composed = compose(store, config, part, DAY, resume=resume, prepared=prepared)
        assert list(composed.subscribers) == [s.id for s in part]
        assert composed.candidates == whole.candidates == 48
        for sub, content in zip(part, composed.contents(), strict=True):
            assert content == whole.content(sub.id), sub.email
            if sub.id in resume:
                assert [p for _, p in content.picks] == resume[sub.id]


def test_every_slice_ranks_against_the_day_as_prepared(
    day_store: Store, instance: Config, tmp_path: Path
) -> None:
    store, config = day_store, instance
    subs = store.subscribers(status="active")
    whole = picks(compose(store, config, subs, DAY), subs)
    prepared = prepare_day(store, config, DAY)
    first, rest = subs[:10], subs[10:]
    assert picks(compose(store, config, first, DAY, prepared=prepared), first) == {
        s.id: whole[s.id] for s in first
    }
    # Between two slices, papers every keyword matches in its title arrive for the day: a
    # slice that read the candidates or the model again would pick them.
    late = [
        {**record(200 + n, "2611"), "title": f"{TOPICS[n % 6].title()}: {TOPICS[(n + 1) % 6]}"}
        for n in range(24)
    ]
    ingest(store, tmp_path, "late.jsonl", late, DAY)
    sliced = picks(compose(store, config, rest, DAY, prepared=prepared), rest)
    assert sliced == {s.id: whole[s.id] for s in rest}
    fresh = compose(store, config, rest, DAY)
    assert fresh.candidates == 48 + 24
    assert picks(fresh, rest) != sliced
    assert any(p.paper_id.startswith("2611.002") for ps in picks(fresh, rest).values() for p in ps)


def test_a_ranking_prepared_for_another_day_is_refused(day_store: Store, instance: Config) -> None:
    prepared = prepare_day(day_store, instance, DAY)
    subs = day_store.subscribers(status="active")
    other = DAY + dt.timedelta(days=1)
    with pytest.raises(ValueError, match=f"prepared for {DAY}, not {other}"):
        compose(day_store, instance, subs, other, prepared=prepared)


# -- the daily run ---------------------------------------------------------------------------

RUN_SUBSCRIBERS = 40  # above the in-process threshold (32): two workers render


def run(config: Config, workers: int) -> None:
    store = Store.open(config.store.database)
    try:
        ctx = RunContext(
            transport=OutboxTransport(config.delivery.outbox),
            renderer=make_renderer(config),
            now=lambda: NOW,
            workers=workers,
        )
        report = run_digests(store, config, ctx, date_override=DAY)
        assert report.status == "ok", report
        assert report.sent + report.skipped == RUN_SUBSCRIBERS
    finally:
        store.close()


def table(root: Path, sql: str) -> list[tuple[object, ...]]:
    return sorted(sqlite_utils.Database(root / "digest.db").execute(sql).fetchall())


def outbox(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "outbox").glob("*/*.eml"))}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_in_several_slices_sends_each_digest_once(
    instance: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    store = Store.open(instance.store.database)
    try:
        ingest_corpus(store, tmp_path)
        store.save_subscribers(
            [
                SubscriberUpdate(
                    f"s{n:02d}@example.org", SubscriberSettings(max_papers=1 + n % 6), profile(n)
                )
                for n in range(RUN_SUBSCRIBERS)
            ],
            who="test",
            now=NOW,
        )
    finally:
        store.close()
    root = instance.path.parent
    whole = tmp_path / "whole"
    shutil.copytree(root, whole)
    run(load_config(whole / "config.toml"), workers)  # one slice (RANK_SLICE is 2,000)

    slices: list[int] = []
    composing = digest.run.compose

    def counted(store: Store, config: Config, subs: list[Subscriber], *a, **kw) -> Composition:  # type: ignore[no-untyped-def]
        slices.append(len(subs))
        return composing(store, config, subs, *a, **kw)

    monkeypatch.setattr(digest.run, "RANK_SLICE", 6)
    monkeypatch.setattr(digest.run, "compose", counted)
    run(instance, workers)
    assert slices == [6] * 6 + [4]
    sent = outbox(root)
    assert len(sent) == len(table(root, "SELECT id FROM digests WHERE status = 'sent'")) > 30
    assert sent == outbox(whole)
    sends = "SELECT subscriber_id, paper_id, digest_id FROM sends"
    assert table(root, sends) == table(whole, sends)
    digests = "SELECT subscriber_id, status, picks, message_id, attempts, error FROM digests"
    assert table(root, digests) == table(whole, digests)
    assert math.ceil(RUN_SUBSCRIBERS / 6) == len(slices)
