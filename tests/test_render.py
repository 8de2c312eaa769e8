"""The digest email: templates, MIME structure, headers, escaping, links and tokens."""

from __future__ import annotations

import dataclasses
import datetime
import email
import io
import re
from email import policy
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from digest import render as render_module
from digest.config import EmailConfig
from digest.errors import RenderError, TokenError
from digest.records import Keyword, Paper, Pick, Profile, Subscriber
from digest.render import (
    DigestContent,
    Renderer,
    cut_abstract,
    format_address,
    format_subject,
    message_id,
    paper_link,
    shorten_authors,
    top_topics,
)
from digest.render import templates as render_templates
from digest.tokens import LinkSigner, link_url
from tests.run_helpers import TEST_SECRET

NOW = datetime.datetime(2026, 11, 22, 7, 30, tzinfo=datetime.UTC)
DAY = datetime.date(2026, 11, 22)
SECRET = TEST_SECRET
EMAIL = EmailConfig(postal_address="digest · 1 Example Street · 00000 Example City")
HOSTILE_TITLE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
HOSTILE_ABSTRACT = 'See <a href="javascript:alert(3)">this</a> & <style>body{display:none}</style>.'

ABSTRACT = (
    "We study program synthesis with large language models. Our method samples candidate "
    "programs, e.g. with beam search, and filters them with unit tests written by Smith et "
    "al. in earlier work. It solves 62.5% of the benchmark, up from 41.0%. We also release "
    "a new dataset of 10,000 tasks. Code and data are public. Further analysis shows that "
    "the gains come mostly from the filtering step rather than from sampling more programs."
)


def make_paper(i: int, **changes: object) -> Paper:
    paper = Paper(
        id=f"2411.{10000 + i:05d}",
        title=f"Paper number {i}: synthesising programs from examples",
        abstract=ABSTRACT,
        authors=tuple(f"Author {chr(65 + j)}" for j in range(1 + i % 6)),
        upvotes=10 * i + 1,
        first_seen="2026-11-20",
        listing_date="2026-11-21",
    )
    return dataclasses.replace(paper, **changes)  # type: ignore[arg-type]


TOPICS = ("code generation", "program synthesis")  # the keywords the picks' reasons name


