"""The MIME message: headers, Message-ID, List-Unsubscribe, the parts and their bytes.

:class:`MessageBuilder` puts a filled-in subject, text and HTML into one
multipart/alternative message and writes its bytes directly: pre-encoded parts (7bit/8bit
bodies with short lines, RFC 2047 headers) joined with the boundary, rather than an
``EmailMessage`` flattened by the stdlib's generator, whose header parsing and per-part
work cost more than the template filling (the daily run renders one message per
subscriber). The bytes are the generator's for the same headers and parts: a test parses
them back with the stdlib and compares them with its own output field by field.

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
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr

from ..config import EmailConfig
from ..errors import RenderError
from ..records import Subscriber
from ..text import clip
from .content import PRODUCT, clean_text

# --- policy ------------------------------------------------------------------------------

# The SMTP policy (CRLF) without refolding: the headers are built already encoded and folded
# here, and the stdlib's refolder would wrap a long List-Unsubscribe URL in RFC 2047
# encoded-words, which mail providers then fail to read. Used to parse the bytes back into
# an EmailMessage for previews (:meth:`~.renderer.Renderer.render`).
POLICY = EmailPolicy(linesep="\r\n", refold_source="none")
CRLF = b"\r\n"
_NEWLINE = re.compile(rb"\r\n|\r|\n")  # as email.generator.NLCRE


def _crlf(data: bytes) -> bytes:
    """Every line end (LF, CR or CRLF) as CRLF, as the stdlib's generator writes them."""
    # bytes.replace is several times faster than the regex, and enough without CRs.
    return data.replace(b"\n", CRLF) if b"\r" not in data else _NEWLINE.sub(CRLF, data)


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

# A fixed boundary keeps the output reproducible and saves a search through the bodies: an
# 8bit body is checked not to contain it, and "=_" never occurs in quoted-printable text.
BOUNDARY = "=_digest_alternative"
_MULTIPART = f'multipart/alternative; boundary="{BOUNDARY}"'
_DELIMITER = b"--" + BOUNDARY.encode("ascii")


MAX_LINE_BYTES = 998  # RFC 5322 section 2.1.1, without the CRLF


def encode_html(html: str) -> bytes:
    """The HTML body as it is sent: ASCII, every other character as a character reference."""
    return html.encode("ascii", "xmlcharrefreplace")


def lines_fit(data: bytes) -> bool:
    """Whether no line of ``data`` (lines end at LF) is longer than :data:`MAX_LINE_BYTES`.

    Each line must end within MAX_LINE_BYTES + 1 bytes of its start: from a line's start,
    the last LF in that window is found (``rfind``, memrchr in C) and the next line start
    looked at is the one after it, so a 45 KB body takes ~50 steps rather than a split
    into ~200 lines (several times slower).
    """
    size, start = len(data), 0
    while size - start > MAX_LINE_BYTES:
        end = data.rfind(b"\n", start, start + MAX_LINE_BYTES + 1)
        if end < 0:
            return False
        start = end + 1
    return True


def _text_part(body: str | bytes, subtype: str) -> tuple[bytes, bytes]:
    """One body part: its two MIME headers and the blank line, and the encoded body (CRLF
    line ends); two pieces, so the message is copied together once.

    7bit/8bit when every line fits SMTP's limit (the usual case, see break_lines): readable,
    no size overhead, and ~15x cheaper than quoted-printable for a 45 KB body.
    Quoted-printable otherwise (a pathological title or abstract): the boundary relies on
    "=_" never occurring in it. Character references make the HTML pure ASCII (7bit): no
    8BITMIME needed.
    """
    if isinstance(body, bytes):
        data = body  # already encoded (the renderer measured the HTML's size on these bytes)
    else:
        data = encode_html(body) if subtype == "html" else body.encode("utf-8")
    # rfind: the same answer as `in`, twice as fast on HTML (its backward search skips on
    # the boundary's leading "-", rarer there than the trailing "e" `in` skips on).
    if lines_fit(data) and data.rfind(_DELIMITER) < 0:
        cte = "7bit" if data.isascii() else "8bit"
    else:
        cte = "quoted-printable"
        data = binascii.b2a_qp(data, istext=True)
    return _PART_HEADS[subtype, cte], _crlf(data)


_PART_HEADS = {
    (subtype, cte): (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    ).encode("ascii")
    for subtype in ("plain", "html")
    for cte in ("7bit", "8bit", "quoted-printable")
}


@functools.lru_cache(maxsize=16)  # one run renders every message with one or a few `now`s
def _date(now: datetime.datetime) -> str:
    return format_datetime(now)


def _header(name: str, value: str) -> bytes:
    """``Name: value`` with the value's folds as CRLF, as the policy writes a raw header."""
    return (name + ": " + "\r\n".join(value.splitlines())).encode("ascii")


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
        # The headers every message has the same, as written by build().
        self._from_header = _header("From", self._from) + CRLF
        self._list_id_header = _header("List-Id", self._list_id) + CRLF
        self._last_headers = b"".join(
            _header(name, value) + CRLF
            for name, value in (
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                ("MIME-Version", "1.0"),
                ("Content-Type", _MULTIPART),
            )
        )
        # The last Message-ID made: the renderer asks again for the message it just built.
        self._last_id: tuple[int, datetime.date, str] | None = None

    def message_id(self, subscriber_id: int, digest_date: datetime.date) -> str:
        """The digest's Message-ID (see :func:`message_id`) with the sender's domain."""
        last = self._last_id
        if last is not None and last[0] == subscriber_id and last[1] == digest_date:
            return last[2]
        made = message_id(subscriber_id, digest_date, self._domain)
        self._last_id = (subscriber_id, digest_date, made)
        return made

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
    ) -> bytes:
        """The multipart/alternative message (text, then HTML) with all its headers, as the
        bytes that go on the wire (CRLF line ends).

        Written directly: the bytes are what ``email``'s generator writes for the same
        headers and parts (tests/test_message_bytes.py parses them back and compares them
        with the stdlib's), at a fraction of its cost. ``html`` may come already encoded by
        :func:`encode_html`. Raises :class:`RenderError` for an address that cannot go into
        a header.
        """
        sub = subscriber
        if now.tzinfo is None:
            now = now.replace(tzinfo=datetime.UTC)  # naive means UTC throughout digest
        headers = (
            ("To", format_address(sub.name, sub.email)),
            ("Subject", encode_header_text(subject)),
            ("Date", _date(now)),
            ("Message-ID", self.message_id(sub.id, digest_date)),
        )
        # RFC 2046 section 5.1.1: the CRLF before a delimiter belongs to the delimiter.
        return b"".join(
            (
                self._from_header,
                *(_header(name, value) + CRLF for name, value in headers),
                self._list_id_header,
                _header("List-Unsubscribe", f"<{unsubscribe_url}>,\n <{self._mailto}>") + CRLF,
                self._last_headers,
                CRLF,
                _DELIMITER + CRLF,
                *_text_part(text, "plain"),
                CRLF + _DELIMITER + CRLF,
                *_text_part(html, "html"),
                CRLF + _DELIMITER + b"--" + CRLF,
            )
        )
