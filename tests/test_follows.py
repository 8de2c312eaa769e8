"""Followed authors and arXiv categories, excluded categories (issue 13, item 4).

Name matching and the category grammar as pure functions; then `digest rank` on a listing
written here (JSON Lines records with authors and categories) against a real store.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from digest.errors import SubscriberError
from digest.follows import (
    CATEGORIES,
    author_key,
    display_surname,
    normalize_category,
    parse_author,
    same_person,
)
from digest.profiles import (
    entries_to_csv,
    entries_to_toml,
    parse_subscribers_csv,
    parse_subscribers_toml,
)

DAY = "2026-11-20"
PAPERS = [
    {
        "id": "2611.00001",
        "title": "Energy-based models for self-supervised world models",
        "abstract": "We study joint embedding predictive architectures for planning agents.",
        "authors": ["Yann LeCun", "Ada Lovelace"],
        "categories": ["cs.LG", "cs.AI"],
    },
    {
        "id": "2611.00002",
        "title": "A survey of tokenizers for low-resource translation",
        "abstract": "Subword segmentation choices for machine translation of rare languages.",
        "authors": ["Zoe LeCun"],
        "categories": ["cs.CL"],
    },
    {
        "id": "2611.00003",
        "title": "Instruction tuning improves multilingual question answering",
        "abstract": "We fine-tune language models on instructions in forty languages.",
        "authors": ["Grace Hopper"],
        "categories": ["cs.CL", "cs.LG"],
    },
    {
        "id": "2611.00004",
        "title": "Diffusion models for image segmentation in remote sensing",
        "abstract": "Learning to segment satellite images with denoising diffusion models.",
        "authors": ["Alan Turing"],
        "categories": ["cs.CV"],
    },
    {
        "id": "2611.00005",
        "title": "Learning optical flow with recurrent image transformers",
        "abstract": "A learning approach to dense motion estimation between video frames.",
        "authors": ["Hervé Jégou"],
        "categories": ["cs.CV", "cs.LG"],
    },
    {
        "id": "2611.00006",
        "title": "Minimax rates for learning sparse additive models",
        "abstract": "Statistical learning theory for high-dimensional additive regression.",
        "authors": ["Emmy Noether"],
        "categories": ["math.ST", "stat.TH"],
    },
]


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ("Y. LeCun", "Yann LeCun"),
        ("LeCun, Yann", "Yann LeCun"),
        ("LeCun, Y.", "Y LeCun"),
        ("yann lecun", "Yann LECUN"),
        ("Hervé Jégou", "Herve Jegou"),
        ("J.-P. Serre", "Jean-Pierre Serre"),
        ("van Beethoven, Ludwig", "Ludwig van Beethoven"),
        ("LeCun", "Yann LeCun"),
        ("Geoffrey E. Hinton", "Geoffrey Hinton"),
        ("Martin Luther King Jr.", "M. L. King"),
        ("Martin Luther King, Jr.", "King, Martin Luther"),
    ],
)
def test_the_same_person_matches_across_spellings(a, b):
    pa, pb = parse_author(a), parse_author(b)
    assert pa is not None and pb is not None
    assert same_person(pa, pb) and same_person(pb, pa)
    assert author_key(a) == author_key(b)


@pytest.mark.parametrize(
    "a, b",
    [("Y. LeCun", "Z. LeCun"), ("Yann LeCun", "Yves LeCun"), ("Yann LeCun", "Yann Bengio")],
)
def test_different_people_do_not_match(a, b):
    pa, pb = parse_author(a), parse_author(b)
    assert pa is not None and pb is not None
    assert not same_person(pa, pb)


def test_the_reason_names_the_surname_as_typed():
    assert display_surname("Yann LeCun") == "LeCun"
    assert display_surname("LeCun, Yann") == "LeCun"
    assert display_surname("Martin Luther King Jr.") == "King"
    assert display_surname("Martin Luther King, Jr.") == "King"
    assert display_surname("van Beethoven, Ludwig") == "van Beethoven"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("cs.CL", "cs.CL"),
        ("CS.cl", "cs.CL"),
        ("math.ST", "math.ST"),
        ("hep-th", "hep-th"),
        ("astro-ph.GA", "astro-ph.GA"),
        ("physics.acc-ph", "physics.acc-ph"),
        ("cs", "cs"),
    ],
)
def test_categories_follow_the_arxiv_grammar(raw, expected):
    assert normalize_category(raw) == expected


@pytest.mark.parametrize("raw", ["cs.", "cs CL", "machine learning", "cs.CL.x", "1.2", ""])
def test_a_category_outside_the_grammar_is_refused(raw):
    with pytest.raises(SubscriberError, match=r"is not an arXiv category|a category is empty"):
        normalize_category(raw)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("cs.cl", "cs.CL"),
        ("HEP-TH", "hep-th"),
        ("Physics.Optics", "physics.optics"),
        ("cond-mat.MES-HALL", "cond-mat.mes-hall"),
        ("stat.ml", "stat.ML"),
        (" q-bio.nc ", "q-bio.NC"),
    ],
)
def test_categories_take_arxivs_spelling_whatever_the_case(raw, expected):
    assert normalize_category(raw) == expected


@pytest.mark.parametrize(
    "raw, hint",
    [
        ("cs.CLL", "did you mean cs.CL?"),
        ("hep-thh", "did you mean hep-th?"),
        ("math.STT", "did you mean math.ST?"),
        ("cs.XX", ""),
        ("astro-ph.ZZ", ""),
        ("qbio", ""),
    ],
)
def test_a_category_outside_arxivs_taxonomy_is_refused_with_the_closest(raw, hint):
    with pytest.raises(SubscriberError, match="is not an arXiv category") as caught:
        normalize_category(raw)
    assert hint in str(caught.value)
    assert "arxiv.org/category_taxonomy" in str(caught.value)


def test_every_category_in_the_taxonomy_reads_back_as_itself():
    assert len(CATEGORIES) > 150
    for name in CATEGORIES.values():
        assert normalize_category(name) == name
        assert normalize_category(name.upper()) == name


# --- import and export -------------------------------------------------------------------


def test_toml_and_csv_round_trip_authors_and_categories():
    text = """