def make_content(n: int = 3, **changes: object) -> DigestContent:
    papers = [make_paper(i) for i in range(n)]
    content = DigestContent(
        subscriber=Subscriber(id=42, email="ada@example.org", name="Ada Lovelace"),
        profile=Profile(
            keywords=(
                Keyword("program synthesis", 1.5),
                Keyword("code generation", 2.0),
                Keyword("testing", 0.5),
            )
        ),
        picks=tuple(
            (p, Pick(p.id, 1.0 - k / 10, (f"matches: {TOPICS[k % 2]}",)))
            for k, p in enumerate(papers)
        ),
        digest_date=DAY,
        trending=(make_paper(50, title="A trending paper"),),
        new_paper_count=12,
    )
    return dataclasses.replace(content, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def signer() -> LinkSigner:
    return LinkSigner(SECRET)


@pytest.fixture(scope="module")
def renderer(signer: LinkSigner) -> Renderer:
    return Renderer(EMAIL, signer)


def render_bytes(renderer: Renderer, content: DigestContent) -> bytes:
    message = renderer.render(content, now=NOW)
    assert message is not None
    return message.as_bytes()


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def bodies(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies, with the CRLF line ends of SMTP turned back into LF."""
    text, html = message.iter_parts()
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


class Collector(HTMLParser):
    """Every start tag with its attributes, and all text, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def hrefs(self) -> list[str]:
        return [a["href"] or "" for t, a in self.tags if t == "a" and "href" in a]


def collect(html: str) -> Collector:
    collector = Collector()
    collector.feed(html)
    collector.close()
    return collector


# --- the message --------------------------------------------------------------------------


def test_message_is_text_then_html_alternative(renderer: Renderer) -> None:
    message = parse(render_bytes(renderer, make_content()))
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    text, html = bodies(message)
    assert "Paper number 0: synthesising programs from examples" in text
    assert "Paper number 0: synthesising programs from examples" in html


def test_headers_are_present_and_valid(renderer: Renderer, signer: LinkSigner) -> None:
    data = render_bytes(renderer, make_content())
    message = parse(data)
    assert message["From"].addresses == (Address("digest", addr_spec="digest@example.org"),)
    assert message["To"].addresses == (Address("Ada Lovelace", addr_spec="ada@example.org"),)
    assert message["Subject"] == "3 papers for you · code generation, program synthesis · Nov 22"
    assert message["Date"].datetime == NOW
    assert re.fullmatch(
        r"<digest\.2026-11-22\.42\.[0-9a-f]{10}@example\.org>", message["Message-ID"]
    )
    assert message["MIME-Version"] == "1.0"
    assert message["List-Id"] == "digest <digest.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    links = re.fullmatch(r"<([^>]+)>, <([^>]+)>", message["List-Unsubscribe"])
    assert links is not None
    one_click, mailto = links.groups()
    assert mailto == "mailto:unsubscribe@example.org?subject=unsubscribe"
    assert one_click.startswith("http://127.0.0.1:8000/unsubscribe/")
    claims = signer.verify(one_click.rsplit("/", 1)[1], "unsubscribe")
    assert (claims.subscriber_id, claims.action, claims.paper_id) == (42, "unsubscribe", None)

    # SMTP framing: CRLF everywhere, no line over 998 bytes, no bare LF.
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_message_id_is_stable_per_subscriber_and_day(renderer: Renderer) -> None:
    content = make_content()
    first = parse(render_bytes(renderer, content))["Message-ID"]
    again = parse(render_bytes(renderer, content))["Message-ID"]
    other_day = parse(render_bytes(renderer, make_content(digest_date=DAY.replace(day=23))))
    other_sub = make_content(subscriber=Subscriber(id=43, email="b@example.org"))
    assert first == again
    assert other_day["Message-ID"] != first
    assert parse(render_bytes(renderer, other_sub))["Message-ID"] != first
    assert message_id(42, DAY, "example.org") == message_id(42, DAY, "example.org")
    assert message_id(42, DAY, "example.org") != message_id(24, DAY, "example.org")


def test_same_input_gives_the_same_bytes(renderer: Renderer) -> None:
    assert render_bytes(renderer, make_content()) == render_bytes(renderer, make_content())


def test_fast_serialiser_writes_what_the_stdlib_generator_writes(renderer: Renderer) -> None:
    # smtplib.send_message flattens with a stock BytesGenerator: it must see the same bytes.
    quiet = make_content(picks=(), subscriber=Subscriber(1, "q@x.org", quiet_day="note"))
    for content in (make_content(), quiet, hostile_content()):
        message = renderer.render(content, now=NOW)
        assert message is not None
        out = io.BytesIO()
        BytesGenerator(out, policy=message.policy).flatten(message)
        assert message.as_bytes() == out.getvalue() == bytes(message)


def test_html_part_is_7bit_and_text_part_8bit(renderer: Renderer) -> None:
    paper = make_paper(0)
    quoted = make_content(picks=((paper, Pick(paper.id, 0.9, ("matches “code generation”",))),))
    text, html = parse(render_bytes(renderer, quoted)).iter_parts()
    assert html["Content-Transfer-Encoding"] == "7bit"  # non-ASCII as character references
    assert text["Content-Transfer-Encoding"] == "8bit"
    assert "matches “code generation”" in text.get_content()
    assert "matches “code generation”" in "".join(collect(html.get_content()).text)


def test_a_pathologically_long_line_falls_back_to_quoted_printable(renderer: Renderer) -> None:
    title = "<" * 290  # escaped to 1,160 characters on one line (titles stop at 300)
    content = make_content(1, picks=((make_paper(1, title=title), Pick("x", 1.0)),))
    data = render_bytes(renderer, content)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    text, html = parse(data).iter_parts()
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert title in "".join(collect(html.get_content()).text)
    # The plain-text part breaks the long word over lines of at most 76 columns.
    assert title in "".join(line.strip() for line in text.get_content().splitlines())


# --- safety -------------------------------------------------------------------------------


def hostile_content() -> DigestContent:
    paper = make_paper(
        1,
        id="not-an-arxiv-id",
        title=HOSTILE_TITLE,
        abstract=HOSTILE_ABSTRACT,
        authors=("<b>Mallory</b>", 'Eve" onmouseover="alert(5)'),
        url="javascript:alert(4)",
    )
    reasons = ("<style>*{color:red}</style>", "matches <i>x</i>")
    return make_content(picks=((paper, Pick(paper.id, 1.0, reasons)),))


def test_listing_text_cannot_inject_markup_styles_or_links(renderer: Renderer) -> None:
    html = renderer.render_html(hostile_content(), now=NOW)
    page = collect(html)
    tags = [t for t, _ in page.tags]
    innocent = [t for t, _ in collect(renderer.render_html(make_content(1), now=NOW)).tags]
    assert "script" not in tags
    assert not any(t == "img" for t in tags)
    assert not any("onerror" in a or "onmouseover" in a for _, a in page.tags)
    assert tags.count("style") == innocent.count("style")  # only the template's own
    assert tags.count("b") == tags.count("i") == 0
    assert not any(h.lower().startswith("javascript:") for h in page.hrefs())
    assert all(h.startswith(("http://", "https://")) for h in page.hrefs())
    text = "".join(page.text)
    assert HOSTILE_TITLE in text
    assert '<a href="javascript:alert(3)">this</a>' in text
    assert "<style>*{color:red}</style>" in text
    assert "<b>Mallory</b>" in text


def test_unsafe_paper_url_falls_back_to_search(renderer: Renderer) -> None:
    page = collect(renderer.render_html(hostile_content(), now=NOW))
    search = "https://arxiv.org/search/?query=" + quote(HOSTILE_TITLE, safe="") + "&searchtype=all"
    assert search in page.hrefs()


def test_a_name_cannot_add_headers(renderer: Renderer) -> None:
    sub = Subscriber(id=7, email="eve@example.org", name="Eve\r\nBcc: x@evil.example")
    profile = Profile(keywords=(Keyword("x\r\nBcc: y@evil.example"),))
    picks = tuple(
        (p, Pick(p.id, 0.9, ("matches: x\r\nBcc: y@evil.example",)))
        for p in map(make_paper, range(3))
    )
    data = render_bytes(renderer, make_content(subscriber=sub, profile=profile, picks=picks))
    message = parse(data)
    assert sorted(message.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "MIME-Version",
            "Content-Type",
        ]
    )
    (to,) = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Eve Bcc: x@evil.example", "eve@example.org")
    assert message["Subject"] == "3 papers for you · x Bcc: y@evil.example · Nov 22"


def test_an_encoded_word_a_pick_matched_stays_text_in_the_subject(renderer: Renderer) -> None:
    """A keyword typed as an RFC 2047 encoded word is named as typed, never decoded into a
    CRLF and a Bcc header by the reader's mail client."""
    encoded = "=?utf-8?q?x=0D=0ABcc=3A_victim=40evil.org?="
    paper = make_paper(0)
    content = make_content(
        profile=Profile(keywords=(Keyword(encoded),)),
        picks=((paper, Pick(paper.id, 0.9, (f"matches: {encoded}",))),),
    )
    data = render_bytes(renderer, content)
    message = parse(data)
    assert "Bcc" not in message and encoded in str(message["Subject"])
    (raw,) = [v for k, v in message.raw_items() if k == "Subject"]
    assert encoded in str(make_header(decode_header(str(raw))))


@pytest.mark.parametrize(
    "name",
    [
        "Zoë Ünïcode",
        "李雷",
        "O'Brien, Pat",
        'Pat "the cat" Smith',
        "back\\slash",
        "=?utf-8?q?x?=",
        "Ünïcödé Person With A Very Long Name Indeed, Ünïcödé Person Again, And Again",
        "A plain but rather long name that will need folding over more than one header line",
    ],
)
def test_names_round_trip_through_the_to_header(renderer: Renderer, name: str) -> None:
    sub = Subscriber(id=5, email="reader@example.org", name=name)
    message = parse(render_bytes(renderer, make_content(subscriber=sub)))
    assert message["To"].addresses == (Address(name, addr_spec="reader@example.org"),)


# Up to 45 UTF-8 bytes a run of non-ASCII words fits one encoded-word. Longer runs are split
# into several, which RFC 2047 decoders join but CPython's display-name parser separates
# with a space (its own encoder fails the same way), so this property stops there.
@given(st.text(min_size=1, max_size=45).filter(lambda s: len(s.encode()) <= 45))
def test_any_name_round_trips_or_is_cleaned(name: str) -> None:
    header = format_address(name, "reader@example.org")
    assert "\r" not in header and all(line.startswith(" ") for line in header.split("\n")[1:])
    parsed = parse(f"To: {header}\r\n\r\n".encode())
    (address,) = parsed["To"].addresses
    assert address.addr_spec == "reader@example.org"
    assert address.display_name == render_module.clean_text(name)


def test_an_address_that_cannot_be_a_header_is_refused() -> None:
    with pytest.raises(RenderError) as caught:
        format_address("Eve", "eve@example.org\r\nBcc: x@evil")
    assert str(caught.value) == (
        "'eve@example.org\\r\\nBcc: x@evil' is not an email address digest can send to "
        "(it must be plain ASCII like name@example.org); fix the subscriber's email"
    )


# --- content ------------------------------------------------------------------------------


def test_plain_text_part_alone_is_readable(renderer: Renderer, signer: LinkSigner) -> None:
    content = make_content()
    text, _ = bodies(parse(render_bytes(renderer, content)))
    for paper, pick in content.picks:
        assert f"{paper.title}\n" in text
        assert f"★ {pick.reasons[0]}" in text
        assert f"Read:\n   https://arxiv.org/abs/{paper.id}\n" in text
    more = re.findall(r"More like this:\s+(\S+)", text)
    assert len(more) == 3
    claims = signer.verify_feedback(more[0].rsplit("/", 1)[1])
    assert (claims.action, claims.paper_id, claims.subscriber_id) == ("more", "2411.10000", 42)
    unsubscribe = re.search(r"Unsubscribe:\s+(\S+)", text)
    assert unsubscribe is not None
    assert signer.verify(unsubscribe.group(1).rsplit("/", 1)[1], "unsubscribe").subscriber_id == 42
    assert "digest · 1 Example Street · 00000 Example City" in text
    assert (
        "TRENDING TODAY\n\n- A trending paper (▲ 501)\n  https://arxiv.org/abs/2411.10050" in text
    )


def test_plain_text_part_wraps_at_76_columns_with_urls_on_their_own_lines(
    renderer: Renderer,
) -> None:
    long_words = "A study of " + "very long titles that go on " * 8
    abstract = "We wrap every paragraph of the plain-text part. " * 30
    base = make_content()
    (first, pick), *rest = base.picks
    first = dataclasses.replace(first, title=long_words.strip(), abstract=abstract)
    authors = tuple(f"Author Number{n} Surname" for n in range(12))
    first = dataclasses.replace(first, authors=authors)
    content = dataclasses.replace(base, picks=((first, pick), *rest))
    text, _ = bodies(parse(render_bytes(renderer, content)))
    for line in text.splitlines():
        if len(line) > 76:
            # Only a URL may be longer than the line, and it stands alone.
            assert re.fullmatch(r" *https?://\S+", line), line
    # The wrapped title and abstract keep every word, in order.
    assert " ".join(text.split()).count(" ".join(long_words.split())) == 1
    assert " ".join(abstract.split())[:200] in " ".join(text.split())


def test_html_shows_each_pick_with_links_labels_and_dates(
    renderer: Renderer, signer: LinkSigner
) -> None:
    content = make_content()
    html = renderer.render_html(content, now=NOW)
    page = collect(html)
    text = " ".join(" ".join(page.text).split())
    hrefs = page.hrefs()
    for paper, pick in content.picks:
        assert f"https://arxiv.org/abs/{paper.id}" in hrefs
        assert pick.reasons[0] in text
    assert "#2 · ▲ 11 · Nov 21" in text  # rank, upvotes, listing date
    assert "Author A, Author B" in text
    feedback = [h for h in hrefs if "/feedback/" in h]
    assert len(feedback) == 6
    actions = [signer.verify_feedback(h.rsplit("/", 1)[1]).action for h in feedback]
    assert actions == ["more", "less"] * 3
    assert "Picked for you" in text and "Trending today" in text
    assert (
        "You get this email because you follow program synthesis, code generation, testing." in text
    )
    assert "Manage preferences" in text and "Unsubscribe" in text
    assert "digest · 1 Example Street · 00000 Example City" in text
    # The hidden preheader names the first picks.
    assert "Today: Paper number 0: synthesising programs from examples · Paper number 1" in text


def test_trending_is_left_out_when_empty(renderer: Renderer) -> None:
    content = make_content(trending=())
    assert "Trending today" not in renderer.render_html(content, now=NOW)
    assert "TRENDING TODAY" not in renderer.render_text(content, now=NOW)


def test_html_stays_under_gmail_clipping_for_ten_papers(renderer: Renderer) -> None:
    content = make_content(10, trending=tuple(make_paper(i) for i in range(20, 25)))
    html = renderer.render_html(content, now=NOW)
    assert html.count("More like this") == 10
    assert len(html.encode()) < 100_000


def test_compile_once_gives_the_html_of_compiling_per_email(signer: LinkSigner) -> None:
    once = Renderer(EMAIL, signer)
    per_email = Renderer(EMAIL, signer, compile_mjml_once=False)
    for content in (make_content(), hostile_content()):
        a, b = once.render_html(content, now=NOW), per_email.render_html(content, now=NOW)
        assert re.sub(r">\s+<", "><", a) == re.sub(r">\s+<", "><", b)


# --- quiet days ---------------------------------------------------------------------------


def test_quiet_day_skip_sends_nothing(renderer: Renderer) -> None:
    assert renderer.render(make_content(picks=()), now=NOW) is None


def test_quiet_day_note_says_why(renderer: Renderer) -> None:
    sub = Subscriber(id=42, email="ada@example.org", name="Ada", quiet_day="note")
    message = parse(render_bytes(renderer, make_content(picks=(), subscriber=sub)))
    assert message["Subject"] == "No new papers for you today · Nov 22"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = bodies(message)
    assert "12 new papers today, none above your threshold." in text
    assert "12 new papers today, none above your threshold." in " ".join(collect(html).text)
    assert "Picked for you" not in html


@pytest.mark.parametrize(
    ("new", "below", "reason"),
    [
        (1, 0, "1 new paper today, none above your threshold."),
        (0, 4, "No new papers today, and none of 4 recent papers is above your threshold."),
        (0, 0, "No new papers were listed today."),
    ],
)
def test_quiet_reasons(renderer: Renderer, new: int, below: int, reason: str) -> None:
    content = make_content(picks=(), new_paper_count=new, below_threshold_count=below)
    assert reason in renderer.render_text(content, now=NOW)


# --- subject and text helpers -------------------------------------------------------------


def test_subject_from_the_config_template() -> None:
    subject = "{count} papers for you · {topics} · {date}"
    fill = format_subject
    assert fill(subject, count=5, topics="code generation, program synthesis", date=DAY) == (
        "5 papers for you · code generation, program synthesis · Nov 22"
    )
    assert fill(subject, count=1, topics="x", date=DAY) == "1 paper for you · x · Nov 22"
    assert fill(subject, count=2, topics="", date=DAY) == "2 papers for you · Nov 22"
    assert (
        fill("Digest for {date}: {count}", count=3, topics="", date=DAY) == "Digest for Nov 22: 3"
    )


def test_subject_with_an_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(RenderError) as caught:
        format_subject("{count} {nope}", count=1, topics="", date=DAY)
    assert str(caught.value) == (
        "email.subject '{count} {nope}' cannot be filled in (KeyError('nope')); use only the "
        "placeholders {count}, {topics} and {date}, and double any other braces"
    )


def test_topics_are_the_heaviest_keywords() -> None:
    keywords = (Keyword("testing", 0.5), Keyword("code generation", 2), Keyword("synthesis", 1))
    assert top_topics(keywords) == "code generation, synthesis, testing"
    long = (Keyword("a rather long keyword phrase", 3), Keyword("another long one", 2))
    assert top_topics(long) == "a rather long keyword phrase"  # two would pass 40 characters
    assert top_topics(()) == ""


def test_the_subject_names_only_keywords_the_days_picks_matched(renderer: Renderer) -> None:
    """The heaviest keyword is not in the subject when no pick matched it; picks that came
    from a followed author alone leave the topics out rather than name an unmatched one."""
    keywords = (Keyword("code generation", 2), Keyword("testing", 0.5), Keyword("robots", 1))
    reasons = ["by: Ada Lovelace", "matches: testing, robots", "like a paper you liked"]
    assert top_topics(keywords, reasons) == "robots, testing"
    assert top_topics(keywords, ["by: Ada Lovelace"]) == ""
    paper = make_paper(0)
    followed = make_content(
        profile=Profile(keywords=keywords),
        picks=((paper, Pick(paper.id, 0.9, ("by: Author A",))),),
    )
    subject = parse(render_bytes(renderer, followed))["Subject"]
    assert subject == "1 paper for you · Nov 22"
    matched = make_content(
        profile=Profile(keywords=keywords),
        picks=((paper, Pick(paper.id, 0.9, ("matches: testing",))),),
    )
    assert parse(render_bytes(renderer, matched))["Subject"] == "1 paper for you · testing · Nov 22"


def test_authors_are_shortened_to_first_three_and_last() -> None:
    assert shorten_authors(()) == ""
    assert shorten_authors(("A",)) == "A"
    assert shorten_authors(("A", "B", "C", "D")) == "A, B, C, D"
    assert shorten_authors(("A", "B", "C", "D", "E", "Z")) == "A, B, C … Z"
    assert shorten_authors((" A\n Smith ", "", "B", "C", "D", "E")) == "A Smith, B, C … E"


def test_abstract_is_cut_at_a_sentence_end() -> None:
    cut, truncated = cut_abstract(ABSTRACT)
    assert truncated
    assert cut == (
        "We study program synthesis with large language models. Our method samples candidate "
        "programs, e.g. with beam search, and filters them with unit tests written by Smith et "
        "al. in earlier work. It solves 62.5% of the benchmark, up from 41.0%. We also release "
        "a new dataset of 10,000 tasks."
    )
    assert cut_abstract("Short.  Two\nlines.") == ("Short. Two lines.", False)


def test_one_long_first_sentence_is_kept_whole() -> None:
    sentence = "A " + "very " * 70 + "long sentence."  # 365 characters
    cut, truncated = cut_abstract(sentence + " Second sentence here. " * 5)
    assert (cut, truncated) == (sentence, True)


def test_abstract_without_sentence_ends_is_cut_at_a_word() -> None:
    cut, truncated = cut_abstract("word " * 200)
    assert truncated and cut.endswith("word…") and len(cut) <= 301


# --- links --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "url"),
    [
        ({"id": "2305.07922"}, "https://arxiv.org/abs/2305.07922"),
        ({"id": "2305.07922v2"}, "https://arxiv.org/abs/2305.07922v2"),
        ({"id": "cs/0112017"}, "https://arxiv.org/abs/cs/0112017"),
        ({"id": "math.GT/0309136"}, "https://arxiv.org/abs/math.GT/0309136"),
        ({"id": "arxiv:2305.07922"}, "https://arxiv.org/abs/2305.07922"),
        (
            {"id": "hf-123", "title": "Déjà vu & more"},
            "https://arxiv.org/search/?query=D%C3%A9j%C3%A0%20vu%20%26%20more&searchtype=all",
        ),
        (
            {"url": "https://huggingface.co/papers/2305.07922"},
            "https://huggingface.co/papers/2305.07922",
        ),
        ({"url": "javascript:alert(1)"}, "https://arxiv.org/abs/2411.10001"),
        ({"url": "ftp://example.org/paper.pdf"}, "https://arxiv.org/abs/2411.10001"),
        ({"url": 'https://x.org/"><script>'}, "https://arxiv.org/abs/2411.10001"),
        ({"url": "https:///nohost"}, "https://arxiv.org/abs/2411.10001"),
    ],
)
def test_paper_links(changes: dict[str, str], url: str) -> None:
    assert paper_link(make_paper(1, **changes), EMAIL) == url


