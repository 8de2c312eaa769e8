"""Specific reasons or no pick, bounded feedback (issue 13).

Each test ranks a small day's listing written here, which reproduces a situation a real
subscriber met on the shared listings: filler picks "about: models", a generic keyword
("coverage") pulling unrelated papers, one "more like this" vote flooding the digest.
"""

from __future__ import annotations

import dataclasses

import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from digest.rank import Interest, fit_model, rank, scoring
from digest.rank.batch import RATED_MIN_SHARED_WORDS, Batch, rated_overlap
from digest.rank.signals.liked import LIKED_FLOOR
from digest.rank.specificity import TermFrequencies, term_frequencies
from digest.rank.vectorizing import Vectorize
from digest.records import Keyword, Paper, Pick

SUB = 1

# A day's listing: topic → (title, abstract). Every abstract says "models", most "learning".
DAY = {
    "code1": ("Test-Driven Decoding for code generation with large language models",
              "We guide program synthesis by unit tests while decoding; models write code "
              "that passes the tests of a repository."),
    "code2": ("Repository-level code completion with retrieval",
              "Code completion models read the source repository and its functions."),
    "code3": ("Learning to repair compiler errors",
              "Neural models fix compiler errors in student programs and source code."),
    "code4": ("Code coverage guided fuzzing with language models",
              "Language models write inputs that raise the code coverage of fuzz tests for "
              "compilers."),
    "cov2": ("Improving test coverage of generated unit tests",
             "Unit test generation models reach higher branch coverage on Java programs."),
    "rag1": ("Retrieval-augmented generation for open-domain question answering",
             "RAG models retrieve passages and answer questions; retrieval helps learning."),
    "rag2": ("A benchmark for retrieval-augmented generation",
             "We evaluate RAG models on data coverage of knowledge sources and faithfulness."),
    "rag3": ("Chunking strategies for retrieval-augmented generation",
             "How documents are split changes what retrieval-augmented models answer."),
    "sp1": ("Streaming speech recognition with conformer transducers",
            "Automatic speech recognition models transcribe audio in real time."),
    "sp2": ("Self-supervised speech representations for low-resource languages",
            "Speech models learned from untranscribed audio help phoneme recognition."),
    "sp3": ("Neural vocoders for expressive speech synthesis",
            "Text-to-speech models with prosody control and a neural vocoder."),
    "vis1": ("Open-vocabulary object detection with vision transformers",
             "Vision models detect objects named by text in images."),
    "vis2": ("Depth estimation from a single image",
             "Monocular depth models learn scene geometry from video."),
    "dif1": ("Consistency distillation for fast diffusion models",
             "Diffusion models sample images in four steps after distillation."),
    "dif2": ("Video diffusion with temporal attention",
             "Latent diffusion models generate video clips from text prompts."),
    "cp1": ("Conformal prediction under distribution shift",
            "Distribution-free uncertainty quantification: conformal prediction sets keep "
            "their coverage guarantee when the test distribution shifts."),
    "cp2": ("Calibrating language models with conformal risk control",
            "Conformal prediction gives statistical guarantees for the answers of models."),
    "sum1": ("Abstractive summarization of long documents",
             "Summarization models condense long documents; learning from human feedback."),
    "gen1": ("Scaling laws for mixture-of-experts models",
             "We study how models scale with data and compute during learning."),
    "gen2": ("A survey of efficient inference for large models",
             "Quantization and pruning make models cheaper; learning is unchanged."),
}  # fmt: skip
# The rest of the day, on other topics, so that a topic is a few papers of many, as on a
# real listing (a day's topics are each a few percent of its papers).
OTHER = [
    ("Graph neural networks for molecule property prediction", "molecules atoms bonds"),
    ("Offline reinforcement learning for robot grasping", "robots grasp objects from logs"),
    ("Federated optimisation with client drift", "clients average gradients privately"),
    ("Protein structure prediction with equivariant networks", "proteins fold residues"),
    ("Tabular data synthesis with privacy guarantees", "tables differential privacy"),
    ("Time series forecasting for electricity demand", "load forecasting horizons"),
    ("Recommender systems with sequential transformers", "users items sessions clicks"),
    ("Weather prediction at kilometre scale", "atmosphere forecasts global grids"),
    ("Causal discovery from interventional data", "causal graphs interventions"),
    ("Sparse autoencoders interpret neural features", "features dictionary neurons"),
    ("Bandit algorithms for online advertising", "regret arms auctions"),
    ("Physics-informed networks for fluid flow", "navier stokes residuals"),
    ("Multi-agent negotiation with language agents", "agents bargain deals"),
    ("Legal judgment prediction in civil courts", "court cases statutes"),
    ("Music generation with symbolic tokens", "melody chords midi"),
    ("Knowledge graph completion with embeddings", "entities relations triples"),
    ("Anomaly detection in network traffic", "intrusions packets flows"),
    ("Energy-based models of protein design", "sequences energy sampling"),
    ("Benchmarking mathematical reasoning of agents", "olympiad problems proofs"),
    ("Tokenizer design for multilingual translation", "subwords vocabularies languages"),
]
DAY.update(
    {
        f"other{n}": (
            title,
            f"Our models handle {words}. We train them on public data and compare them with "
            f"earlier methods on standard benchmarks of {words}, where they improve accuracy.",
        )
        for n, (title, words) in enumerate(OTHER)
    }
)
PAPERS = [Paper(id=k, title=t, abstract=a) for k, (t, a) in DAY.items()]
BY_ID = {p.id: p for p in PAPERS}


