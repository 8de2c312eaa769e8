"""Tests for digest.sources: the five listing formats, format detection and ids."""

from __future__ import annotations

import ast
import datetime
import json
import string
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import ListingError
from digest.records import PaperRecord, ParsedListing
from digest.sources import (
    FORMATS,
    arxiv_id_as_written,
    arxiv_id_from,
    detect_format,
    normalize_title,
    parse_listing,
)

from .shared_data import shared_path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
TODAY = datetime.date(2024, 5, 1)


def parse(text: str, fmt: str | None = None, today: datetime.date = TODAY) -> ParsedListing:
    return parse_listing(text, source="listing", today=today, fmt=fmt)


def error_of(text: str, fmt: str | None = None, today: datetime.date = TODAY) -> ListingError:
    with pytest.raises(ListingError) as info:
        parse(text, fmt, today)
    return info.value


def dump(prefix: str) -> str:
    (path,) = shared_path("listings").glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- real dumps


@pytest.mark.parametrize(("prefix", "count"), [("000", 90), ("001", 119), ("002", 100)])
def test_real_dumps_parse_to_every_listing(prefix: str, count: int) -> None:
    text = dump(prefix)
    assert detect_format(text) == "text"
    listing = parse(text)
    assert listing.format == "text"
    assert len(listing.records) == count
    for record in listing.records:
        assert record.arxiv_id is None and record.source_id is None
        assert len(record.title) < 200 < len(record.abstract)


def test_real_dumps_together_hold_275_distinct_papers() -> None:
    titles = {
        normalize_title(record.title)
        for prefix in ("000", "001", "002")
        for record in parse(dump(prefix)).records
    }
    assert len(titles) == 275


def test_real_dump_pairs_title_with_its_own_abstract() -> None:
    records = parse(dump("000")).records
    assert records[0].title == (
        "MonoCoder: Domain-Specific Code Language Model for HPC Codes and Tasks"
    )
    assert records[0].abstract.startswith(
        "With easier access to powerful compute resources, there is a growing trend in AI "
        "for software development to develop large language models (LLMs)"
    )
    assert records[1].title == "Zero-Shot Code Representation Learning via Prompt Tuning"
    assert records[1].abstract.startswith("Learning code representations has been the core")
    assert records[-1].title == "Decoder Pre-Training with only Text for Scene Text Recognition"
    assert records[-1].abstract.startswith("Scene text recognition (STR) pre-training methods")


def test_real_dump_date_takes_the_year_from_today() -> None:
    assert parse(dump("000"), today=datetime.date(2024, 5, 1)).date == "2024-04-29"
    assert parse(dump("000"), today=datetime.date(2024, 4, 29)).date == "2024-04-29"
    # "Apr 29" seen on 28 April must be last year's.
    assert parse(dump("000"), today=datetime.date(2024, 4, 28)).date == "2023-04-29"
    assert parse(dump("002"), today=datetime.date(2025, 1, 2)).date == "2024-03-11"


def test_real_dump_with_header_glued_to_first_title() -> None:
    listing = parse(dump("001"))
    assert listing.date is None
    first = listing.records[0]
    assert first.title == (
        "Pre-training Transformer Models with Sentence-Level Objectives for Answer Sentence "
        "Selection"
    )
    assert first.abstract.startswith("An important task for designing QA systems is answer")


# --------------------------------------------------------------------------- text format

ABSTRACT_1 = (
    "We study how to train models on small data. Our method reuses features from a larger "
    "model and adapts them with a few parameters. Experiments on four benchmarks show large "
    "gains over fine-tuning."
)
ABSTRACT_2 = (
    "Retrieval systems fail on long queries. We propose to split queries into facets and "
    "retrieve for each facet separately. This doubles recall on a new benchmark of long "
    "questions."
)


def test_text_page_blank_lines_crlf_bom_nbsp_and_trailing_spaces() -> None:
    text = (
        "\ufeffnew  \r\n\r\nDaily Papers\r\n\r\nNov 3\r\n\r\n"
        "Adapting\xa0Small  Models \r\n" + ABSTRACT_1 + "   \r\n\r\n\r\n"
        "Faceted Retrieval for Long Queries\r\n" + ABSTRACT_2.replace(" ", "\xa0", 3) + "\r\n"
    )
    listing = parse(text, today=datetime.date(2024, 11, 10))
    assert listing == ParsedListing(
        format="text",
        date="2024-11-03",
        records=(
            PaperRecord(title="Adapting Small Models", abstract=ABSTRACT_1),
            PaperRecord(title="Faceted Retrieval for Long Queries", abstract=ABSTRACT_2),
        ),
    )