# --- templates ----------------------------------------------------------------------------


def test_custom_folder_overrides_one_template(tmp_path: Path, signer: LinkSigner) -> None:
    (tmp_path / "subject.txt").write_text("Reading list: {{ count }} for {{ name }}")
    custom = Renderer(EMAIL, signer, template_dir=tmp_path)
    message = parse(render_bytes(custom, make_content()))
    assert message["Subject"] == "Reading list: 3 for Ada Lovelace"
    _, html = bodies(message)
    assert "Picked for you" in html  # the built-in digest.mjml


def test_custom_folder_that_is_not_a_folder(tmp_path: Path, signer: LinkSigner) -> None:
    with pytest.raises(RenderError) as caught:
        Renderer(EMAIL, signer, template_dir=tmp_path / "nope")
    assert str(caught.value) == (
        f"email.templates: {tmp_path / 'nope'} is not a folder; create it, or leave "
        "email.templates empty to use the built-in templates"
    )


def test_missing_template_is_an_error_naming_it(
    tmp_path: Path, signer: LinkSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    (builtin / "digest.mjml").write_text("<mjml><mj-body></mj-body></mjml>")
    monkeypatch.setattr(render_templates, "templates_dir", lambda: builtin)
    with pytest.raises(RenderError) as caught:
        Renderer(EMAIL, signer)
    assert str(caught.value) == (
        f"template digest.txt not found in {builtin}; restore the file, or point "
        "email.templates at a folder that has it"
    )


def test_template_syntax_error_names_file_and_line(tmp_path: Path, signer: LinkSigner) -> None:
    (tmp_path / "digest.txt").write_text("Hello\n{% if picks %}\nno end\n")
    with pytest.raises(RenderError) as caught:
        Renderer(EMAIL, signer, template_dir=tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'digest.txt'}:2: Unexpected end of template. Jinja was looking for the "
        "following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be "
        "closed is 'if'.; fix the template"
    )


