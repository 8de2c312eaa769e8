"""Issue 16: the digest's MIME bytes are written directly; they must be what the standard
library writes for the same message.

The oracle below builds the message the way digest did before (an ``EmailMessage`` with
``MIMEPart`` parts and raw pre-encoded headers, flattened by the stock ``BytesGenerator``)
from the same subject, text, HTML and headers. Each of many varied digests (non-ASCII names
and titles, long lines that force quoted-printable, quiet days, long unsubscribe URLs) is
rendered, parsed back with ``BytesParser(policy=policy.default)`` and compared with the
oracle field by field: every header, the part structure, each part's headers and decoded
body. The bytes are compared too.
"""

from __future__ import annotations

import binascii
import dataclasses
import datetime
import io
import random
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.policy import EmailPolicy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.config import EmailConfig
from digest.records import DigestContent, Subscriber
from digest.render import Renderer
from digest.render.content import clean_text
from digest.render.message import encode_header_text, format_address, message_id
from digest.tokens import LinkSigner
from tests.test_render import DAY, EMAIL, NOW, SECRET, make_content, make_paper

ORACLE_POLICY = EmailPolicy(linesep="\r\n", refold_source="none")
BOUNDARY = "=_digest_alternative"


def oracle_part(data: bytes, subtype: str) -> MIMEPart:
    """A body part as the stdlib carries it (the encoding rule digest has always used)."""
    part = MIMEPart(policy=ORACLE_POLICY)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    lines_fit = max(map(len, data.split(b"\n"))) <= 998
    if lines_fit and b"--" + BOUNDARY.encode() not in data:
        cte = "7bit" if data.isascii() else "8bit"
        payload = data.decode("ascii", "surrogateescape")
    else:
        cte = "quoted-printable"
        payload = binascii.b2a_qp(data, istext=True).decode("ascii")
    part.set_raw("Content-Transfer-Encoding", cte)
    part.set_payload(payload)
    return part


def oracle_bytes(renderer: Renderer, content: DigestContent) -> bytes:
    """The same digest through EmailMessage and the stock generator."""
    content, context, html, _ = renderer._fit(content, NOW)
    templates = renderer._templates
    sub = content.subscriber
    msg = EmailMessage(policy=ORACLE_POLICY)
    msg.set_raw("From", format_address("digest", "digest@example.org"))
    msg.set_raw("To", format_address(sub.name, sub.email))
    msg.set_raw("Subject", encode_header_text(clean_text(templates.subject(context))))
    msg.set_raw("Date", "Sun, 22 Nov 2026 07:30:00 +0000")
    msg.set_raw("Message-ID", message_id(sub.id, content.digest_date, "example.org"))
    msg.set_raw("List-Id", "digest <digest.example.org>")
    msg.set_raw(
        "List-Unsubscribe",
        f"<{context['unsubscribe_url']}>,\n <mailto:unsubscribe@example.org?subject=unsubscribe>",
    )
    msg.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    msg.set_raw("MIME-Version", "1.0")
    msg.set_raw("Content-Type", f'multipart/alternative; boundary="{BOUNDARY}"')
    text = templates.text(context).encode("utf-8")
    msg.set_payload(
        [oracle_part(text, "plain"), oracle_part(html.encode("ascii", "xmlcharrefreplace"), "html")]
    )
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=ORACLE_POLICY).flatten(msg)
    return out.getvalue()


