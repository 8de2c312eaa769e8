"""Header injection through the sign-up's Name field (issue 15): an RFC 2047 encoded-word
typed as the name must stay text in every email digest sends to that address — the
confirmation, the "already subscribed" email and the digest itself. Each message is parsed
back from the outbox with ``BytesParser(policy=policy.default)``."""

# The fixtures come from test_web_signup (one instance set-up for both files).
# ruff: noqa: F811

from __future__ import annotations

import base64
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from digest.config import Config
from tests.run_helpers import invoke
from tests.test_web_signup import (  # noqa: F401 - fixtures
    DAY,
    TestClient,
    client,
    clock,
    config,
    csrf_of,
    link_in,
    prepared,
    sign_up,
)

VICTIM = "victim@example.org"
PHISH_B = (
    "=?utf-8?b?"
    + base64.b64encode(b"x\r\n\r\nPHISH http://evil.example/\r\n").decode("ascii")
    + "?="
)
BCC_Q = "=?utf-8?q?x=0D=0ABcc=3A_victim=40evil.org?="
HOSTILE_NAMES = [
    PHISH_B,
    BCC_Q,
    f"Ada {BCC_Q} Lovelace",  # an encoded-word between plain words
    '"=?utf-8?q?=0D=0ABcc:_x@evil.org?=" <x@evil.org>',  # a whole address as the name
    "Zoë =?iso-8859-1?q?=0A?= Ünïcode",  # non-ASCII next to an encoded-word
]
SIGNUP_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
]
DIGEST_HEADERS = [
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


def parsed(path: Path) -> tuple[bytes, EmailMessage]:
    raw = path.read_bytes()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return raw, message


def rfc2047_name(message: EmailMessage) -> str:
    """The To header's display name as RFC 2047 decodes it (adjacent encoded-words join
    without the space between them, which CPython's display-name parser keeps)."""
    (raw_to,) = [value for name, value in message.raw_items() if name.lower() == "to"]
    phrase = str(raw_to).rpartition("<")[0].strip()
    return str(make_header(decode_header(phrase)))


def check_headers(raw: bytes, message: EmailMessage, name: str, expected: list[str]) -> None:
    """Exactly the ``expected`` headers; To names the victim alone, with ``name`` as data."""
    assert list(message.keys()) == expected
    head = raw.split(b"\r\n\r\n", 1)[0]
    # Every header line is a known header or a folded continuation: nothing was injected.
    for line in head.split(b"\r\n"):
        assert line[:1] in (b" ", b"\t") or line.split(b":", 1)[0].decode() in expected, line
    assert b"\n\n" not in head and b"PHISH" not in raw and b"evil.org" not in head.lower()
    assert message["Bcc"] is None and message["Cc"] is None
    addresses = message["To"].addresses
    assert [a.addr_spec for a in addresses] == [VICTIM]
    assert rfc2047_name(message) == name
    if len(name.encode()) <= 40:  # one encoded-word: CPython's parser agrees exactly
        assert addresses[0].display_name == name


def outbox_signups(config: Config) -> list[Path]:
    return sorted(
        config.delivery.outbox.rglob("*+signup-*.eml"),
        key=lambda p: int(p.name.rsplit("signup-", 1)[1].split(".")[0]),
    )


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_an_encoded_word_as_the_name_stays_text_in_every_email(
    client: TestClient, config: Config, name: str
) -> None:
    response = sign_up(client, email=VICTIM, name=name, keywords="program synthesis")
    assert response.status_code == 200 and "Check your inbox" in response.text
    (path,) = outbox_signups(config)
    raw, confirmation = parsed(path)
    check_headers(raw, confirmation, name, SIGNUP_HEADERS)
    body = confirmation.get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\r\n", "\n")
    assert text.startswith(f"Hi {name},\n\nSomeone (we hope you) asked to receive")
    html = confirmation.get_body(("html",))
    assert html is not None and "Confirm" in html.get_content()

    # Confirmed, the subscriber keeps the name as typed...
    token = link_in(confirmation, "confirm")
    page = client.get(f"/confirm/{token}")
    done = client.post(f"/confirm/{token}", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200
    # ... the "already subscribed" email carries it safely ...
    sign_up(client, email=VICTIM, name="someone else", keywords="x")
    raw, known = parsed(outbox_signups(config)[-1])
    check_headers(raw, known, name, SIGNUP_HEADERS)
    assert "already subscribed" in known.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # ... and so does the digest (the render/message.py path).
    result = invoke(config.path, "run", "--date", DAY)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    raw, digest = parsed(config.delivery.outbox / DAY / "victim_at_example.org.eml")
    check_headers(raw, digest, name, DIGEST_HEADERS)


@pytest.mark.parametrize("name", [*HOSTILE_NAMES, "é" * 60, "A plain name"])
def test_format_address_encodes_the_name_as_data(name: str) -> None:
    """The one header-encoding helper every message uses (sign-up emails and digests)."""
    from digest.render import format_address

    header = format_address(name, VICTIM)
    raw = f"To: {header}\r\nSubject: s\r\n\r\nbody\r\n".replace("\n ", "\r\n ").encode("ascii")
    raw = raw.replace(b"\r\r\n", b"\r\n")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    check_headers(raw, message, name, ["To", "Subject"])
    assert message.get_content() == "body\r\n"


def test_an_encoded_word_as_a_topic_stays_text_in_the_digest_subject(
    client: TestClient, config: Config
) -> None:
    """The topics typed in the form end up in the digest's Subject (``{topics}``) only when
    a pick matched them: the encoded word matched nothing, so it is left out (the renderer
    keeps a matched one as text: test_render's encoded-word subject test); the matched
    "program synthesis" is named."""
    sign_up(client, email=VICTIM, name="Vic", keywords=f"{BCC_Q}^3, program synthesis^2")
    (path,) = outbox_signups(config)
    token = link_in(parsed(path)[1], "confirm")
    form = csrf_of(client.get(f"/confirm/{token}").text)
    assert client.post(f"/confirm/{token}", data={"csrf": form}).status_code == 200
    result = invoke(config.path, "run", "--date", DAY)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    raw, digest = parsed(config.delivery.outbox / DAY / "victim_at_example.org.eml")
    check_headers(raw, digest, "Vic", DIGEST_HEADERS)
    (raw_subject,) = [v for k, v in digest.raw_items() if k == "Subject"]
    subject = str(make_header(decode_header(str(raw_subject))))
    assert BCC_Q not in subject and "Bcc" not in subject
    assert subject == str(digest["Subject"]) and "· program synthesis ·" in subject
