"""The renderer's fast paths give what the plain ways give: the HMAC with precomputed key
states, a digest's links signed together, the per-paper display values kept across
digests, and the line-length check."""

from __future__ import annotations

import dataclasses
import datetime
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from digest.config import EmailConfig
from digest.errors import TokenError
from digest.records import DigestContent, Keyword, Paper, Pick, Profile, Subscriber
from digest.render.content import ContextBuilder
from digest.render.message import MAX_LINE_BYTES, lines_fit
from digest.tokens import ACTIONS, LinkSigner, _HmacSha1, link_url
from tests.run_helpers import TEST_SECRET

NOW = datetime.datetime(2026, 11, 22, 7, 30, tzinfo=datetime.UTC)
DAY = NOW.date()
EMAIL = EmailConfig(postal_address="digest · 1 Example Street · 00000 Example City")
BASE = "https://digest.example.org/"


@given(key=st.binary(max_size=200), message=st.binary(max_size=300))
def test_hmac_with_precomputed_key_states_is_hmac_sha1(key: bytes, message: bytes) -> None:
    # Keys longer than SHA-1's 64-byte block are hashed first (RFC 2104): both kinds here.
    assert _HmacSha1(key).digest(message) == hmac.digest(key, message, "sha1")
    mac = _HmacSha1(key)
    assert mac.digest(message) == mac.digest(message)  # the key states are not used up


@pytest.mark.parametrize("subscriber_id", [0, 7, 2**40])
@pytest.mark.parametrize("paper_id", [None, "2411.10001", 'we"ird\\ id ü\u2028'])
def test_a_digests_links_are_the_signed_urls_of_each_token(
    subscriber_id: int, paper_id: str | None
) -> None:
    signer = LinkSigner(TEST_SECRET)
    links = signer.links(BASE, subscriber_id, issued_at=NOW)
    for action in ACTIONS:
        expected = link_url(
            BASE, action, signer.sign(subscriber_id, action, paper_id, issued_at=NOW)
        )
        assert links.url(action, paper_id) == expected
    if paper_id is not None:
        more, less = links.feedback_urls(paper_id)
        assert more == links.url("more", paper_id)
        assert less == links.url("less", paper_id)
        # Stock itsdangerous verifies them, each under its own action only.
        for url, action, other in ((more, "more", "less"), (less, "less", "more")):
            token = url.rpartition("/")[2]
            stock = URLSafeSerializer(TEST_SECRET, salt=f"digest.link.{action}")
            assert stock.loads(token) == [subscriber_id, int(NOW.timestamp()), paper_id]
            assert signer.verify(token, action).paper_id == paper_id
            with pytest.raises(TokenError):
                signer.verify(token, other)
    with pytest.raises(TokenError, match="unknown link action 'delete'"):
        links.url("delete")


def paper(i: int, **changes: object) -> Paper:
    made = Paper(
        id=f"2411.{10000 + i:05d}",
        title=f"Paper {i} on program synthesis",
        abstract="One sentence about it. " * 30,
        authors=("Ada Lovelace", "Grace Hopper"),
        upvotes=i,
        first_seen="2026-11-20",
        listing_date="2026-11-21",
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def content(papers: list[Paper], **changes: object) -> DigestContent:
    made = DigestContent(
        subscriber=Subscriber(id=42, email="ada@example.org", name="Ada"),
        profile=Profile(keywords=(Keyword("program synthesis"),)),
        picks=tuple((p, Pick(p.id, 1.0, ("matches “program synthesis”",))) for p in papers),
        digest_date=DAY,
        trending=(paper(50), paper(51)),
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def test_kept_display_values_follow_a_changed_paper_and_day() -> None:
    builder = ContextBuilder(EMAIL, LinkSigner(TEST_SECRET))
    first = builder.context(content([paper(1)]), NOW)
    assert first["picks"][0].title == "Paper 1 on program synthesis"
    assert first["picks"][0].date_label == "Nov 21"
    # The same id with a new title (a new version, a preview of an edit): the new title.
    retitled = builder.context(content([paper(1, title="A better title")]), NOW)
    assert retitled["picks"][0].title == "A better title"
    # Another year's digest: the date label says the year.
    later = content([paper(1, title="A better title")], digest_date=datetime.date(2027, 1, 5))
    assert builder.context(later, NOW)["picks"][0].date_label == "Nov 21, 2026"
    # The trending list is made once a day but each digest gets a list of its own.
    a, b = (builder.context(content([paper(2)]), NOW)["trending"] for _ in range(2))
    assert a == b and a is not b
    other = builder.context(content([paper(2)], trending=(paper(52),)), NOW)["trending"]
    assert [view.id for view in other] == [paper(52).id]
    # Reasons are cleaned once per distinct tuple, each pick keeps its own.
    odd = content([paper(3)])
    odd = dataclasses.replace(odd, picks=((paper(3), Pick(paper(3).id, 1.0, (" a\x07 b ", ""))),))
    assert builder.context(odd, NOW)["picks"][0].reasons == ("a b",)
    assert builder.context(content([paper(3)]), NOW)["picks"][0].reasons == (
        "matches “program synthesis”",
    )


@given(st.lists(st.integers(min_value=0, max_value=2100), max_size=8), st.booleans())
def test_lines_fit_says_what_splitting_the_lines_says(lengths: list[int], final_lf: bool) -> None:
    data = b"\n".join(b"x" * n for n in lengths) + (b"\n" if final_lf else b"")
    assert lines_fit(data) == (max(map(len, data.split(b"\n"))) <= MAX_LINE_BYTES)
