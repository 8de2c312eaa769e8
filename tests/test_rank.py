"""The ranker (digest.rank) and the cache of its fitted model (digest.rank.model_cache)."""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import re
from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

import digest.rank.budgets as rank_budgets
import digest.rank.model_cache as model_cache
from digest.errors import DigestError
from digest.rank import (
    DEFAULT_WEIGHTS,
    Interest,
    build_vectorizer,
    doc_frequency_bounds,
    fit_model,
    load_or_fit,
    matches_term,
    rank,
)
from digest.rank.vectorizing import Vectorize
from digest.records import Keyword, Paper, Pick

from .shared_data import shared_path

# -- an invented corpus: six topics, five papers each -------------------------------------

TOPICS = {
    "code": "program synthesis code generation compiler source repository function snippet "
    "bug repair refactoring interpreter",
    "vision": "image pixel segmentation convolutional camera object detection scene depth video",
    "speech": "speech audio acoustic speaker waveform phoneme spectrogram prosody transcription "
    "vocoder",
    "rl": "reinforcement policy reward agent robot control environment exploration trajectory "
    "planner",
    "graph": "graph node edge message passing molecule neighbourhood adjacency chemistry protein",
    "theory": "bound theorem convex optimization gradient convergence proof regret stochastic "
    "lemma",
}
FILLER = [
    "we",
    "propose",
    "method",
    "results",
    "show",
    "experiments",
    "model",
    "learning",
    "data",
    "approach",
    "novel",
]


def invented_corpus(per_topic: int = 5, seed: int = 7) -> list[Paper]:
    rng = random.Random(seed)
    papers = []
    for topic, text in TOPICS.items():
        words = text.split()
        for n in range(per_topic):
            title = " ".join(rng.sample(words, 4)).capitalize()
            body = rng.choices(words, k=20) + rng.choices(FILLER, k=10)
            rng.shuffle(body)
            papers.append(Paper(id=f"{topic}-{n}", title=title, abstract=" ".join(body) + "."))
    return papers


CORPUS = invented_corpus()
# Subscriber ids (Interest.key), named for the tests that look picks up by subscriber.
SUB, KW, LIKED, DESC, ALL, EX, CLF, MIX, NOTHING, KW2 = range(1, 11)


def paper(pid: str, title: str, abstract: str = "", **kw: object) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract or title, **kw)  # type: ignore[arg-type]


def fitted(*extra: Sequence[Paper]) -> TfidfVectorizer:
    """A model fitted on the invented corpus plus the papers a test adds."""
    return fit_model([p.text for p in CORPUS] + [p.text for ps in extra for p in ps])


def ids(picks: Sequence[Pick]) -> list[str]:
    return [p.paper_id for p in picks]


def one(
    model: TfidfVectorizer, candidates: Sequence[Paper], interest: Interest, **kw: object
) -> list[Pick]:
    return rank(model, candidates, [interest], **kw)[interest.key]  # type: ignore[arg-type]


# -- word and phrase matching --------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("vision", "Computer vision for robots", True),
        ("vision", "Self-supervision beats labels", False),
        ("vision", "A visionary approach", False),
        ("vision", "VISION transformers", True),
        ("vision", "their visions of the future", True),  # a plural is the same word
        ("vision", "vision-language models", True),
        ("program synthesis", "neural Program  Synthesis from examples", True),
        ("program synthesis", "program-synthesis benchmarks", True),
        ("program synthesis", "programs synthesis", True),
        ("program synthesis", "synthesis of a program", False),
        ("program synthesis", "we write a program. Synthesis follows", False),
        ("program synthesis", "program and synthesis", False),
        ("code representation", "learning code representations", True),
        ("GPT-4", "we compare with gpt 4 and GPT-4o", True),
        ("", "anything", False),
        ("---", "anything - at all", False),
    ],
)
def test_matches_term(term: str, text: str, expected: bool) -> None:
    assert matches_term(term, text) is expected


# -- the model -----------------------------------------------------------------------------