def test_undefined_variable_fails_at_startup(tmp_path: Path, signer: LinkSigner) -> None:
    (tmp_path / "subject.txt").write_text("{{ cuont }} papers")
    with pytest.raises(RenderError) as caught:
        Renderer(EMAIL, signer, template_dir=tmp_path)
    assert str(caught.value) == (
        "template subject.txt failed to render: 'cuont' is undefined; fix the template"
    )


def test_invalid_mjml_is_an_error(tmp_path: Path, signer: LinkSigner) -> None:
    (tmp_path / "digest.mjml").write_text("<mjml><mj-body><mj-section>")
    with pytest.raises(RenderError) as caught:
        Renderer(EMAIL, signer, template_dir=tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'digest.mjml'}: not valid MJML (unexpected end of stream in root "
        "template); fix the template"
    )


def test_jinja_that_mjml_would_mangle_is_refused(tmp_path: Path, signer: LinkSigner) -> None:
    path = tmp_path / "digest.mjml"
    path.write_text(
        '<mjml><mj-body><mj-section><mj-column><mj-image src="{{ url }}" width="{{ w }}px"/>'
        "</mj-column></mj-section></mj-body></mjml>"
    )
    with pytest.raises(RenderError) as caught:
        Renderer(EMAIL, signer, template_dir=tmp_path)
    assert str(caught.value) == (
        f"{path}: MJML changed or dropped {{{{ w }}}}; use Jinja expressions only in text "
        "and href attributes"
    )
    # <mj-title> text is written twice (title and aria-label): a block tag there would be too.
    path.write_text(
        "<mjml><mj-head><mj-title>{% if picks %}x{% endif %}</mj-title></mj-head>"
        "<mj-body></mj-body></mjml>"
    )
    with pytest.raises(RenderError) as caught:
        Renderer(EMAIL, signer, template_dir=tmp_path)
    assert str(caught.value) == (
        f"{path}: MJML dropped, moved or repeated the Jinja tag {{% if picks %}}; put block "
        "tags that sit between MJML components inside <mj-raw>"
    )