@pytest.mark.parametrize(
    ("line", "today", "expected"),
    [
        ("Apr 29", datetime.date(2024, 5, 1), "2024-04-29"),
        ("April 29", datetime.date(2024, 5, 1), "2024-04-29"),
        ("Apr 29, 2022", datetime.date(2024, 5, 1), "2022-04-29"),
        ("2022-04-29", datetime.date(2024, 5, 1), "2022-04-29"),
        ("Dec 31", datetime.date(2025, 1, 1), "2024-12-31"),
        ("Feb 29", datetime.date(2027, 3, 1), "2024-02-29"),
    ],
)
def test_text_date_line(line: str, today: datetime.date, expected: str) -> None:
    text = f"Subscribe\n{line}\nAdapting Small Models\n{ABSTRACT_1}\n"
    assert parse(text, today=today).date == expected


def test_text_subscribe_glued_but_not_into_a_word() -> None:
    glued = parse("SubscribemPLUG-Owl: Modular Multimodal Models\n" + ABSTRACT_1)
    assert glued.records[0].title == "mPLUG-Owl: Modular Multimodal Models"
    community = parse("byAK and the research communityAdapting Small Models\n" + ABSTRACT_1)
    assert community.records[0].title == "Adapting Small Models"
    word = parse("new\nSubscribers Who Churn: A Study\n" + ABSTRACT_1)
    assert word.records[0].title == "Subscribers Who Churn: A Study"


def test_text_titles_with_question_marks_and_abbreviations_stay_titles() -> None:
    text = (
        "Revisiting Discriminative vs. Generative Classifiers: Theory and Implications\n"
        + ABSTRACT_1
        + "\nNT5?! Training T5 to Perform Numerical Reasoning\n"
        + ABSTRACT_2
    )
    titles = [record.title for record in parse(text, fmt="text").records]
    assert titles == [
        "Revisiting Discriminative vs. Generative Classifiers: Theory and Implications",
        "NT5?! Training T5 to Perform Numerical Reasoning",
    ]


def test_text_title_followed_by_title_names_the_title_without_abstract() -> None:
    text = "new\n\nSubscribe\n\nAdapting Small Models\n\nFaceted Retrieval\n\n" + ABSTRACT_2
    assert str(error_of(text)) == (
        'listing:5: title "Adapting Small Models" has no abstract; add the abstract on the next '
        "line or remove the title"
    )


def test_text_last_title_without_abstract() -> None:
    text = "Subscribe\nAdapting Small Models\n" + ABSTRACT_1 + "\nFaceted Retrieval\n"
    error = error_of(text)
    assert error.line == 4
    assert error.reason == (
        'title "Faceted Retrieval" has no abstract; add the abstract on the next line or remove '
        "the title"
    )


def test_text_abstract_without_title() -> None:
    text = "Subscribe\nAdapting Small Models\n" + ABSTRACT_1 + "\n\n" + ABSTRACT_2 + "\n"
    assert str(error_of(text)) == (
        'listing:5: abstract "Retrieval systems fail on long queries. We propose to split…" '
        'has no title (it follows the abstract of "Adapting Small Models" (line 2)); add its '
        "title on the line above, or join it to the abstract before it if one abstract was "
        "split over two lines"
    )


def test_text_header_only_has_no_listings() -> None:
    text = "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nApr 29\n"
    assert str(error_of(text)) == (
        "listing: no listings found after the header; a daily-papers page has a title line "
        "followed by an abstract line for each paper"
    )


def test_text_impossible_date_line() -> None:
    text = "Subscribe\nFeb 30\nAdapting Small Models\n" + ABSTRACT_1
    assert str(error_of(text)) == (
        'listing:2: date line "Feb 30" is not a real date; correct it or remove the line'
    )


def test_text_second_date_line() -> None:
    text = "Apr 29\nAdapting Small Models\n" + ABSTRACT_1 + "\nApr 28\nFaceted Retrieval\n"
    error = error_of(text)
    assert error.line == 4
    assert error.reason.startswith('unexpected date line "Apr 28" among the listings')