def test_build_vectorizer_spells_out_every_parameter() -> None:
    v = build_vectorizer()
    defaults = TfidfVectorizer().get_params()
    assert set(v.get_params()) == set(defaults)
    assert v.get_params()["ngram_range"] == (1, 2)
    assert v.get_params()["sublinear_tf"] is True
    assert v.get_params()["dtype"] is np.float32


@pytest.mark.parametrize("n", [1, 3, 10, 275, 1000, 10_000, 100_000])
def test_document_frequency_bounds_keep_words_shared_by_a_few_papers(n: int) -> None:
    min_df, max_df = doc_frequency_bounds(n)
    assert 1 <= min_df <= max_df
    # A word in up to ten papers is never too common, even in a tiny corpus...
    assert max_df >= min(n, 10)
    # ...and in a big one, a word in a tenth of the papers is.
    if n >= 1000:
        assert max_df <= n // 10


@pytest.mark.parametrize("n", [1, 2, 10])
def test_fit_model_works_on_tiny_corpora(n: int) -> None:
    papers = CORPUS[:: max(1, len(CORPUS) // n)][:n]
    model = fit_model([p.text for p in papers])
    assert model.vocabulary_
    x = model.transform([papers[0].text])
    assert x.nnz > 0


def test_fit_model_without_words_says_what_to_do() -> None:
    with pytest.raises(DigestError) as info:
        fit_model(["", "  ", "a ."])
    assert str(info.value) == (
        "cannot fit the ranking model: the 3 stored papers have no words to learn from; "
        "ingest a listing first (digest ingest FILE)"
    )


def test_fast_transform_equals_scikit_learns() -> None:
    odd = ["Schrödinger's café: naïve 3D GPT-4 x_1 1_000", "über α-β", "a1 11 _a __ 2d", ""]
    texts = [p.text for p in CORPUS] + odd + [p.text for p in listing_papers()[:50]]
    model = fit_model(texts[:40] + odd)
    fast = Vectorize(model)(texts)
    slow = model.transform(texts)
    assert fast.dtype == np.float32
    assert (fast != slow).nnz == 0


# -- ranking ---------------------------------------------------------------------------------


def test_higher_keyword_weight_wins() -> None:
    # Two papers alike but for one word, which is each one's keyword.
    a = paper("a", "A compiler study", "we study the compiler of a language")
    b = paper("b", "A phoneme study", "we study the phoneme of a language")
    model = fitted([a, b])
    heavy_compiler = Interest(SUB, keywords=(Keyword("compiler", 2), Keyword("phoneme", 1)))
    heavy_phoneme = Interest(SUB, keywords=(Keyword("compiler", 1), Keyword("phoneme", 2)))
    assert ids(one(model, [a, b], heavy_compiler)) == ["a", "b"]
    assert ids(one(model, [a, b], heavy_phoneme)) == ["b", "a"]


def test_phrase_keywords_match_as_phrases_and_words_on_boundaries() -> None:
    phrase = paper("phrase", "Neural program synthesis", "program synthesis from examples")
    apart = paper("apart", "Synthesis of a program", "a program made by synthesis")
    model = fitted([phrase, apart])
    picks = one(model, [apart, phrase], Interest(SUB, keywords=(Keyword("program synthesis"),)))
    assert ids(picks)[0] == "phrase"
    assert picks[0].reasons[0] == "matches: program synthesis"
    assert all("matches" not in r for p in picks if p.paper_id == "apart" for r in p.reasons)

    sup = paper("sup", "Self-supervision for speech", "self-supervision of speech audio")
    vis = paper("vis", "Vision for speech", "vision helps speech audio")
    model = fitted([sup, vis])
    picks = one(model, [sup, vis], Interest(SUB, keywords=(Keyword("vision"),), min_score=0.2))
    assert ids(picks) == ["vis"]


def test_excluded_terms_remove_papers_by_title_or_abstract() -> None:
    in_title = paper("t", "Vision transformers for code", "code generation with transformers")
    in_abstract = paper("a", "Code generation", "code generation that needs computer vision")
    phrase = paper("p", "Code generation", "code generation for program synthesis tasks")
    sup = paper("s", "Code generation", "code generation with self-supervision")
    cands = [in_title, in_abstract, phrase, sup]
    model = fitted(cands)
    kw = (Keyword("code generation"),)
    # A keyword every candidate has is weak evidence: list them all, sent or not.
    everything = ids(one(model, cands, Interest(SUB, keywords=kw), include_below_threshold=True))
    assert sorted(everything) == ["a", "p", "s", "t"]
    kept = one(
        model, cands, Interest(SUB, keywords=kw, exclude=("vision",)), include_below_threshold=True
    )
    assert sorted(ids(kept)) == ["p", "s"]
    kept = one(model, cands, Interest(SUB, keywords=kw, exclude=("Program Synthesis",)))
    assert "p" not in ids(kept)
    # Each neighbouring pair of a longer phrase occurring is not the phrase occurring.
    llm = paper("llm", "Code generation", "code generation by large language models")
    pairs = paper(
        "pairs", "Code generation", "code generation: large language corpora, language model"
    )
    model = fitted([llm, pairs])
    exclude = Interest(SUB, keywords=kw, exclude=("large language model",), min_score=-1)
    assert ids(one(model, [llm, pairs], exclude, include_below_threshold=True)) == ["pairs"]
    below = one(
        model,
        cands,
        Interest(SUB, keywords=kw, exclude=("vision",), min_score=1.0),
        include_below_threshold=True,
    )
    assert sorted(ids(below)) == ["p", "s"]


def test_seen_papers_are_never_offered() -> None:
    model = fitted()
    code = [p for p in CORPUS if p.id.startswith("code")]
    seen = frozenset({code[0].id, code[1].id})
    interest = Interest(SUB, keywords=(Keyword("program synthesis"), Keyword("compiler")))
    would = one(model, code, interest, include_below_threshold=True)
    assert set(ids(would)) >= seen  # they would be offered...
    for below in (False, True):
        picks = one(
            model,
            CORPUS,
            dataclasses.replace(interest, seen=seen, limit=1000),
            include_below_threshold=below,
        )
        assert not seen & set(ids(picks))  # ...but were sent already
    # Liked and disliked papers are never offered either, even if missing from `seen`.
    picks = one(model, code, Interest(SUB, liked=tuple(code[:2]), disliked=(code[2],)))
    assert not {code[0].id, code[1].id, code[2].id} & set(ids(picks))


def test_threshold_and_include_below_threshold() -> None:
    model = fitted()
    interest = Interest(SUB, keywords=(Keyword("speech"), Keyword("phoneme")), limit=100)
    picks = one(model, CORPUS, interest)
    assert picks and all(p.score >= interest.min_score for p in picks)
    assert all(p.paper_id.startswith("speech") for p in picks)
    assert len(picks) < len(CORPUS)

    everything = one(model, CORPUS, interest, include_below_threshold=True)
    assert sorted(ids(everything)) == sorted(p.id for p in CORPUS)
    assert ids(everything)[: len(picks)] == ids(picks)  # what would be sent comes first
    rest = everything[len(picks) :]
    # Not sent: under min_score, or no signal specific and strong enough (keywords found in
    # the abstract of a third of the papers only).
    by_id = {p.id: p for p in CORPUS}
    assert all(
        p.score < interest.min_score
        or not any(matches_term(k, by_id[p.paper_id].title) for k in ("speech", "phoneme"))
        for p in rest
    )
    assert [p.score for p in rest] == sorted((p.score for p in rest), reverse=True)
    assert all(p.reasons for p in everything)

    strict = one(model, CORPUS, dataclasses.replace(interest, min_score=10.0))
    assert strict == []
    limited = one(
        model, CORPUS, dataclasses.replace(interest, limit=7), include_below_threshold=True
    )
    assert len(limited) == 7


def test_diversity_spreads_near_identical_papers() -> None:
    base = "program synthesis program synthesis with a compiler for code generation"
    dups = [paper(f"dup{i}", f"Program synthesis {w}", f"{base} {w}") for i, w in
            enumerate(["today", "again", "anew"])]  # fmt: skip
    # Other code papers on program synthesis, so that they may be sent too.
    others = [
        dataclasses.replace(p, title="Program synthesis " + p.title.lower())
        for p in CORPUS
        if p.id.startswith("code")
    ]
    cands = dups + others + [p for p in CORPUS if not p.id.startswith("code")]
    model = fitted(dups)
    interest = Interest(SUB, keywords=(Keyword("program synthesis"),), limit=3)
    plain = one(model, cands, interest, diversity=1.0)
    assert sorted(ids(plain)) == ["dup0", "dup1", "dup2"]
    assert [p.score for p in plain] == sorted((p.score for p in plain), reverse=True)
    diverse = one(model, cands, interest, diversity=0.5)
    assert len(diverse) == 3
    assert ids(diverse)[0] == ids(plain)[0]  # the best paper stays first
    assert sum(pid.startswith("dup") for pid in ids(diverse)) < 3


def test_diversity_must_be_between_0_and_1() -> None:
    with pytest.raises(ValueError, match=r"diversity is 1\.5; expected a number from 0\.0 to 1\.0"):
        rank(fitted(), CORPUS, [Interest(SUB)], diversity=1.5)


LIKED_GRAPH = tuple(
    paper(f"l{i}", t)
    for i, t in enumerate(
        [
            "GraphMol: message passing over molecule graphs for chemistry",
            "Protein graphs with neighbourhood message passing",
            "Molecule property prediction by graph message passing",
            "Node and edge message passing for protein chemistry",
            "Adjacency-aware graph networks for molecule chemistry",
        ]
    )
)


def test_liked_papers_bring_their_neighbours_with_a_reason() -> None:
    model = fitted(LIKED_GRAPH)
    picks = one(model, CORPUS, Interest(SUB, liked=LIKED_GRAPH[:2]))
    assert picks
    assert all(p.paper_id.startswith("graph") for p in picks[:5])
    for p in picks:
        assert any(r.startswith("like: ") for r in p.reasons), p
    named = {r for p in picks for r in p.reasons}
    assert "like: GraphMol" in named  # a title is shortened to its part before ":"


def test_disliking_a_paper_drops_its_near_duplicates() -> None:
    disliked = paper("d", "Compiler bug repair", "a compiler for bug repair of source code")
    twin = paper("twin", "Compiler bug repair, again", "a compiler for bug repair of source code")
    cands = [twin, *[p for p in CORPUS if p.id.startswith("code")]]
    model = fitted([disliked, twin])
    interest = Interest(SUB, keywords=(Keyword("compiler"), Keyword("repair")), limit=100)
    before = ids(one(model, cands, interest, diversity=1.0))
    after = ids(
        one(model, cands, dataclasses.replace(interest, disliked=(disliked,)), diversity=1.0)
    )
    assert before[0] == "twin"
    assert "twin" not in after or after.index("twin") > before.index("twin")


def test_classifier_joins_with_five_liked_and_three_disliked() -> None:
    # Every rated paper says "graph methods": only the classifier learns that "graph"
    # separates nothing here and molecules are what this subscriber likes. (Each has an
    # abstract: a bare title of two or three words is too little text to be a signal.)
    liked = tuple(
        paper(f"l{i}", f"graph methods for {t}", f"graph methods and kernels for {t} studies")
        for i, t in enumerate(
            ["molecule design", "protein folding", "chemistry", "molecule chemistry", "drugs"]
        )
    )
    disliked = tuple(
        paper(f"d{i}", f"graph methods for {t}", f"graph methods and kernels for {t} studies")
        for i, t in enumerate(["robot planning", "robot navigation", "trajectory control"])
    )
    a = paper("A", "Graph methods", "graph methods and kernels for graph problems")
    b = paper("B", "Molecule chemistry", "molecule chemistry")
    cands = [a, b, *CORPUS]
    model = fitted([*liked, *disliked, a, b])
    off = dataclasses.replace(DEFAULT_WEIGHTS, classifier=0.0)

    def top2(n_liked: int, n_disliked: int, **kw: object) -> list[Pick]:
        interest = Interest(SUB, liked=liked[:n_liked], disliked=disliked[:n_disliked], limit=2)
        return one(model, cands, interest, diversity=1.0, **kw)

    assert ids(top2(5, 3, weights=off)) == ["A", "B"]
    assert ids(top2(5, 3)) == ["B", "A"]  # the classifier changed the ranking
    # With less feedback there is no classifier, so its weight changes nothing.
    assert top2(4, 3) == top2(4, 3, weights=off)
    assert top2(5, 2) == top2(5, 2, weights=off)


def test_every_pick_has_a_reason_in_the_subscribers_words() -> None:
    model = fitted(LIKED_GRAPH)
    interests = [
        Interest(KW, keywords=(Keyword("speech"), Keyword("phoneme^2"), Keyword("audio", 2))),
        Interest(LIKED, liked=LIKED_GRAPH),
        Interest(DESC, description="convergence proofs for convex optimization"),
        Interest(ALL, keywords=(Keyword("robot"),), liked=LIKED_GRAPH[:1], description="pixels"),
    ]
    result = rank(model, CORPUS, interests)
    assert all(result.values())
    for picks in result.values():
        for p in picks:
            assert p.reasons and all(isinstance(r, str) and r for r in p.reasons)
    for p in result[KW]:
        assert re.fullmatch(r"matches: (speech|audio)(, (speech|audio))*", p.reasons[0])
    assert all(p.reasons[0].startswith("like: ") for p in result[LIKED])
    for p in result[DESC]:
        assert p.reasons[0].startswith("about: ")
        words = p.reasons[0].removeprefix("about: ").split(", ")
        assert all(w in "convergence proofs for convex optimization" for w in words)


def test_upvotes_add_a_small_prior() -> None:
    text = "speech audio phoneme with a vocoder"
    quiet = paper("quiet", "Speech audio", text, upvotes=0)
    popular = paper("popular", "Speech audio", text, upvotes=500)
    model = fitted([quiet])
    picks = one(model, [quiet, popular], Interest(SUB, keywords=(Keyword("phoneme"),)))
    assert ids(picks) == ["popular", "quiet"]
    assert picks[0].score <= picks[1].score * (1 + DEFAULT_WEIGHTS.upvotes)


def test_no_candidates_or_no_profile() -> None:
    model = fitted()
    assert rank(model, [], [Interest(1), Interest(2)]) == {1: [], 2: []}
    assert rank(model, CORPUS, []) == {}
    assert rank(model, CORPUS, [Interest(NOTHING)]) == {NOTHING: []}


def mixed_interests() -> list[Interest]:
    code = [p for p in CORPUS if p.id.startswith("code")]
    rl = [p for p in CORPUS if p.id.startswith("rl")]
    return [
        Interest(KW, keywords=(Keyword("program synthesis", 2), Keyword("compiler"))),
        Interest(EX, keywords=(Keyword("image"),), exclude=("camera", "depth map")),
        Interest(LIKED, liked=LIKED_GRAPH[:3], limit=4),
        Interest(CLF, liked=LIKED_GRAPH, disliked=tuple(rl[:3]), seen=frozenset({"graph-0"})),
        Interest(DESC, description="speech and audio", min_score=0.0, limit=20),
        Interest(MIX, keywords=(Keyword("robot"),), liked=(code[0],), disliked=(code[1],)),
        Interest(NOTHING),
        Interest(KW2, keywords=(Keyword("compiler"), Keyword("phoneme")), limit=3),
    ]


@pytest.mark.parametrize("below", [False, True])
def test_batch_ranks_each_subscriber_as_alone(below: bool) -> None:
    model = fitted(LIKED_GRAPH)
    interests = mixed_interests()
    together = rank(model, CORPUS, interests, include_below_threshold=below)
    for interest in interests:
        assert together[interest.key] == one(
            model, CORPUS, interest, include_below_threshold=below
        ), interest.key
    assert together[CLF] and together[KW]


@pytest.mark.parametrize(
    "budgets",
    [
        {"CELL_BUDGET": 70},  # many chunks of two subscribers
        {"RATED_CELL_BUDGET": 10},  # rated-paper similarities per chunk
        {"MAX_DENSE_CANDIDATES": 5},  # candidate similarities on demand
        {"TRANSFORM_BLOCK": 7},
    ],
)
def test_memory_bounds_do_not_change_results(
    budgets: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = fitted(LIKED_GRAPH)
    interests = mixed_interests()
    expected = rank(model, CORPUS, interests)
    for name, value in budgets.items():
        monkeypatch.setattr(rank_budgets, name, value)
    assert rank(model, CORPUS, interests) == expected


# -- the real listings -----------------------------------------------------------------------

HEADER = re.compile(
    r"^(new|Subscribe|byAK and the research community|Get trending papers in your email "
    r"inbox( once a day)?!|[A-Z][a-z]{2} \d{1,2})$"
)


def listing_papers() -> list[Paper]:
    """The shared daily-papers dumps, split crudely: after the header, title/abstract lines."""
    folder = shared_path("listings")
    files = sorted(folder.glob("*.txt"))
    assert files, f"{folder}: the shared listings are missing"
    papers: dict[str, Paper] = {}
    for f in files:
        lines = [line.strip() for line in f.read_text(encoding="utf-8").splitlines()]
        lines = [
            line.removeprefix("Subscribe") for line in lines if line and not HEADER.match(line)
        ]
        for title, abstract in zip(lines[0::2], lines[1::2], strict=False):
            papers.setdefault(title, Paper(id=f"p{len(papers)}", title=title, abstract=abstract))
    return list(papers.values())


@pytest.fixture(scope="module")
def listings() -> tuple[TfidfVectorizer, list[Paper]]:
    papers = listing_papers()
    assert len(papers) == 275
    return fit_model([p.text for p in papers]), papers


CODE_KEYWORDS = tuple(
    Keyword(k) for k in ("code generation", "program synthesis", "code representation")
)


def test_listings_code_keywords_get_code_model_papers(
    listings: tuple[TfidfVectorizer, list[Paper]],
) -> None:
    model, papers = listings
    by_id = {p.id: p for p in papers}
    picks = one(model, papers, Interest(SUB, keywords=CODE_KEYWORDS))
    assert len(picks) == 10
    for p in picks[:5]:
        assert matches_term("code", by_id[p.paper_id].title), by_id[p.paper_id].title
    for p in picks:
        named = p.reasons[0].removeprefix("matches: ").split(", ")
        assert set(named) <= {k.text for k in CODE_KEYWORDS}
        assert any(matches_term(k, by_id[p.paper_id].text) for k in named)


def test_listings_exclusion_removes_every_paper_with_the_word(
    listings: tuple[TfidfVectorizer, list[Paper]],
) -> None:
    model, papers = listings
    by_id = {p.id: p for p in papers}
    interest = Interest(SUB, keywords=CODE_KEYWORDS, limit=1000)
    with_vision = [
        p.paper_id
        for p in one(model, papers, interest, include_below_threshold=True)
        if matches_term("vision", by_id[p.paper_id].text)
    ]
    assert with_vision  # there are some to remove
    kept = one(
        model,
        papers,
        dataclasses.replace(interest, exclude=("vision",)),
        include_below_threshold=True,
    )
    assert len(kept) == len(papers) - len(with_vision)
    assert not any(re.search(r"\bvision\b", by_id[p.paper_id].text, re.I) for p in kept)


def test_listings_liked_only_gets_papers_near_the_liked_ones(
    listings: tuple[TfidfVectorizer, list[Paper]],
) -> None:
    model, papers = listings
    by_id = {p.id: p for p in papers}
    liked = tuple(p for p in papers if p.title.startswith(("GraphCodeBERT", "CodeT5:")))
    assert len(liked) == 2
    picks = one(model, papers, Interest(SUB, liked=liked))
    # Two votes pull only what is close to them (LIKED_FLOOR): 6 of the 275, not a full 10.
    assert 5 <= len(picks) <= 10
    for p in picks[:5]:
        assert matches_term("code", by_id[p.paper_id].text)
        assert any(r in ("like: GraphCodeBERT", "like: CodeT5") for r in p.reasons), p.reasons


def test_listings_disliked_near_duplicate_drops(
    listings: tuple[TfidfVectorizer, list[Paper]],
) -> None:
    model, papers = listings
    original = next(p for p in papers if p.title.startswith("ContraBERT"))
    twin = dataclasses.replace(original, id="twin", title=original.title + " (v2)")
    cands = [*papers, twin]
    interest = Interest(SUB, keywords=CODE_KEYWORDS, limit=1000, seen=frozenset({original.id}))
    before = ids(one(model, cands, interest, include_below_threshold=True))
    after = ids(
        one(
            model,
            cands,
            dataclasses.replace(interest, disliked=(original,)),
            include_below_threshold=True,
        )
    )
    assert after.index("twin") > before.index("twin") + 5


# -- the model cache -------------------------------------------------------------------------

TEXTS = [p.text for p in CORPUS]


class Counter:
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.calls = 0

    def __call__(self) -> list[str]:
        self.calls += 1
        return self.texts


def test_cache_reuses_the_model_for_the_same_corpus(tmp_path: Path) -> None:
    texts = Counter(TEXTS)
    first = load_or_fit(tmp_path, "30:30:abc", texts)
    second = load_or_fit(tmp_path, "30:30:abc", texts)
    assert texts.calls == 1
    assert second.vocabulary_ == first.vocabulary_
    assert (second.transform(TEXTS) != first.transform(TEXTS)).nnz == 0
    assert sorted(os.listdir(tmp_path)) == [model_cache.CACHE_FILE]


def test_cache_refits_when_the_corpus_changes(tmp_path: Path) -> None:
    load_or_fit(tmp_path, "30:30:abc", Counter(TEXTS))
    more = Counter([*TEXTS, "a brand new paper about quantum annealing and qubits"] * 2)
    model = load_or_fit(tmp_path, "62:62:def", more)
    assert more.calls == 1
    assert "qubits" in model.vocabulary_
    again = Counter(TEXTS)
    assert "qubits" in load_or_fit(tmp_path, "62:62:def", again).vocabulary_
    assert again.calls == 0


@pytest.mark.parametrize(
    "content",
    [b"", b"not a pickle at all", b"\x80\x04\x95garbage", None],
)
def test_a_corrupt_cache_is_refitted_not_fatal(
    tmp_path: Path, content: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    load_or_fit(tmp_path, "fp", Counter(TEXTS))
    path = tmp_path / model_cache.CACHE_FILE
    if content is None:  # a valid pickle of something else
        joblib.dump({"format": 999}, path)
    else:
        path.write_bytes(content)
    texts = Counter(TEXTS)
    with caplog.at_level(logging.WARNING, logger="digest.rank.model_cache"):
        model = load_or_fit(tmp_path, "fp", texts)
    assert texts.calls == 1 and model.vocabulary_
    assert str(path) in caplog.text
    reused = Counter(TEXTS)
    load_or_fit(tmp_path, "fp", reused)
    assert reused.calls == 0  # the refitted model was written back


def test_a_model_from_another_scikit_learn_or_recipe_is_refitted(tmp_path: Path) -> None:
    load_or_fit(tmp_path, "fp", Counter(TEXTS))
    path = tmp_path / model_cache.CACHE_FILE
    for key, value in (("sklearn", "0.0.1"), ("recipe", "an older recipe")):
        payload = joblib.load(path)
        payload[key] = value
        joblib.dump(payload, path)
        texts = Counter(TEXTS)
        load_or_fit(tmp_path, "fp", texts)
        assert texts.calls == 1, key


def test_cache_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_or_fit(tmp_path, "old", Counter(TEXTS))
    path = tmp_path / model_cache.CACHE_FILE
    old_bytes = path.read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the process dies half-way through writing

    monkeypatch.setattr(joblib, "dump", crash)
    with pytest.raises(KeyboardInterrupt):
        load_or_fit(tmp_path, "new", Counter(TEXTS))
    assert path.read_bytes() == old_bytes  # the old model is whole
    assert os.listdir(tmp_path) == [model_cache.CACHE_FILE]  # and no temporary file is left
    monkeypatch.undo()
    texts = Counter(TEXTS)
    load_or_fit(tmp_path, "old", texts)
    assert texts.calls == 0


def test_an_unwritable_cache_still_returns_the_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="digest.rank.model_cache"):
        model = load_or_fit(blocker, "fp", Counter(TEXTS))
    assert model.vocabulary_
    assert "cannot save the fitted model" in caplog.text