# --- tokens -------------------------------------------------------------------------------


def test_token_round_trip(signer: LinkSigner) -> None:
    token = signer.sign(42, "more", "2305.07922", issued_at=NOW)
    claims = signer.verify(token, "more")
    assert claims.subscriber_id == 42
    assert claims.action == "more"
    assert claims.paper_id == "2305.07922"
    assert claims.issued_at == int(NOW.timestamp())
    assert signer.verify(signer.sign(42, "unsubscribe"), "unsubscribe").paper_id is None


def test_tampered_token_is_refused(signer: LinkSigner) -> None:
    token = signer.sign(42, "unsubscribe")
    signature = token.split(".")[1]
    forged = signer.sign(43, "unsubscribe").split(".")[0] + "." + signature
    for bad in (forged, token[:-2], token + "x", "garbage", ""):
        with pytest.raises(TokenError) as caught:
            signer.verify(bad, "unsubscribe")
        assert str(caught.value) == (
            "this unsubscribe link is not valid: it was changed, cut short, or made for "
            "another purpose; use the link from your latest digest email"
        )


def test_token_for_another_action_is_refused(signer: LinkSigner) -> None:
    token = signer.sign(42, "less", "2305.07922")
    with pytest.raises(TokenError) as caught:
        signer.verify(token, "unsubscribe")
    assert str(caught.value).startswith("this unsubscribe link is not valid")
    with pytest.raises(TokenError):
        signer.verify_feedback(signer.sign(42, "preferences"))
    assert signer.verify_feedback(token).action == "less"