_MODEL: list[TfidfVectorizer] = []


# Earlier days in the store: 400 papers on other topics, written in the field's common words
# ("large language models", "learning", "data") as real abstracts are, so that the store
# knows those words are common (a store of one day's 40 papers cannot tell).
_FIELDS = ("graph", "robot", "protein", "weather", "tabular", "causal", "music", "legal",
           "traffic", "molecule", "climate", "finance", "medical", "satellite", "chemistry",
           "astronomy", "education", "sports", "energy", "agriculture")  # fmt: skip
_METHODS = ("transformers", "kernels", "bandits", "ensembles", "autoencoders", "trees",
            "sampling", "pruning", "distillation", "contrastive pretraining", "adapters",
            "mixtures", "quantization", "curricula", "augmentation", "meta-learning",
            "active learning", "attention", "retrieval", "planning")  # fmt: skip
STORE = [
    Paper(
        id=f"old{n}",
        title=f"{field.title()} {method} for large models",
        abstract=f"We study {field} data with {method}; large language models and learning "
        f"from data improve the results of {field} tasks.",
    )
    for n, (field, method) in enumerate((f, m) for f in _FIELDS for m in _METHODS)
]


def model() -> TfidfVectorizer:
    """Fitted on the store: earlier days' papers and this day's."""
    if not _MODEL:
        _MODEL.append(fit_model([p.text for p in (*STORE, *PAPERS)]))
    return _MODEL[0]


def picks_for(interest: Interest, papers: list[Paper] = PAPERS) -> list[Pick]:
    return rank(model(), papers, [interest])[interest.key]


def topics(picks: list[Pick]) -> set[str]:
    return {p.paper_id.rstrip("0123456789") for p in picks}


def test_a_generic_word_only_match_is_not_sent() -> None:
    # "models" is in every paper: a hit on it is no evidence, and no reason names it.
    picks = picks_for(Interest(SUB, keywords=(Keyword("models"),), min_score=0.0, limit=100))
    assert picks == []
    everything = rank(
        model(),
        PAPERS,
        [Interest(SUB, keywords=(Keyword("models"),), limit=100)],
        include_below_threshold=True,
    )[SUB]
    assert len(everything) == len(PAPERS)
    assert not any("models" in r for p in everything for r in p.reasons)


def test_a_specific_keyword_in_the_title_outranks_a_generic_one() -> None:
    kw = (Keyword("speech recognition"), Keyword("models"))
    picks = picks_for(Interest(SUB, keywords=kw))
    assert picks and picks[0].paper_id == "sp1"  # "speech recognition" in its title
    assert "matches: speech recognition" in picks[0].reasons
    # "models" alone (in every paper, some titles) sends nothing.
    assert {p.paper_id for p in picks} <= {"sp1", "sp2"}


def test_one_more_vote_adds_only_papers_close_to_the_voted_one() -> None:
    voted = BY_ID["code1"]
    picks = picks_for(Interest(SUB, liked=(voted,), min_score=0.0))
    assert picks
    vectorize = Vectorize(model())
    v = vectorize([voted.text])
    for p in picks:
        assert float((vectorize([BY_ID[p.paper_id].text]) @ v.T).toarray()[0, 0]) >= LIKED_FLOOR
    assert not topics(picks) & {"sp", "sum", "vis", "dif"}


def test_one_more_vote_does_not_take_over_a_keyword_profile() -> None:
    kw = (Keyword("speech"), Keyword("vocoder"))
    before = picks_for(Interest(SUB, keywords=kw))
    after = picks_for(Interest(SUB, keywords=kw, liked=(BY_ID["code1"],)))
    assert topics(before) == {"sp"}
    # The speech papers stay, the best first; the vote adds at most papers near code1.
    assert after[0].paper_id == before[0].paper_id
    assert {p.paper_id for p in before} <= {p.paper_id for p in after}
    assert topics(after) <= {"sp", "code", "cov"}