def test_text_fifty_megabyte_single_line_fails_fast() -> None:
    text = "Subscribe " + "x" * (50 * 1024 * 1024)
    for fmt in (None, "text"):
        start = time.perf_counter()
        error = error_of(text, fmt)
        assert time.perf_counter() - start < 2.0
        assert str(error) == (
            "listing:1: line too long: 52,428,810 characters, but a title or abstract line has "
            "at most 100,000; this is not a daily-papers page saved as text (check the file, or "
            "pass --format if it is JSON or XML)"
        )


def test_text_long_line_is_counted_after_cr_line_breaks() -> None:
    text = "Subscribe\rTitle\r" + "y" * 100_001 + "\r"
    assert error_of(text, "text").line == 3


# --------------------------------------------------------------------------- text properties

FIRST_WORDS = (
    "Learning", "Scaling", "Towards", "Efficient", "Neural", "Sparse", "Robust", "Fast",
    "Rethinking", "Understanding", "Diffusion", "Graph", "Vision", "Self-Supervised",
    "Benchmarking", "Multi-Agent", "Zero-Shot", "Contrastive", "Beyond", "Probing",
)  # fmt: skip
SENTENCE_STARTS = (
    "We", "Our", "This", "The", "Experiments", "Results", "Unlike", "Moreover", "Finally",
)  # fmt: skip
HEADERS = (
    "new",
    "Get trending papers in your email inbox!",
    "Get trending papers in your email inbox once a day!",
    "Subscribe",
    "Daily Papers",
    "by AK and the research community",
    "byAK and the research community",
)
GLUEABLE = ("Subscribe", "by AK and the research community", "byAK and the research community")

words = st.text(
    alphabet=string.ascii_letters + string.digits + "éüßøΩжλ-", min_size=1, max_size=10
).filter(lambda word: word.strip("-") != "")


@st.composite
def titles(draw: st.DrawFn) -> str:
    rest = draw(st.lists(words, min_size=1, max_size=12))
    parts = [draw(st.sampled_from(FIRST_WORDS)), *rest]
    if draw(st.booleans()):
        parts.insert(draw(st.integers(1, len(parts) - 1)), "vs.")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(parts) - 1))
        parts[at] += ":"
    title = " ".join(parts)
    return title + draw(st.sampled_from(["", "?", "!"]))


@st.composite
def abstracts(draw: st.DrawFn) -> str:
    sentences = []
    for _ in range(draw(st.integers(3, 6))):
        body = draw(st.lists(words, min_size=6, max_size=20))
        sentences.append(" ".join([draw(st.sampled_from(SENTENCE_STARTS)), *body]) + ".")
    return " ".join(sentences)


pairs = st.lists(st.tuples(titles(), abstracts()), min_size=1, max_size=6)


@st.composite
def pages(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]], str | None, datetime.date]:
    """A page written in any layout, with what parsing it must give back."""
    listing = draw(pairs)
    today = draw(st.dates(datetime.date(2001, 1, 1), datetime.date(2035, 12, 31)))
    headers = draw(st.lists(st.sampled_from(HEADERS), max_size=6))
    date_line, expected_date = None, None
    if draw(st.booleans()):
        day = today - datetime.timedelta(days=draw(st.integers(0, 364)))
        date_line = draw(
            st.sampled_from(
                [
                    f"{day:%b} {day.day}",
                    f"{day:%B} {day.day}",
                    f"{day:%b} {day.day}, {day.year}",
                    day.isoformat(),
                ]
            )
        )
        expected_date = day.isoformat()
    elements = [*headers, *([date_line] if date_line else [])]
    for title, abstract in listing:
        elements += [title, abstract]
    if headers and headers[-1] in GLUEABLE and draw(st.booleans()):
        # Saving the page can run the last header line into the next line.
        glued = elements.pop(len(headers) - 1)
        elements[len(headers) - 1] = glued + elements[len(headers) - 1]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    nbsp = draw(st.booleans())
    text = "\ufeff" if draw(st.booleans()) else ""
    for element in elements:
        if nbsp:
            element = element.replace(" ", "\xa0", 2)
        text += element + draw(st.sampled_from(["", " ", "\t", "\xa0 "]))
        text += newline * draw(st.integers(1, 3))
    expected = [(" ".join(t.split()), " ".join(a.split())) for t, a in listing]
    return text, expected, expected_date, today


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_any_text_raises_nothing_but_listing_error(text: str) -> None:
    for fmt in (None, *FORMATS):
        try:
            listing = parse(text, fmt)
        except ListingError:
            continue
        assert all(record.title and record.abstract for record in listing.records)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["[", "{", '{"', "[{", '[{"paper": {', "<", "<feed>", "<rss>"]), st.text())
