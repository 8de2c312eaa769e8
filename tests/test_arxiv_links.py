"""arXiv ids read from links (issue 12): every page of a paper that listings link to, in
every format that reads a link, through the one grammar in :mod:`digest.sources.ids`."""

from __future__ import annotations

import datetime
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.sources import arxiv_id_from, parse_listing

TODAY = datetime.date(2024, 5, 1)

PAGES = (
    "https://rss.arxiv.org/abs/{}",
    "https://arxiv.org/abs/{}",
    "https://arxiv.org/pdf/{}",
    "https://arxiv.org/pdf/{}.pdf",
    "http://export.arxiv.org/abs/{}",
    "https://huggingface.co/papers/{}",
    "https://www.alphaxiv.org/abs/{}",
)


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    ("written", "identity"),
    [
        ("2305.07922", "2305.07922"),
        ("2305.07922v2", "2305.07922"),
        ("0704.0001v1", "0704.0001"),
        ("cs/0112017", "cs/0112017"),
        ("cs/0112017v3", "cs/0112017"),
    ],
)
def test_each_page_of_a_paper_gives_its_id(page: str, written: str, identity: str) -> None:
    assert arxiv_id_from(page.format(written)) == identity


@pytest.mark.parametrize(
    "link",
    [
        "https://arxiv.org/abs/2313.00001",  # month 13
        "https://rss.arxiv.org/abs/2305.0792",  # four digits after 2015
        "https://arxiv.org/abs/2305.07922/extra",
        "https://arxiv.org/abs/2305.07922vx",
        "https://rss.arxiv.org/rss/cs.CL",
        "https://arxiv.org/list/2305.07922",
        "https://arxiv.org/2305.07922",
        "https://huggingface.co/2305.07922",
        "https://huggingface.co/datasets/2305.07922",
        "https://www.alphaxiv.org/2305.07922",
        "https://notarxiv.org/abs/2305.07922",
        "https://arxiv.org.example.com/abs/2305.07922",
        "https://example.com/arxiv.org/abs/2305.07922",
        "https://alphaxiv.org.example/abs/2305.07922",
        "ftp://arxiv.org/abs/2305.07922",
    ],
)
def test_lookalike_links_are_not_ids(link: str) -> None:
    assert arxiv_id_from(link) is None


_NEW_STYLE = st.builds(
    lambda year, month, number: f"{year:02d}{month:02d}.{number:0{5 if year >= 15 else 4}d}",
    st.integers(8, 26),
    st.integers(1, 12),
    st.integers(1, 9999),
)
_OLD_STYLE = st.builds(
    lambda archive, year, month, number: f"{archive}/{year:02d}{month:02d}{number:03d}",
    st.sampled_from(["cs", "math", "hep-th", "astro-ph", "quant-ph"]),
    st.integers(0, 99).filter(lambda y: y <= 7 or y >= 91),
    st.integers(1, 12),
    st.integers(1, 999),
)


@given(
    identity=st.one_of(_NEW_STYLE, _OLD_STYLE),
    version=st.one_of(st.just(""), st.integers(1, 30).map(lambda v: f"v{v}")),
    page=st.sampled_from(PAGES),
)
def test_any_id_on_any_page_is_recognised(identity: str, version: str, page: str) -> None:
    assert arxiv_id_from(identity) == identity
    assert arxiv_id_from(page.format(identity + version)) == identity


@given(
    identity=_NEW_STYLE,
    month=st.integers(13, 99),
    page=st.sampled_from(PAGES),
)
def test_a_bad_month_on_any_page_is_no_id(identity: str, month: int, page: str) -> None:
    bad = f"{identity[:2]}{month}{identity[4:]}"
    assert arxiv_id_from(page.format(bad)) is None


# --------------------------------------------------------------------------- in each format


def _rss(link: str) -> str:
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss version="2.0"><channel><title>cs.CL updates on arXiv.org</title>
<pubDate>Tue, 16 May 2023 00:00:00 -0400</pubDate>
<item><title>Speech Models Listen Twice</title><link>{link}</link>
<description>We listen twice.</description><guid isPermaLink="false">item-1</guid></item>
</channel></rss>
"""


def _atom(link: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>papers</title>
<updated>2023-05-16T00:00:00-04:00</updated>
<entry><id>tag:example.org,2023:entry-1</id><title>Speech Models Listen Twice</title>
<summary>We listen twice.</summary><link href="{link}" rel="alternate"/></entry>
</feed>
"""


def _records(link: str) -> str:
    return json.dumps({"title": "Speech Models Listen Twice", "abstract": "x", "url": link})


@pytest.mark.parametrize(("fmt", "make"), [("rss", _rss), ("atom", _atom), ("records", _records)])
@pytest.mark.parametrize("page", PAGES)
def test_formats_read_the_id_from_a_link(fmt: str, make: object, page: str) -> None:
    assert callable(make)
    listing = parse_listing(make(page.format("2305.07922v2")), source="l", today=TODAY)
    assert listing.format == fmt
    (record,) = listing.records
    assert record.arxiv_id == "2305.07922"
    assert record.source_id is None


@pytest.mark.parametrize(("fmt", "make"), [("rss", _rss), ("atom", _atom), ("records", _records)])
def test_formats_take_no_id_from_a_lookalike_link(fmt: str, make: object) -> None:
    assert callable(make)
    link = "https://arxiv.org/list/2305.07922"
    listing = parse_listing(make(link), source="l", today=TODAY)
    (record,) = listing.records
    assert record.arxiv_id is None
    assert record.url == link