def test_token_from_another_secret_is_refused(signer: LinkSigner) -> None:
    with pytest.raises(TokenError):
        signer.verify(LinkSigner("other-secret").sign(42, "more", "p"), "more")


def test_other_subscribers_token_names_that_subscriber(signer: LinkSigner) -> None:
    # The web layer compares the id with the subscriber it expected.
    assert signer.verify(signer.sign(7, "preferences"), "preferences").subscriber_id == 7


def test_expired_token(signer: LinkSigner) -> None:
    token = signer.sign(42, "preferences", issued_at=NOW)
    later = NOW + datetime.timedelta(days=31)
    assert signer.verify(token, "preferences", max_age_seconds=31 * 86400, now=later)
    assert signer.verify(token, "preferences", now=later + datetime.timedelta(days=999))
    with pytest.raises(TokenError) as caught:
        signer.verify(token, "preferences", max_age_seconds=30 * 86400, now=later)
    assert str(caught.value) == (
        "this preferences link has expired (it is 2678400 seconds old, the limit is 2592000); "
        "use the link from your latest digest email"
    )


def test_unknown_action_and_empty_secret(signer: LinkSigner) -> None:
    with pytest.raises(TokenError) as caught:
        signer.sign(1, "delete")
    assert str(caught.value) == (
        "unknown link action 'delete'; expected one of 'unsubscribe', 'preferences', 'more', "
        "'less', 'view', 'confirm'"
    )
    with pytest.raises(TokenError) as caught:
        LinkSigner("")
    assert str(caught.value) == (
        "the link-signing secret is empty; set the environment variable named by "
        "email.secret_env to a long random string"
    )