def test_json_and_xml_lookalikes_raise_nothing_but_listing_error(prefix: str, rest: str) -> None:
    try:
        listing = parse(prefix + rest)
    except ListingError:
        return
    assert all(record.title and record.abstract for record in listing.records)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pages())
def test_text_pages_parse_back_to_their_pairs(
    page: tuple[str, list[tuple[str, str]], str | None, datetime.date],
) -> None:
    text, expected, expected_date, today = page
    assert detect_format(text) == "text"
    listing = parse(text, today=today)
    assert [(record.title, record.abstract) for record in listing.records] == expected
    assert listing.date == expected_date


@settings(max_examples=60, deadline=None)
@given(pairs, st.data())
def test_a_missing_abstract_is_reported_at_its_title(
    listing: list[tuple[str, str]], data: st.DataObject
) -> None:
    missing = data.draw(st.integers(0, len(listing) - 1))
    lines = ["Subscribe"]
    for index, (title, abstract) in enumerate(listing):
        lines.append(title)
        if index == missing:
            title_line = len(lines)
        else:
            lines.append(abstract)
    error = error_of("\n".join(lines) + "\n")
    assert error.line == title_line
    assert error.reason == (
        f'title "{" ".join(listing[missing][0].split())}" has no abstract; add the abstract on '
        "the next line or remove the title"
    )


# --------------------------------------------------------------------------- daily-papers JSON


def daily_item(paper_id: str, title: str, day: str, **paper: object) -> dict[str, object]:
    return {
        "paper": {
            "id": paper_id,
            "title": title,
            "summary": f"An abstract of\n{title}.",
            "authors": [{"_id": "a1", "name": "Ada Lovelace"}, {"name": "Alan  Turing"}],
            "publishedAt": "2023-05-13T17:59:58.000Z",
            "upvotes": 12,
            **paper,
        },
        "title": title,
        "publishedAt": "2023-05-15T00:00:00.000Z",
        "submittedOnDailyAt": f"{day}T01:02:03.000Z",
        "numComments": 3,
    }


def test_daily_papers_json() -> None:
    items = [
        daily_item("2305.07922v2", "First Paper", "2023-05-15"),
        daily_item("2305.07923", "Second Paper", "2023-05-16", upvotes=None),
        daily_item("2305.07924", "Third Paper", "2023-05-16"),
    ]
    text = json.dumps(items, indent=2)
    assert detect_format(text) == "daily-papers-json"
    listing = parse(text)
    assert listing.format == "daily-papers-json"
    assert listing.date == "2023-05-16"  # the most common day on the page
    assert listing.records[0] == PaperRecord(
        title="First Paper",
        abstract="An abstract of First Paper.",
        arxiv_id="2305.07922",
        authors=("Ada Lovelace", "Alan Turing"),
        url="https://arxiv.org/abs/2305.07922",
        published="2023-05-13",
        upvotes=12,
        version=2,  # read with the one id grammar, as in every other format
    )
    assert listing.records[1].upvotes is None


def test_daily_papers_json_date_falls_back_to_published_at() -> None:
    item = daily_item("2305.07922", "First Paper", "2023-05-15")
    del item["submittedOnDailyAt"]
    assert parse(json.dumps([item])).date == "2023-05-15"


def test_daily_papers_json_missing_title_names_item_and_line() -> None:
    items = [daily_item(f"2305.0792{n}", f"Paper {n}", "2023-05-15") for n in range(3)]
    del items[2]["paper"]["title"]  # type: ignore[attr-defined]
    text = json.dumps(items, indent=1)
    error = error_of(text)
    assert error.reason == "item 2: no paper.title"
    item_starts = [n for n, line in enumerate(text.splitlines(), start=1) if line == " {"]
    assert error.line == item_starts[2]


def test_daily_papers_json_missing_summary_and_bad_items() -> None:
    item = daily_item("2305.07922", "Paper", "2023-05-15")
    del item["paper"]["summary"]  # type: ignore[attr-defined]
    assert str(error_of(json.dumps([item]))) == "listing:1: item 0: no paper.summary"
    assert error_of('[{"paper": {"title": 3}}]').reason == (
        "item 0: paper.title must be a string, not a number"
    )
    text = '[{"paper": {"title": "T", "summary": "S"}}, 7]'
    assert error_of(text).reason == "item 1: expected an object, found a number"
    assert error_of('{"paper": {}}', fmt="daily-papers-json").reason == (
        "expected a JSON array of daily-papers items, found an object"
    )