def test_speech_vision_diffusion_subscriber_gets_no_code_or_rag_filler() -> None:
    interest = Interest(
        SUB,
        keywords=(Keyword("speech"), Keyword("vision"), Keyword("diffusion")),
        description="Speech recognition, computer vision and diffusion models for images",
    )
    picks = picks_for(interest)
    assert picks
    assert topics(picks) <= {"sp", "vis", "dif"}
    assert all(r != "about: models" for p in picks for r in p.reasons)


def test_conformal_keywords_do_not_pull_code_coverage_papers() -> None:
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
    picks = picks_for(interest)
    assert {p.paper_id for p in picks} == {"cp1", "cp2"}
    assert picks[0].paper_id == "cp1"
    assert "matches: conformal prediction, uncertainty quantification, coverage" in picks[0].reasons


def test_code_profile_after_one_more_vote_gets_no_speech_papers() -> None:
    interest = Interest(
        SUB,
        keywords=(Keyword("program synthesis"), Keyword("compiler")),
        liked=(BY_ID["code1"],),
    )
    picks = picks_for(interest)
    assert picks
    assert topics(picks) <= {"code", "cov"}  # code papers, and unit tests like code1's
    assert not any(
        r.startswith("like:") and p.paper_id.startswith("sp") for p in picks for r in p.reasons
    )


# A day dominated by one topic: 35 code-generation papers, every title and abstract saying
# "code generation" and "models" (as the shared case records-35-codegen.jsonl does).
_CODEGEN_METHODS = ("unit tests", "search", "retrieval", "planning", "reflection", "agents",
                    "compilers", "type checking", "fuzzing", "sketches", "repairs", "traces",
                    "execution feedback", "static analysis", "curricula", "distillation",
                    "tree search")  # fmt: skip
CODEGEN_DAY = [
    Paper(
        id=f"cg{n}",
        title=f"Code generation with {method} and large language models ({n})",
        abstract=f"Models for code generation use {method}; our models write programs "
        "that pass more tests, learning from data.",
    )
    for n, method in enumerate(_CODEGEN_METHODS * 3)
][:35]
CODE_SUB = Interest(SUB, keywords=(Keyword("code generation"), Keyword("program synthesis")))


def test_a_codegen_heavy_day_still_sends_code_generation_picks() -> None:
    # "code generation" is in every candidate of the day, but few papers of the store.
    store = fit_model([p.text for p in (*STORE, *PAPERS, *CODEGEN_DAY)])
    picks = rank(store, CODEGEN_DAY, [CODE_SUB])[SUB]
    assert len(picks) == CODE_SUB.limit
    assert all("matches: code generation" in p.reasons for p in picks)
    # "models", in every paper of the day and most of the store, sends nothing.
    generic = Interest(SUB, keywords=(Keyword("models"), Keyword("learning")))
    assert rank(store, CODEGEN_DAY, [generic])[SUB] == []


def test_a_store_of_one_topic_day_still_sends_it_and_never_names_models() -> None:
    # A new store holding only that day: too few papers to call a term common (the shares
    # count as if of SPECIFICITY_MIN_DOCS papers), but "models" is known to be generic.
    alone = fit_model([p.text for p in CODEGEN_DAY])
    picks = rank(alone, CODEGEN_DAY, [CODE_SUB])[SUB]
    assert len(picks) == CODE_SUB.limit
    generic = Interest(SUB, keywords=(Keyword("models"), Keyword("ml")), limit=100)
    assert rank(alone, CODEGEN_DAY, [generic])[SUB] == []
    listed = rank(alone, CODEGEN_DAY, [generic], include_below_threshold=True)[SUB]
    assert len(listed) == len(CODEGEN_DAY)
    assert not any("models" in r or " ml" in r for p in listed for r in p.reasons)


def test_reasons_never_name_ml_or_free_from_distribution_free() -> None:
    interest = Interest(
        SUB,
        description="Distribution-free ML: conformal prediction for models",
        min_score=0.0,
        limit=100,
    )
    extra = [
        Paper(
            id=f"free{n}",
            title=f"Training-free ML acceleration of {what}",
            abstract=f"A training-free method speeds up ML {what} for free.",
        )
        for n, what in enumerate(("transformers", "vocoders", "detectors"))
    ]
    store = fit_model([p.text for p in (*STORE, *PAPERS, *extra)])
    assert {"ml", "free"} <= set(store.vocabulary_)  # words the description shares with them
    day = [*PAPERS, *extra]
    listed = rank(store, day, [interest], include_below_threshold=True)[SUB]
    named = {
        w for p in listed for r in p.reasons if r.startswith("about: ") for w in r[7:].split(", ")
    }
    assert named & {"conformal prediction", "conformal"}
    assert not named & {"ml", "free", "models", "model"}
    sent = rank(store, day, [interest])[SUB]
    assert sent and all(p.paper_id.startswith("cp") for p in sent)
    # Sent on the description alone: its specific words are the reason, before a keyword
    # that is only related (no hit, a shared word).
    related = dataclasses.replace(interest, keywords=(Keyword("prediction guarantees"),))
    sent = rank(store, day, [related])[SUB]
    assert sent and all(p.paper_id.startswith("cp") for p in sent)
    assert all(p.reasons[0].startswith("about: conformal") for p in sent), sent