def parsed(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def assert_same_message(ours: bytes, theirs: bytes) -> None:
    """Field by field: headers (decoded), the parts, their headers and decoded bodies."""
    mine, oracle = parsed(ours), parsed(theirs)
    assert mine.keys() == oracle.keys()
    for name in oracle:
        assert str(mine[name]) == str(oracle[name]), name
    assert mine["To"].addresses == oracle["To"].addresses
    assert mine.get_content_type() == oracle.get_content_type() == "multipart/alternative"
    my_parts, oracle_parts = list(mine.iter_parts()), list(oracle.iter_parts())
    assert [p.get_content_type() for p in my_parts] == ["text/plain", "text/html"]
    assert [p.get_content_type() for p in oracle_parts] == ["text/plain", "text/html"]
    for mine_part, oracle_part_ in zip(my_parts, oracle_parts, strict=True):
        assert list(mine_part.items()) == list(oracle_part_.items())
        assert mine_part.get_content() == oracle_part_.get_content()
    assert mine.defects == [] and all(p.defects == [] for p in my_parts)
    assert all(len(line) <= 998 for line in ours.split(b"\r\n"))
    assert ours == theirs


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(EMAIL, LinkSigner(SECRET))


NAMES = [
    "Ada Lovelace",
    "Zoë Ünïcode",
    "李雷",
    'Pat "the cat" Smith',
    "O'Brien, Pat",
    "=?utf-8?q?x?=",
    "Ünïcödé Person With A Very Long Name Indeed, Ünïcödé Person Again, And Again",
    "",
]
TITLES = [
    "Plain title",
    "Ünïcode títle — with “quotes” and 数学",
    "<" * 290,  # escaped to a line over 998 bytes: quoted-printable
    "A title " + "very " * 55 + "long",
    "--=_digest_alternative in a title",
]


def varied_contents(count: int, seed: int) -> list[DigestContent]:
    rng = random.Random(seed)
    contents = []
    for n in range(count):
        papers = [
            make_paper(
                i,
                title=rng.choice(TITLES) + f" {i}",
                abstract=rng.choice(["Short.", "Ünïcode abstract. " * rng.randint(1, 40)]),
            )
            for i in range(rng.randint(0, 10))
        ]
        subscriber = Subscriber(
            id=rng.randint(1, 10**9),
            email=f"reader{n}@example.org",
            name=rng.choice(NAMES),
            quiet_day=rng.choice(["note", "skip"]),
        )
        base = make_content(subscriber=subscriber)
        contents.append(
            dataclasses.replace(
                base,
                picks=tuple(
                    (p, pick) for p, (_, pick) in zip(papers, base.picks * 4, strict=False)
                ),
                trending=tuple(papers[:1]),
            )
        )
    return contents


def test_every_varied_digest_matches_the_stdlib_message(renderer: Renderer) -> None:
    checked = 0
    for content in varied_contents(120, seed=16):
        result = renderer.render_digest(content, now=NOW)
        if result.data is None:
            assert not content.picks and content.subscriber.quiet_day == "skip"
            continue
        assert_same_message(result.data, oracle_bytes(renderer, content))
        checked += 1
    assert checked > 60


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(max_size=80),
    title=st.text(min_size=1, max_size=300),
)
def test_any_name_and_title_match_the_stdlib_message(name: str, title: str) -> None:
    renderer = Renderer(EMAIL, LinkSigner(SECRET))
    paper = make_paper(1, title=title)
    base = make_content(subscriber=Subscriber(id=7, email="r@example.org", name=name))
    content = dataclasses.replace(base, picks=((paper, base.picks[0][1]),))
    result = renderer.render_digest(content, now=NOW)
    assert result.data is not None
    assert_same_message(result.data, oracle_bytes(renderer, content))


def test_list_unsubscribe_headers_and_message_id_survive_the_round_trip(
    renderer: Renderer,
) -> None:
    result = renderer.render_digest(make_content(), now=NOW)
    assert result.data is not None
    message = parsed(result.data)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # RFC 8058
    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.startswith("<http") and unsubscribe.endswith(
        "<mailto:unsubscribe@example.org?subject=unsubscribe>"
    )
    assert message["Message-ID"] == result.message_id == message_id(42, DAY, "example.org")
    # render() parses the same bytes back; its as_bytes() gives them again (smtplib path).
    again = renderer.render(make_content(), now=NOW)
    assert again is not None and again.as_bytes() == result.data


def test_a_long_sender_name_and_list_id_are_folded_like_the_stdlib() -> None:
    email = EmailConfig(
        sender="Ünïcode Research Digest of the Example Laboratory <news@example.org>",
        postal_address="1 Example Street",
    )
    renderer = Renderer(email, LinkSigner(SECRET))
    result = renderer.render_digest(make_content(), now=NOW)
    assert result.data is not None
    message = parsed(result.data)
    (sender,) = message["From"].addresses
    assert sender.addr_spec == "news@example.org"
    assert message["Message-ID"].endswith("@example.org>")
    assert datetime.datetime.fromisoformat("2026-11-22T07:30:00+00:00") == message["Date"].datetime