def test_daily_papers_example_file() -> None:
    text = (EXAMPLES / "daily-papers-api.json").read_text(encoding="utf-8")
    listing = parse(text)
    assert listing.format == "daily-papers-json"
    assert listing.date == "2026-11-19"
    assert 4 <= len(listing.records) <= 6
    assert all(r.arxiv_id and r.url and r.upvotes is not None for r in listing.records)


# --------------------------------------------------------------------------- records


def test_records_json_lines() -> None:
    lines = [
        {
            "id": "2305.07922v3",
            "title": "  Spaced\n Title ",
            "abstract": "An abstract.",
            "authors": "Ada Lovelace, Alan Turing and Grace Hopper",
            "published": "2023-05-13T10:00:00Z",
            "upvotes": 5,
            "categories": "cs.CL cs.LG",
        },
        {
            "id": "openreview-42",
            "title": "Other",
            "summary": "Its summary.",
            "url": "https://arxiv.org/pdf/2101.00001v1.pdf",
            "authors": ["Ada Lovelace"],
            "categories": ["cs.IR"],
        },
        {"id": 17, "title": "No arXiv", "abstract": "Text."},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    assert detect_format(text) == "records"
    assert parse(text).records == (
        PaperRecord(
            title="Spaced Title",
            abstract="An abstract.",
            arxiv_id="2305.07922",
            authors=("Ada Lovelace", "Alan Turing", "Grace Hopper"),
            url="https://arxiv.org/abs/2305.07922",
            published="2023-05-13",
            upvotes=5,
            categories=("cs.CL", "cs.LG"),
            version=3,
        ),
        PaperRecord(
            title="Other",
            abstract="Its summary.",
            arxiv_id="2101.00001",
            source_id="openreview-42",
            authors=("Ada Lovelace",),
            url="https://arxiv.org/pdf/2101.00001v1.pdf",
            categories=("cs.IR",),
            version=1,
        ),
        PaperRecord(title="No arXiv", abstract="Text.", source_id="17"),
    )


def test_records_json_array_and_pretty_printed_single_record() -> None:
    array = json.dumps([{"id": "cs/0112017v1", "title": "Old", "abstract": "Old id."}], indent=2)
    assert detect_format(array) == "records"
    assert parse(array).records[0].arxiv_id == "cs/0112017"
    single = json.dumps({"title": "One", "abstract": "Only one."}, indent=2)
    assert parse(single).records == (PaperRecord(title="One", abstract="Only one."),)


def test_records_truncated_json_array() -> None:
    text = '[\n  {"title": "A", "abstract": "B"},\n  {"title": "C", "abs'
    assert str(error_of(text)) == (
        "listing:3: truncated or invalid JSON at line 3, column 18: Unterminated string starting at"
    )


def test_records_json_lines_bad_line() -> None:
    text = '{"title": "A", "abstract": "B"}\n\n{"title": "C", "abstract": "D"\n'
    assert str(error_of(text)) == (
        "listing:3: truncated or invalid JSON at line 3, column 31: Expecting ',' delimiter"
    )
    text = '{"title": "A", "abstract": "B"}\n[1, 2]\n'
    assert str(error_of(text)) == (
        "listing:2: expected a JSON object with a title and an abstract, found an array"
    )


def test_records_missing_fields_name_the_line_or_item() -> None:
    text = '{"title": "A", "abstract": "B"}\n{"title": "C"}\n'
    assert str(error_of(text)) == 'listing:2: no "abstract" (or "summary")'
    text = '[{"title": "A", "abstract": "B"},\n {"abstract": "D"}]'
    assert str(error_of(text)) == 'listing:2: item 1: no "title"'
    text = '{"title": "A", "abstract": "B", "upvotes": "many"}'
    assert str(error_of(text)) == 'listing:1: "upvotes" must be a whole number, not "many"'
    text = '{"title": "A", "abstract": "B", "published": "May 13"}'
    assert error_of(text).reason == ('"published" must be a date like 2023-05-13, not "May 13"')


def test_records_example_file() -> None:
    listing = parse((EXAMPLES / "records.jsonl").read_text(encoding="utf-8"))
    assert listing.format == "records"
    assert 4 <= len(listing.records) <= 6
    assert listing.records[0].arxiv_id == "2611.04320"  # written with a version


# --------------------------------------------------------------------------- Atom

ATOM = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">ArXiv Query: search_query=all:speech</title>
  <id>http://arxiv.org/api/abc</id>
  <updated>2023-05-16T00:00:00-04:00</updated>
  <entry>
    <id>http://arxiv.org/abs/2305.07922v2</id>
    <updated>2023-05-15T17:59:58Z</updated>
    <published>2023-05-13T17:59:58Z</published>
    <title>A Title Wrapped
  Over Two Lines</title>
    <summary>  The abstract, wrapped
  by the API &amp; indented.
</summary>
    <author><name>Ada Lovelace</name></author>
    <author><name>Alan Turing</name></author>
    <link href="http://arxiv.org/abs/2305.07922v2" rel="alternate" type="text/html"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.SD"/>
    <category term="cs.CL"/>
    <category term="cs.SD"/>
  </entry>
</feed>
"""


def test_atom() -> None:
    assert detect_format(ATOM) == "atom"
    listing = parse(ATOM)
    assert listing == ParsedListing(
        format="atom",
        date="2023-05-16",
        records=(
            PaperRecord(
                title="A Title Wrapped Over Two Lines",
                abstract="The abstract, wrapped by the API & indented.",
                arxiv_id="2305.07922",
                authors=("Ada Lovelace", "Alan Turing"),
                url="https://arxiv.org/abs/2305.07922",
                published="2023-05-13",
                categories=("cs.SD", "cs.CL"),
                version=2,
            ),
        ),
    )


def test_atom_entry_without_summary_and_api_error() -> None:
    text = ATOM.replace("<summary>", "<comment>").replace("</summary>", "</comment>")
    assert error_of(text).reason == "entry 0 (http://arxiv.org/abs/2305.07922v2): no <summary>"
    error_feed = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry>'
        "<id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id><title>Error</title>"
        "<summary>incorrect id format for 1234</summary></entry></feed>"
    )
    assert error_of(error_feed).reason == (
        "the arXiv API answered with an error: incorrect id format for 1234; fix the query and "
        "download the feed again"
    )


def test_atom_example_file_strips_versions() -> None:
    text = (EXAMPLES / "arxiv-atom.xml").read_text(encoding="utf-8")
    assert "2611.04871v2" in text
    listing = parse(text)
    assert listing.format == "atom"
    assert listing.records[0].arxiv_id == "2611.04871"
    assert all("\n" not in r.title and "  " not in r.abstract for r in listing.records)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n]>\n'
            "<feed><entry>&lol;</entry></feed>",
            "listing:2: the XML has a <!DOCTYPE> declaration, which digest does not accept (it "
            "can expand entities without limit); remove the declaration",
        ),
        (
            '<rss version="2.0"><channel>\n<!ENTITY x "y"></channel></rss>',
            "listing:2: the XML has a <!ENTITY> declaration, which digest does not accept (it "
            "can expand entities without limit); remove the declaration",
        ),
        (
            '<feed xmlns="http://www.w3.org/2005/Atom">\n<entry>\n</feed>',
            "listing:3: invalid XML at line 3, column 3: mismatched tag",
        ),
    ],
)
def test_dangerous_or_broken_xml(text: str, message: str) -> None:
    assert str(error_of(text)) == message


# --------------------------------------------------------------------------- RSS

RSS = """<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel>
    <title>cs.CL updates on arXiv.org</title>
    <pubDate>Tue, 16 May 2023 00:00:00 -0400</pubDate>
    <item>
      <title>Speech Models Listen Twice</title>
      <link>https://arxiv.org/abs/2305.07922</link>
      <description>arXiv:2305.07922v1 Announce Type: new
Abstract: We listen twice &amp;lt;sometimes&amp;gt; &amp;amp; it helps.</description>
      <guid isPermaLink="false">oai:arXiv.org:2305.07922v1</guid>
      <category>cs.CL</category>
      <category>eess.AS</category>
      <pubDate>Tue, 16 May 2023 00:00:00 -0400</pubDate>
      <dc:creator>Ada Lovelace, Alan Turing, Grace Hopper</dc:creator>
    </item>
  </channel>
</rss>
"""


def test_rss() -> None:
    assert detect_format(RSS) == "rss"
    assert parse(RSS) == ParsedListing(
        format="rss",
        date="2023-05-16",
        records=(
            PaperRecord(
                title="Speech Models Listen Twice",
                abstract="We listen twice <sometimes> & it helps.",
                arxiv_id="2305.07922",
                authors=("Ada Lovelace", "Alan Turing", "Grace Hopper"),
                url="https://arxiv.org/abs/2305.07922",
                published="2023-05-16",
                categories=("cs.CL", "eess.AS"),
                version=1,
                announce_type="new",
            ),
        ),
    )


RDF = """<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
  xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://arxiv.org/">
    <title>cs.CL updates on arXiv.org</title>
    <dc:date>2023-05-15T20:30:00-05:00</dc:date>
  </channel>
  <item rdf:about="http://arxiv.org/abs/2305.07922">
    <title>Speech Models Listen Twice. (arXiv:2305.07922v1 [cs.CL])</title>
    <link>http://arxiv.org/abs/2305.07922</link>
    <description rdf:parseType="Literal">&lt;p&gt;We listen &lt;i&gt;twice&lt;/i&gt;.&lt;/p&gt;
</description>
    <dc:creator> &lt;a href="http://arxiv.org/find/cs/1/au:+Lovelace_A/0/1/0/all/0/1"&gt;Ada Lovelace&lt;/a&gt;, &lt;a href="x"&gt;Alan Turing&lt;/a&gt;</dc:creator>
  </item>
</rdf:RDF>
"""  # noqa: E501


def test_rss_1_0() -> None:
    assert detect_format(RDF) == "rss"
    listing = parse(RDF)
    assert listing.date == "2023-05-15"
    assert listing.records == (
        PaperRecord(
            title="Speech Models Listen Twice",
            abstract="We listen twice.",
            arxiv_id="2305.07922",
            authors=("Ada Lovelace", "Alan Turing"),
            url="https://arxiv.org/abs/2305.07922",
            categories=("cs.CL",),
            version=1,
        ),
    )


def test_rss_example_file_and_empty_feed() -> None:
    listing = parse((EXAMPLES / "arxiv-rss.xml").read_text(encoding="utf-8"))
    assert listing.format == "rss" and 4 <= len(listing.records) <= 6
    assert not any("Announce Type" in r.abstract for r in listing.records)
    # arXiv sends an empty channel on days without announcements: a quiet day, not an error.
    empty = '<rss version="2.0"><channel><title>cs</title></channel></rss>'
    assert parse(empty) == ParsedListing(format="rss", date=None, records=())


# --------------------------------------------------------------------------- examples, detection


def test_example_pages_and_recurring_papers() -> None:
    today = datetime.date(2026, 11, 22)
    pages = {
        name: parse((EXAMPLES / name).read_text(encoding="utf-8"), today=today)
        for name in ("daily-papers-page.txt", "day2-page.txt", "day3-page.txt")
    }
    assert [pages[name].date for name in pages] == ["2026-11-19", "2026-11-20", "2026-11-21"]
    assert 4 <= len(pages["daily-papers-page.txt"].records) <= 6
    assert all(6 <= len(pages[n].records) <= 10 for n in ("day2-page.txt", "day3-page.txt"))
    day2 = {normalize_title(r.title) for r in pages["day2-page.txt"].records}
    day3 = {normalize_title(r.title) for r in pages["day3-page.txt"].records}
    assert len(day2 & day3) >= 2
    # Papers recur across formats: by arXiv id, and by title in another case.
    ids: dict[str, int] = {}
    titles: dict[str, set[str]] = {}
    for path in sorted(EXAMPLES.iterdir()):
        for record in parse(path.read_text(encoding="utf-8"), today=today).records:
            if record.arxiv_id:
                ids[record.arxiv_id] = ids.get(record.arxiv_id, 0) + 1
            titles.setdefault(normalize_title(record.title), set()).add(record.title)
    assert sum(count > 1 for count in ids.values()) >= 3
    assert any(len(spellings) > 1 for spellings in titles.values())


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("daily-papers-page.txt", "text"),
        ("day2-page.txt", "text"),
        ("day3-page.txt", "text"),
        ("daily-papers-api.json", "daily-papers-json"),
        ("records.jsonl", "records"),
        ("arxiv-atom.xml", "atom"),
        ("arxiv-rss.xml", "rss"),
    ],
)
def test_examples_are_detected(name: str, fmt: str) -> None:
    assert detect_format((EXAMPLES / name).read_text(encoding="utf-8")) == fmt


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty; there are no listings in it"),
        (
            "just some words\nand more words\n",
            "cannot tell the format: this is not JSON or XML, and it does not look like a "
            "daily-papers page (no header lines, and it does not start with a title line "
            "followed by an abstract line); pass --format with one of text, daily-papers-json, "
            "records, atom, rss",
        ),
        (
            "<!doctype html>\n<html><body>Daily</body></html>",
            "cannot tell the format: this is an HTML page; save the daily-papers page as text, or "
            "download the arXiv feed; pass --format with one of text, daily-papers-json, "
            "records, atom, rss",
        ),
    ],
)
def test_detect_format_refuses(text: str, message: str) -> None:
    with pytest.raises(ListingError) as info:
        detect_format(text, source="f.txt")
    assert str(info.value) == f"f.txt: {message}"


def test_unknown_format() -> None:
    assert str(error_of("[]", fmt="csv")) == (
        'listing: unknown format "csv"; choose one of text, daily-papers-json, records, atom, rss'
    )


def test_text_without_header_is_detected_by_shape() -> None:
    assert detect_format("Adapting Small Models\n" + ABSTRACT_1) == "text"


# --------------------------------------------------------------------------- ids and titles


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2305.07922v2", "2305.07922"),
        ("2305.07922", "2305.07922"),
        ("https://arxiv.org/abs/2305.07922v2", "2305.07922"),
        ("http://export.arxiv.org/abs/2305.07922", "2305.07922"),
        ("https://arxiv.org/pdf/2305.07922v1.pdf", "2305.07922"),
        ("https://huggingface.co/papers/2305.07922", "2305.07922"),
        ("arXiv:2305.07922", "2305.07922"),
        ("oai:arXiv.org:2305.07922v1", "2305.07922"),
        ("0704.0001", "0704.0001"),
        ("cs/0112017v1", "cs/0112017"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136", "math/0309136"),
        ("https://arxiv.org/abs/cs/0112017v1", "cs/0112017"),
        ("2313.07922", None),  # month 13
        ("1501.0001", None),  # five digits from 2015 on
        ("10.1145/3292500", None),
        ("openreview-42", None),
        ("", None),
    ],
)
def test_arxiv_id_from(value: str, expected: str | None) -> None:
    assert arxiv_id_from(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2305.07922v2", "2305.07922v2"),
        (" arXiv:2305.07922 ", "2305.07922"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("CS/0112017V1", "CS/0112017V1"),
        ("2313.07922", "2313.07922"),  # links are looser than identity: no month check
        ("https://arxiv.org/abs/2305.07922", None),
        ("oai:arXiv.org:2305.07922", None),
        ("10.1145/3292500", None),
        ("t:0123456789abcdef", None),
    ],
)
def test_arxiv_id_as_written(value: str, expected: str | None) -> None:
    assert arxiv_id_as_written(value) == expected


@given(
    st.from_regex(
        r"(arXiv:)?([0-9]{4}\.[0-9]{4,5}|[a-z]{1,3}(-[a-z]{1,3})?(\.[A-Z]{2})?/[0-9]{7})(v[0-9])?",
        fullmatch=True,
    )
)
def test_every_arxiv_id_is_one_a_link_takes(value: str) -> None:
    identity = arxiv_id_from(value)
    if identity is not None:
        assert arxiv_id_as_written(identity) == identity
        assert arxiv_id_from(arxiv_id_as_written(value) or "") == identity


def test_normalize_title() -> None:
    assert normalize_title("BERT: Pre-training of Deep  Transformers!") == (
        "bertpretrainingofdeeptransformers"
    )
    assert normalize_title("ＧＰＴ-４ Straße") == normalize_title("gpt 4 STRASSE")


# --------------------------------------------------------------------------- the registry


def test_readme_format_table_lists_exactly_the_registered_formats() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Input formats", 1)[1].split("\n## ", 1)[0]
    rows = section.split("|---|---|\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [row.split("`")[1] for row in rows] == list(FORMATS)


def test_every_format_has_a_sample_it_is_detected_as() -> None:
    detected = {
        detect_format(path.read_text(encoding="utf-8"))
        for path in EXAMPLES.iterdir()
        if path.suffix in {suffix for fmt in FORMATS.values() for suffix in fmt.suffixes}
    }
    assert detected == set(FORMATS)


def test_sources_import_only_records_errors_and_text_from_digest() -> None:
    allowed = {"records", "errors", "text"}
    for path in sorted((REPO / "digest" / "sources").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.name} has no docstring"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "digest" for a in node.names), path.name
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level == 2 or module.split(".")[0] == "digest":
                    assert module.split(".")[-1] in allowed, f"{path.name}: {module}"