def test_a_signal_specific_by_nature_lets_its_papers_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A followed author or category fires on a paper no keyword matches: it may be sent.
    target = next(i for i, p in enumerate(PAPERS) if p.id == "gen1")
    interest = Interest(SUB, keywords=(Keyword("models"),), min_score=0.0)
    assert picks_for(interest) == []

    def fires(batch: Batch, rows: list[int]) -> sp.csr_matrix:
        return sp.csr_matrix(([1.0] * len(rows), (range(len(rows)), [target] * len(rows))),
                             shape=(len(rows), len(batch.candidates)))  # fmt: skip

    monkeypatch.setattr(scoring, "SPECIFIC", (fires,))
    assert [p.paper_id for p in picks_for(interest)] == ["gen1"]


def test_store_frequencies_count_words_and_phrases_once_per_paper() -> None:
    texts = (
        ["Code generation: models generate code. Code generation again."] * 120
        + ["Code. Generation of models, by models."] * 180
        + [f"Topic {n} of its own" for n in range(300)]
    )
    freqs = term_frequencies(texts)
    assert freqs.n_docs == 600
    assert freqs.counts["code"] == 300 and freqs.counts["model"] == 300
    assert freqs.counts["code generation"] == 120  # not across "Code. Generation"
    assert "topic" in freqs.counts and "own" in freqs.counts  # in every other paper
    # A phrase is as specific as its rarest part; generic words stay generic in any store.
    assert freqs.specificity("code generation") > freqs.specificity("code")
    assert freqs.specificity("models") == freqs.specificity("model") < 0.3
    assert TermFrequencies().specificity("models") < 0.3
    assert TermFrequencies().specificity("conformal prediction") == 1.0


@pytest.mark.parametrize("title", ["Another study of speech", "Speech", "Huge v"])
def test_a_title_only_liked_paper_pulls_nothing(title: str) -> None:
    # A BibTeX entry with only a short title: its one specific word ("speech") is in three
    # of the day's papers, which looked close to it ("like: Another study of speech").
    short = Paper(id="lib", title=title, abstract="")
    picks = picks_for(Interest(SUB, liked=(short,), min_score=0.0))
    assert picks == []
    everything = rank(
        model(), PAPERS, [Interest(SUB, liked=(short,))], include_below_threshold=True
    )[SUB]
    assert not any(r.startswith("like:") for p in everything for r in p.reasons)


def test_a_liked_paper_with_text_still_pulls_its_close_neighbours() -> None:
    liked = BY_ID["sp1"]
    picks = picks_for(Interest(SUB, liked=(liked,), min_score=0.0))
    assert "sp2" in {p.paper_id for p in picks}
    assert topics(picks) <= {"sp"}
    assert any(r.startswith("like: Streaming speech recognition") for p in picks for r in p.reasons)


def test_a_like_pick_shares_at_least_two_specific_words_with_the_liked_paper() -> None:
    vectorizer = model()
    vectorize = Vectorize(vectorizer)
    freqs = term_frequencies([p.text for p in (*STORE, *PAPERS)])
    analyzer = vectorizer.build_analyzer()

    def specific_words(paper: Paper) -> set[str]:
        return {
            t
            for t in analyzer(paper.text)
            if " " not in t and t in vectorizer.vocabulary_ and freqs.is_specific(t)
        }

    for liked_id in ("code1", "sp1", "cp1", "dif1"):
        liked = BY_ID[liked_id]
        picks = picks_for(Interest(SUB, liked=(liked,), min_score=0.0))
        for p in picks:
            assert len(specific_words(liked) & specific_words(BY_ID[p.paper_id])) >= (
                RATED_MIN_SHARED_WORDS
            ), (liked_id, p.paper_id)
    overlap = rated_overlap(
        vectorizer, vectorize([BY_ID["sp1"].text, "Speech"]), vectorize([BY_ID["sp2"].text])
    )
    assert overlap.toarray().tolist() == [[1.0], [0.0]]