[[subscribers]]
email = "ada@example.org"
authors = ["Yann LeCun", "Hinton, Geoffrey"]
categories = ["cs.cl", "hep-th"]
exclude_categories = ["cs.CV"]
"""
    (entry,) = parse_subscribers_toml(text, source="team.toml")
    assert entry.authors == ("Yann LeCun", "Hinton, Geoffrey")
    assert entry.categories == ("cs.CL", "hep-th")
    assert entry.exclude_categories == ("cs.CV",)
    (from_toml,) = parse_subscribers_toml(entries_to_toml([entry]), source="export.toml")
    assert dataclasses.replace(from_toml, present=entry.present) == entry
    (again,) = parse_subscribers_csv(entries_to_csv([entry]), source="team.csv")
    assert again.authors == entry.authors
    assert again.categories == entry.categories
    assert again.exclude_categories == entry.exclude_categories


def test_a_bad_category_in_an_import_names_the_subscriber():
    text = '[[subscribers]]\nemail = "ada@example.org"\ncategories = ["nlp"]\n'
    with pytest.raises(SubscriberError) as caught:
        parse_subscribers_toml(text, source="team.toml")
    assert str(caught.value).startswith(
        "team.toml: subscriber 1 (ada@example.org): category 'nlp' is not an arXiv category"
    )


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx"])
def test_csv_export_neutralises_formulas_and_reads_them_back(cell):
    text = f'[[subscribers]]\nemail = "ada@example.org"\nname = {json.dumps(cell)}\n'
    text += f"description = {json.dumps(cell)}\nkeywords = [{json.dumps(cell.strip())}]\n"
    (entry,) = parse_subscribers_toml(text, source="t.toml")
    exported = entries_to_csv([entry])
    for line in exported.splitlines()[1:]:
        for start in ("=", "+", "-", "@", "\t", "\r"):
            assert f",{start}" not in line and not line.startswith(start), line
    (again,) = parse_subscribers_csv(exported, source="t.csv")
    assert again.description == entry.description
    assert again.keywords == entry.keywords


# --- ranking on a listing ----------------------------------------------------------------


@pytest.fixture
def listed(run_cli, tmp_path):
    listing = tmp_path / "listing.jsonl"
    listing.write_text("\n".join(json.dumps(p) for p in PAPERS) + "\n", encoding="utf-8")
    result = run_cli("ingest", "--date", DAY, str(listing))
    assert result.exit_code == 0, result.output
    return run_cli


def rank_all(run_cli, email: str) -> list[dict]:
    result = run_cli("rank", email, "--date", DAY, "--json", "--all", "--limit", "50")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def picks(run_cli, email: str) -> list[dict]:
    result = run_cli("rank", email, "--date", DAY, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_followed_author_brings_their_paper_with_by(listed):
    assert listed("subscribers", "add", "ada@example.org").exit_code == 0
    result = listed("profile", "set", "ada@example.org", "--author", "Y. LeCun")
    assert result.exit_code == 0, result.output
    chosen = picks(listed, "ada@example.org")
    assert [p["id"] for p in chosen] == ["2611.00001"]
    assert chosen[0]["reasons"][0] == "by: LeCun"
    # Zoe LeCun's paper is no match for "Y. LeCun": no "by:" anywhere else.
    others = [p for p in rank_all(listed, "ada@example.org") if p["id"] != "2611.00001"]
    assert others and all(not any(r.startswith("by:") for r in p["reasons"]) for p in others)


def test_a_followed_author_outranks_keyword_papers_it_does_not_match(listed):
    add = listed("subscribers", "add", "ada@example.org", "--keyword", "translation")
    assert add.exit_code == 0
    assert listed("profile", "set", "ada@example.org", "--author", "LeCun, Yann").exit_code == 0
    chosen = {p["id"]: p for p in picks(listed, "ada@example.org")}
    assert "by: LeCun" in chosen["2611.00001"]["reasons"]
    assert "matches: translation" in chosen["2611.00002"]["reasons"]


def test_a_followed_category_brings_its_papers_with_in(listed):
    assert listed("subscribers", "add", "ada@example.org").exit_code == 0
    assert listed("profile", "set", "ada@example.org", "--category", "cs.CL").exit_code == 0
    chosen = picks(listed, "ada@example.org")
    assert sorted(p["id"] for p in chosen) == ["2611.00002", "2611.00003"]
    assert all("in: cs.CL" in p["reasons"] for p in chosen)


def test_a_followed_archive_covers_its_categories(listed):
    assert listed("subscribers", "add", "ada@example.org").exit_code == 0
    assert listed("profile", "set", "ada@example.org", "--category", "math").exit_code == 0
    chosen = picks(listed, "ada@example.org")
    assert [(p["id"], p["reasons"][0]) for p in chosen] == [("2611.00006", "in: math")]


def test_an_excluded_category_removes_its_papers_whatever_else_matches(listed):
    add = listed("subscribers", "add", "ada@example.org", "--keyword", "learning")
    assert add.exit_code == 0
    before = {p["id"] for p in rank_all(listed, "ada@example.org")}
    assert {"2611.00004", "2611.00005"} <= before
    set_ = listed(
        "profile",
        "set",
        "ada@example.org",
        "--exclude-category",
        "cs.CV",
        "--author",
        "Hervé Jégou",
    )
    assert set_.exit_code == 0, set_.output
    after = {p["id"] for p in rank_all(listed, "ada@example.org")}
    assert after == before - {"2611.00004", "2611.00005"}


def test_profile_show_and_remove_authors_and_categories(listed):
    assert listed("subscribers", "add", "ada@example.org").exit_code == 0
    listed("profile", "set", "ada@example.org", "--author", "Yann LeCun", "--category", "cs.CL")
    shown = json.loads(listed("profile", "show", "ada@example.org", "--json").output)
    assert shown["authors"] == ["Yann LeCun"] and shown["categories"] == ["cs.CL"]
    subscriber = json.loads(listed("subscribers", "show", "ada@example.org", "--json").output)
    assert subscriber["authors"] == ["Yann LeCun"] and subscriber["exclude_categories"] == []
    text = listed("profile", "show", "ada@example.org").output
    assert "authors:     Yann LeCun\n" in text and "categories:  cs.CL\n" in text
    result = listed("profile", "set", "ada@example.org", "--remove", "yann lecun")
    assert result.exit_code == 0
    shown = json.loads(listed("profile", "show", "ada@example.org", "--json").output)
    assert shown["authors"] == [] and shown["categories"] == ["cs.CL"]
    history = listed("profile", "history", "ada@example.org").output
    assert "-author Yann LeCun" in history and "+category cs.CL" in history


def test_a_bad_category_on_the_command_line_is_one_line(listed):
    assert listed("subscribers", "add", "ada@example.org").exit_code == 0
    result = listed("profile", "set", "ada@example.org", "--category", "nlp")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: profile set (ada@example.org): category 'nlp' is not an arXiv category; "
        "write one such as cs.CL (see https://arxiv.org/category_taxonomy)"
    ]


@pytest.mark.parametrize(
    "bad, line",
    [
        ("cs.CLL", "category 'cs.CLL' is not an arXiv category; did you mean cs.CL?"),
        ("cs.XX", "category 'cs.XX' is not an arXiv category"),
        ("", "a category is empty; write one such as cs.CL"),
    ],
)
def test_a_misspelt_or_empty_category_on_the_command_line_changes_nothing(listed, bad, line):
    assert listed("subscribers", "add", "ada@example.org").exit_code == 0
    for option in ("--category", "--exclude-category"):
        result = listed("profile", "set", "ada@example.org", option, bad)
        assert result.exit_code == 1
        (only,) = result.output.strip().splitlines()
        assert only.startswith("Error: profile set (ada@example.org): " + line)
    shown = json.loads(listed("profile", "show", "ada@example.org", "--json").output)
    assert shown["categories"] == [] and shown["exclude_categories"] == []


def test_mis_cased_categories_are_saved_in_arxivs_spelling(listed):
    assert listed("subscribers", "add", "ada@example.org").exit_code == 0
    result = listed(
        "profile", "set", "ada@example.org", "--category", "cs.cl", "--category", "HEP-TH"
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(listed("profile", "show", "ada@example.org", "--json").output)
    assert shown["categories"] == ["cs.CL", "hep-th"]


def test_a_misspelt_category_in_a_toml_import_is_refused(listed, tmp_path):
    path = tmp_path / "team.toml"
    path.write_text('[[subscribers]]\nemail = "ada@example.org"\ncategories = ["cs.CLL"]\n')
    result = listed("subscribers", "import", str(path))
    assert result.exit_code == 1
    assert "category 'cs.CLL' is not an arXiv category; did you mean cs.CL?" in result.output
    assert listed("subscribers", "list").output.count("ada@example.org") == 0


def test_the_readme_profile_example_reads_with_authors_categories_and_a_library():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```toml\n[[subscribers]]", 1)[1].split("```", 1)[0]
    (entry,) = parse_subscribers_toml("[[subscribers]]" + block, source="README.md")
    assert entry.authors and entry.categories and entry.exclude_categories
    assert entry.library == "ada.bib"
    assert "digest profile import-library ada@example.org" in readme
    for key in ("`authors`", "`categories`", "`exclude_categories`", "### Library import"):
        assert key in readme


def test_followed_authors_and_categories_are_specific_signals():
    # The send gate (issue 13) sends a paper only on a specific signal's evidence: a
    # followed author or category is one by nature, wherever it fires.
    from digest.rank.signals import RELEVANCE, SPECIFIC, authors, categories

    assert authors.hits in SPECIFIC and categories.hits in SPECIFIC
    assert authors.add in RELEVANCE and categories.add in RELEVANCE
