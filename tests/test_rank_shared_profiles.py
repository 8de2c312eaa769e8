"""The three subscribers of issue 13 on the real shared listings, and the codegen-day case.

The store is what a demo instance would hold: the three shared daily-papers dumps, the
demo's own example listings and the 35-paper code-generation case; the day's candidates
are the shared listings. tests/test_rank_specific.py reproduces each situation on
listings of its own.
"""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from digest.rank import Interest, fit_model, matches_term, rank
from digest.records import Keyword, Paper, Pick
from digest.resources import examples_dir
from digest.sources.formats import parse_listing

from .shared_data import shared_path

SUB = 1
TODAY = datetime.date(2026, 12, 1)


def _papers(path_text: str, source: str) -> list[Paper]:
    records = parse_listing(path_text, source=source, today=TODAY).records
    return [Paper(id=r.arxiv_id or r.title, title=r.title, abstract=r.abstract) for r in records]


@pytest.fixture(scope="module")
def store() -> tuple[TfidfVectorizer, list[Paper], list[Paper], dict[str, Paper]]:
    day: dict[str, Paper] = {}
    for f in sorted(shared_path("listings").glob("*.txt")):
        for p in _papers(f.read_text(encoding="utf-8"), str(f)):
            day.setdefault(p.id, p)
    case = shared_path("cases", "records-35-codegen.jsonl")
    codegen = [
        Paper(id=r["id"], title=r["title"], abstract=r["abstract"])
        for r in map(json.loads, case.read_text(encoding="utf-8").splitlines())
    ]
    demo = examples_dir() / "daily-papers-api.json"
    examples = _papers(demo.read_text(encoding="utf-8"), str(demo))
    everything = {p.id: p for p in (*day.values(), *examples, *codegen)}
    model = fit_model([p.text for p in everything.values()])
    return model, list(day.values()), codegen, everything


def _picks(store_: tuple, interest: Interest) -> list[tuple[Pick, Paper]]:
    model, day, _, by_id = store_
    return [(p, by_id[p.paper_id]) for p in rank(model, day, [interest])[interest.key]]


def _about(paper: Paper, *terms: str) -> bool:
    return any(matches_term(t, paper.text) for t in terms)


def test_speech_vision_diffusion_gets_speech_vision_or_diffusion_papers(store: tuple) -> None:
    interest = Interest(
        SUB,
        keywords=(Keyword("speech"), Keyword("vision"), Keyword("diffusion")),
        description="Speech and image models.",
    )
    picks = _picks(store, interest)
    assert len(picks) >= 5
    for pick, paper in picks:
        assert _about(paper, "speech", "vision", "diffusion", "image"), paper.title
        assert pick.reasons[0].startswith("matches: "), pick.reasons
        assert not any("models" in r for r in pick.reasons)


def test_conformal_profile_gets_no_coverage_in_another_sense(store: tuple) -> None:
    interest = Interest(
        SUB,
        keywords=(
            Keyword("conformal prediction", 3),
            Keyword("uncertainty quantification"),
            Keyword("statistical inference"),
            Keyword("coverage"),
        ),
        description="Conformal prediction and distribution-free uncertainty quantification",
    )
    # The listings hold one "coverage" paper (static code coverage) and no conformal one.
    _model, day, _, _by_id = store
    assert any(matches_term("coverage", p.text) for p in day)
    for pick, paper in _picks(store, interest):
        assert _about(paper, "conformal", "uncertainty quantification", "statistical inference")
        assert not any(r in ("about: free", "about: ml") for r in pick.reasons)


def test_demo_code_profile_after_one_more_vote_stays_on_code(store: tuple) -> None:
    _model, _day, _, by_id = store
    voted = next(p for p in by_id.values() if p.title.startswith("Test-Driven Decoding"))
    ada = Interest(
        SUB,
        keywords=(Keyword("code generation", 2.0), Keyword("program synthesis"), Keyword("code")),
        exclude=("vision",),
        description="Language models that write and understand code.",
    )
    before = _picks(store, ada)
    after = _picks(store, dataclasses.replace(ada, liked=(voted,)))
    assert before
    # The vote does not flood the digest: at most a few more papers, all about code.
    assert len(after) <= len(before) + 3
    for _, paper in after:
        assert _about(paper, "code", "program", "programming", "software"), paper.title
        assert not _about(paper, "speech recognition", "summarization", "summarisation")
    # Alone, the vote sends only close neighbours of the voted paper, none on this day.
    assert len(_picks(store, Interest(SUB, liked=(voted,)))) <= 3


def test_codegen_case_day_sends_code_generation_picks(store: tuple) -> None:
    model, _, codegen, _ = store
    interest = Interest(
        SUB, keywords=(Keyword("code generation"), Keyword("program synthesis")), limit=35
    )
    picks = rank(model, codegen, [interest])[SUB]
    assert len(picks) == 35
    assert all(p.reasons[0].startswith("matches: code generation") for p in picks)
    # On a store holding only that day, too.
    alone = fit_model([p.text for p in codegen])
    assert len(rank(alone, codegen, [interest])[SUB]) == 35
