"""The MIME message: headers, Message-ID, List-Unsubscribe, the parts and their bytes.

:class:`MessageBuilder` puts a filled-in subject, text and HTML into one
multipart/alternative :class:`DigestMessage`. The message is assembled from pre-encoded
parts (7bit/8bit bodies with short lines, RFC 2047 headers) rather than with
``EmailMessage.set_content``: the stdlib's header parsing and refolding and its
quoted-printable encoder cost more than everything else together, and the daily run renders
one message per subscriber (~1,300 a second on one core). For the same reason
:class:`DigestMessage` serialises with a faster generator and a policy that parses the
MIME headers once per process.

Pure. May import records, config, errors, text and the display helpers in :mod:`.content`.
"""

from __future__ import annotations

import binascii
import datetime
import functools
import hashlib
import re
from base64 import b64encode
from collections.abc import Callable, Iterable
from email.generator import BytesGenerator
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy, Policy
from email.utils import format_datetime, parseaddr
from io import BytesIO
from typing import Any

from ..config import EmailConfig
from ..errors import RenderError
from ..records import Subscriber
from ..text import clip
from .content import PRODUCT, clean_text

# --- policy and generator -----------------------------------------------------------------


class _DigestPolicy(EmailPolicy):
    """The SMTP policy (CRLF), minus two costs that dominated rendering.

    - refold_source="none" (set below): the headers we build are already encoded and folded,
      and the stdlib's refolder would wrap a long List-Unsubscribe URL in RFC 2047
      encoded-words, which mail providers then fail to read. Headers a caller adds later
      with ``msg[name] = value`` are still folded as usual.
    - The generator parses Content-Type and Content-Transfer-Encoding several times per
      part, and they are the same in every digest: parsed header objects are immutable, so
      those are parsed once per process.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if name.lower() in _CACHED_HEADERS and not hasattr(value, "name"):
            return _parsed_header(name, value)
        return super().header_fetch_parse(name, value)


_CACHED_HEADERS = frozenset({"content-type", "content-transfer-encoding"})


@functools.lru_cache(maxsize=64)
def _parsed_header(name: str, value: str) -> Any:
    # Keyed without the policy: the generator clones it for every part, and the parse only
    # depends on the header registry, which the clones share.
    return EmailPolicy.header_fetch_parse(POLICY, name, value)


POLICY = _DigestPolicy(linesep="\r\n", refold_source="none")


class DigestMessage(EmailMessage):
    """An EmailMessage that serialises each body in one write instead of two per line.

    Same bytes as the stock generator (a test compares them; smtplib's send_message uses the
    stock one), in 40% of the time for a digest.
    """

    def as_bytes(self, unixfrom: bool = False, policy: Policy | None = None) -> bytes:
        out = BytesIO()
        generator = _FastBytesGenerator(out, mangle_from_=False, policy=policy or self.policy)
        generator.flatten(self, unixfrom=unixfrom)
        return out.getvalue()


_NEWLINE = re.compile(r"\r\n|\r|\n")  # as email.generator.NLCRE


class _FastBytesGenerator(BytesGenerator):
    def _write_lines(self, lines: str) -> None:
        # Same output as Generator._write_lines: every line ending becomes the policy's.
        if not lines:
            return
        newline: str = self._NL  # type: ignore[attr-defined]
        # str.replace is several times faster than the regex, and enough without CRs.
        fast = "\r" not in lines
        self.write(lines.replace("\n", newline) if fast else _NEWLINE.sub(newline, lines))


# --- headers ------------------------------------------------------------------------------


def message_id(subscriber_id: int, digest_date: datetime.date, domain: str) -> str:
    """A Message-ID that is the same every time for one subscriber's digest of one day.

    Stable so that a re-sent message (after a crash) is recognised as the same one.
    """
    key = f"{subscriber_id}|{digest_date.isoformat()}|{domain}".encode()
    digest = hashlib.blake2b(key, digest_size=5).hexdigest()
    return f"<digest.{digest_date.isoformat()}.{subscriber_id}.{digest}@{domain}>"


# Bytes that may stand for themselves in an RFC 2047 "Q" encoded-word, even inside a phrase
# (a display name): RFC 2047 section 5 (3).
_Q_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_TABLE = tuple(
    "_" if b == 0x20 else chr(b) if b in _Q_LITERAL else f"={b:02X}" for b in range(256)
)
_EW_ROOM = 75 - len("=?utf-8?q??=")  # RFC 2047: an encoded-word is at most 75 characters
_B_BYTES = _EW_ROOM // 4 * 3  # UTF-8 bytes that fit in one "B" encoded-word
MAX_NAME_CHARS = 200  # a longer display name is not a name; it would also break line limits
MAX_SUBJECT_CHARS = 250


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded-words: one if it fits, else several split between chars.

    "Q" when it fits (readable in the raw message), else the more compact "B". Decoders join
    adjacent encoded-words without the space between them; note that CPython's display-name
    parser does keep that space, so a run of more than ~45 UTF-8 bytes of non-ASCII words
    comes back from ``headerregistry`` with one extra space where it was split.
    """
    data = text.encode("utf-8")
    q = "".join([_Q_TABLE[b] for b in data])
    if len(q) <= _EW_ROOM:
        return [f"=?utf-8?q?{q}?="]
    if len(data) <= _B_BYTES:
        return [_b_word(data)]
    words: list[str] = []
    chunk = b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _B_BYTES:
            words.append(_b_word(chunk))
            chunk = b""
        chunk += encoded
    words.append(_b_word(chunk))
    return words