def test_tokens_are_plain_itsdangerous_tokens(signer: LinkSigner) -> None:
    # Our faster signing path must write exactly what stock itsdangerous writes.
    stock = URLSafeSerializer(SECRET, salt="digest.link.more")
    for paper_id in ("2305.07922", 'we"ird\\ id ü\u2028', None):
        token = signer.sign(42, "more", paper_id, issued_at=NOW)
        expected = [42, int(NOW.timestamp())] + ([paper_id] if paper_id else [])
        assert token == stock.dumps(expected)
        assert stock.loads(token) == expected


def test_link_urls() -> None:
    base = "https://digest.example.org/"
    assert link_url(base, "unsubscribe", "T") == "https://digest.example.org/unsubscribe/T"
    assert link_url(base, "preferences", "T") == "https://digest.example.org/preferences/T"
    assert link_url(base, "more", "T") == "https://digest.example.org/feedback/T"
    assert link_url(base, "less", "T") == "https://digest.example.org/feedback/T"


def test_wrap_text_breaks_long_words_but_not_urls() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from digest.render.templates import TEXT_WIDTH, wrap_text

    words = st.one_of(
        st.text(min_size=1, max_size=250).filter(lambda w: not w.isspace()),
        st.builds(lambda s: "https://example.org/" + s, st.text("abc/", max_size=150)),
    )

    @given(st.lists(words, max_size=12), st.integers(0, 8))
    def check(parts: list[str], indent: int) -> None:
        wrapped = wrap_text(" ".join(parts), indent)
        for line in wrapped.split("\n"):
            assert len(line) <= TEXT_WIDTH or line.strip().startswith("https://"), line

    check()
    assert wrap_text("x" * 200).split("\n") == ["x" * 76, "x" * 76, "x" * 48]
    url = "https://example.org/" + "a" * 100
    assert wrap_text(f"see {url} end").split("\n") == ["see", url, "end"]