def _b_word(data: bytes) -> str:
    return f"=?utf-8?b?{b64encode(data).decode('ascii')}?="


def _encode_words(words: Iterable[str], plain: Callable[[str], bool]) -> list[str]:
    """Header tokens: words that are ``plain`` as they are, runs of the others encoded."""
    tokens: list[str] = []
    run: list[str] = []
    for word in words:
        if plain(word):
            if run:
                # Decoders drop the space between two encoded-words, so a run of words is
                # encoded together, its spaces inside.
                tokens.extend(_encoded_words(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(_encoded_words(" ".join(run)))
    return tokens


def _plain_text_word(word: str) -> bool:
    return word.isascii() and "=?" not in word


def encode_header_text(text: str, *, name: str = "Subject") -> str:
    """Unstructured header text, RFC 2047-encoded where needed and folded near 78 columns.

    Only runs of words that need it are encoded, so an ASCII-mostly subject stays readable
    in the raw message. ``text`` must already be on one line (see :func:`clean_text`).
    """
    if len(text) > MAX_SUBJECT_CHARS:
        text = clip(text, MAX_SUBJECT_CHARS, at_word=True)
    return _fold(_encode_words(text.split(" "), _plain_text_word), len(name) + 2)


def _fold(tokens: list[str], used: int) -> str:
    lines: list[str] = []
    line = ""
    for token in tokens:
        if line and used + len(line) + 1 + len(token) > 78:
            lines.append(line)
            line, used = token, 1
        else:
            line = f"{line} {token}" if line else token
    lines.append(line)
    return "\n ".join(lines)


# RFC 5322 atext: a display-name word made only of these needs no quoting or encoding.
_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")
_ADDR_SPEC = re.compile(r"^[^\s@<>()\[\]\\,;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def _plain_name_word(word: str) -> bool:
    return _ATOM.match(word) is not None and "=?" not in word


def format_address(name: str, addr: str, *, field: str = "the subscriber's email") -> str:
    """``Name <addr>`` for a To/From header: quoted or RFC 2047-encoded as the name needs.

    What ``email.headerregistry.Address(name, addr_spec=addr)`` stands for (tests parse it
    back with ``headerregistry``), at a fraction of the SMTP policy's cost to fold it. The
    name is cleaned (no control characters, so no header injection) and cut at 200 chars.
    Raises :class:`RenderError` for an address that cannot go into a header.
    """
    if not _ADDR_SPEC.match(addr) or len(addr) > 254:
        raise RenderError(
            f"{addr!r} is not an email address digest can send to (it must be plain ASCII "
            f"like name@example.org); fix {field}"
        )
    name = clean_text(name)[:MAX_NAME_CHARS].rstrip()
    if not name:
        return addr
    words = name.split(" ")
    if all(_plain_name_word(w) for w in words):
        tokens = words
    elif name.isascii() and "=?" not in name:
        tokens = ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    else:
        tokens = _encode_words(words, _plain_name_word)
    return _fold([*tokens, f"<{addr}>"], len("To: "))


# --- parts ------------------------------------------------------------------------------

# A fixed boundary keeps the output reproducible and saves the stdlib's search through the
# bodies: an 8bit body is checked not to contain it, and "=_" never occurs in
# quoted-printable text.
BOUNDARY = "=_digest_alternative"
_MULTIPART = f'multipart/alternative; boundary="{BOUNDARY}"'


MAX_LINE_BYTES = 998  # RFC 5322 section 2.1.1, without the CRLF


def encode_html(html: str) -> bytes:
    """The HTML body as it is sent: ASCII, every other character as a character reference."""
    return html.encode("ascii", "xmlcharrefreplace")


def _text_part(body: str | bytes, subtype: str) -> MIMEPart:
    # 7bit/8bit when every line fits SMTP's limit (the usual case, see break_lines): readable,
    # no size overhead, and ~15x cheaper than binascii's quoted-printable for a 45 KB body.
    # Quoted-printable otherwise (a pathological title or abstract): the boundary relies on
    # "=_" never occurring in it.
    # Character references make the HTML pure ASCII (7bit): no 8BITMIME needed, and it skips
    # the email package's slow surrogateescape round trip for 8bit bytes.
    if isinstance(body, bytes):
        data = body  # already encoded (the renderer measured the HTML's size on these bytes)
    else:
        data = encode_html(body) if subtype == "html" else body.encode("utf-8")
    part = MIMEPart(policy=POLICY)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    if max(map(len, data.split(b"\n"))) <= MAX_LINE_BYTES and BOUNDARY.encode() not in data:
        if data.isascii():
            cte, payload = "7bit", data.decode("ascii")
        else:
            # surrogateescape is how the email package carries 8bit bytes in a str payload.
            cte, payload = "8bit", data.decode("ascii", "surrogateescape")
    else:
        cte = "quoted-printable"
        payload = binascii.b2a_qp(data, istext=True).decode("ascii")
    part.set_raw("Content-Transfer-Encoding", cte)
    part.set_payload(payload)
    return part


# --- the message --------------------------------------------------------------------------


class MessageBuilder:
    """Builds one subscriber's message from the filled-in templates.

    The sender, List-Id and unsubscribe mailto come from the config and are encoded once,
    here; a sender that cannot go into a header is a :class:`RenderError` now.
    """

    def __init__(self, email: EmailConfig) -> None:
        sender_name, sender_addr = parseaddr(email.sender)
        self._from = format_address(sender_name, sender_addr, field="email.sender in the config")
        self._domain = sender_addr.rpartition("@")[2].lower()
        self._list_id = f"{PRODUCT} <{clean_text(email.list_id)}>"
        self._mailto = f"mailto:{email.unsubscribe_mailto}?subject=unsubscribe"

    def build(
        self,
        subscriber: Subscriber,
        digest_date: datetime.date,
        now: datetime.datetime,
        *,
        subject: str,
        text: str,
        html: str | bytes,
        unsubscribe_url: str,
    ) -> EmailMessage:
        """The multipart/alternative message (text, then HTML) with all its headers.

        ``html`` may come already encoded by :func:`encode_html`."""
        sub = subscriber
        if now.tzinfo is None:
            now = now.replace(tzinfo=datetime.UTC)  # naive means UTC throughout digest
        msg = DigestMessage(policy=POLICY)
        # set_raw stores our already-encoded values as they are: see POLICY.
        msg.set_raw("From", self._from)
        msg.set_raw("To", format_address(sub.name, sub.email))
        msg.set_raw("Subject", encode_header_text(subject))
        msg.set_raw("Date", format_datetime(now))
        msg.set_raw("Message-ID", message_id(sub.id, digest_date, self._domain))
        msg.set_raw("List-Id", self._list_id)
        msg.set_raw("List-Unsubscribe", f"<{unsubscribe_url}>,\n <{self._mailto}>")
        msg.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
        msg.set_raw("MIME-Version", "1.0")
        msg.set_raw("Content-Type", _MULTIPART)
        msg.set_payload([_text_part(text, "plain"), _text_part(html, "html")])
        return msg
