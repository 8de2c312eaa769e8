"""The outbox transport: each message written atomically as ``OUTBOX/DATE/NAME.eml``.

One file per message; a labelled one (a sign-up email) is ``NAME+LABEL.eml``, and no
digest's name has a ``+`` (:func:`outbox_name`), so the two kinds never share a file.
With ``delivery.outbox_html`` (and in ``digest demo``) the HTML part is also written
beside it as ``NAME.html``, for a quick look in a browser; it is taken from the message's
own bytes (:func:`html_body`), so the outbox needs nothing but the
:class:`~.base.OutgoingMessage`. Writing a message again rewrites the same file, so the
outbox declares ``idempotent_redelivery``: the run may batch its commits.

The daily run's render workers write each message ahead (:class:`OutboxStager`: the same
names and bytes, under temporary dot-names in the date folder that name the run's process
as their owner); the hand-off is then a rename or two in the run's own process, once the
digest's claim is committed. The outbox folder and its date folders are made private
(0700) whenever the transport opens them, loose ones too. May import errors, files,
:mod:`.base` and the store's :func:`~digest.store.compress_page`.
"""

from __future__ import annotations

import binascii
import contextlib
import datetime as dt
import functools
import hashlib
import os
import re
from base64 import b64decode
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TransportError
from ..files import (
    StagedFiles,
    make_private_dir,
    remove_stale_temp_files,
    stage_file,
    tighten_private_dir,
    write_atomically,
)
from ..store import compress_page
from .base import OutgoingMessage, Receipt

if TYPE_CHECKING:
    from ..config import Config


# Names kept as they are (a label such as "signup-2" has no "@"); no leading dot.
_PLAIN_RECIPIENT = re.compile(r"[A-Za-z0-9-][A-Za-z0-9.-]*(?:@[A-Za-z0-9.-]+)?")
_NAME_CHARS = 120


def outbox_name(recipient: str) -> str:
    """A file name for a recipient's message (or a message's label): safe on any
    filesystem, readable, and one recipient's only.

    ``ada@example.org`` becomes ``ada_at_example.org``. A recipient that would not map back
    one to one (any character but letters, digits, ``.`` and ``-`` around one ``@``, a
    leading dot, which would hide the file, or more than 120 characters) gets the first
    16 hex digits of its SHA-256 appended after a ``~`` (a character no name kept as it is
    has), so ``a+b@x`` and ``a_b@x`` never share a file and a message never overwrites
    another's. The name never has a ``+`` (:data:`LABEL_MARK`).
    """
    name = recipient.replace("@", "_at_")
    if _PLAIN_RECIPIENT.fullmatch(recipient) and len(name) <= _NAME_CHARS:
        return name
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")[:_NAME_CHARS]
    tag = hashlib.sha256(recipient.encode("utf-8")).hexdigest()[:16]
    return f"{readable}~{tag}"  # "~" is in no kept name: the two kinds never meet


LABEL_MARK = "+"  # between a recipient's name and a label: outbox_name never gives one


def outbox_path(folder: Path, recipient: str, digest_date: dt.date, label: str = "") -> Path:
    """``FOLDER/DATE/NAME.eml``, or ``FOLDER/DATE/NAME+LABEL.eml`` for a labelled message.

    :func:`outbox_name` never gives a ``+``, so a labelled message's file (one ``+``) can
    never be a digest's (none), whatever the two addresses: ``ada@x.signup-3``'s digest is
    ``ada_at_x.signup-3.eml``, ``ada@x``'s sign-up email ``ada_at_x+signup-3.eml``."""
    name = outbox_name(recipient) + (f"{LABEL_MARK}{outbox_name(label)}" if label else "")
    return folder / digest_date.isoformat() / f"{name}.eml"


STALE_TEMP_SECONDS = 24 * 3600  # a temporary file this old was left by a killed process
SWEEP_DAYS = 7  # date folders before the one in use that are swept of such files too


class OutboxTransport:
    """Writes ``.eml`` files (and, with ``html_copy``, the HTML part) into one folder per
    digest date.

    The first time a transport uses a date folder it makes it and the outbox private
    (:func:`~digest.files.tighten_private_dir`: 0700, or a warning in the log when another
    user owns it) and removes the temporary files (``.NAME.….tmp``) older than a day from
    that folder and the :data:`SWEEP_DAYS` before it: what a process killed mid-write, or a
    run killed with messages staged, leaves. At the start of a run
    :meth:`remove_abandoned` also removes, whatever their age, those whose owner is gone.
    """

    name = "outbox"
    # A message delivered again lands in the same file, whole: a repeat is harmless.
    idempotent_redelivery = True

    def __init__(self, folder: Path, *, html_copy: bool = False) -> None:
        self.folder = folder
        self.html_copy = html_copy
        self._made: set[Path] = set()  # date folders made (or found) by this transport
        self._swept: set[dt.date] = set()  # dates whose folder was swept of stale files

    @classmethod
    def from_config(cls, config: Config) -> OutboxTransport:
        """The outbox at ``delivery.outbox``, with HTML copies if ``delivery.outbox_html``."""
        return cls(config.delivery.outbox, html_copy=config.delivery.outbox_html)

    def path_for(self, recipient: str, digest_date: dt.date, label: str = "") -> Path:
        """``DATE/NAME.eml``, or ``DATE/NAME.LABEL.eml`` for a labelled message."""
        return outbox_path(self.folder, recipient, digest_date, label)

    def stager(self) -> OutboxStager:
        """What the run's render workers call to write each message ahead (see
        :class:`OutboxStager`); :meth:`send` moves the files into place."""
        return OutboxStager(self.folder, self.html_copy, os.getpid())

    def remove_abandoned(self, digest_date: dt.date) -> int:
        """Remove the temporary files nothing will move into place any more, from the
        folders of ``digest_date``, the day after and the :data:`SWEEP_DAYS` + 1 before:
        those whose owner (the process named in the name, see
        :func:`~digest.files.stage_file`) is gone, whatever their age, and those older than
        a day. Returns how many.

        Called by the run at its start, under the run lock and before it stages anything,
        so no other run is writing. A file whose owner may be alive (a pid in use, another
        machine's or container's, or no pid in the name) is kept until it is a day old.
        """
        removed = 0
        for back in range(-1, SWEEP_DAYS + 2):
            day = digest_date - dt.timedelta(days=back)
            folder = self.folder / day.isoformat()
            with contextlib.suppress(OSError):  # an unreadable folder: send() says so
                removed += remove_stale_temp_files(
                    folder, older_than=STALE_TEMP_SECONDS, owner_gone=True
                )
                self._swept.add(day)
        return removed

    def send(self, message: OutgoingMessage) -> Receipt:
        """Write the message (or move its staged files into place: the ``.html`` first,
        then the ``.eml``); raises :class:`TransportError` when the outbox is not writable."""
        path = self.path_for(message.recipient, message.digest_date, message.label)
        staged = message.staged
        try:
            if path.parent not in self._made:
                open_date_folder(self.folder, path.parent)
                self._sweep(message.digest_date)
                self._made.add(path.parent)
            if staged is not None:
                if staged.final != path:
                    raise TransportError(f"{path}: the staged message is {staged.final} instead")
                staged.publish()
                return Receipt(self.name, str(path), path)
            # The .html first: once the .eml exists the message counts as delivered.
            html = html_body(message.data) if self.html_copy else None
            if html is not None:
                write_atomically(path.with_suffix(".html"), html)
            write_atomically(path, message.data)
        except OSError as exc:
            raise TransportError(f"{path}: cannot write to the outbox ({exc.strerror})") from exc
        return Receipt(self.name, str(path), path)

    def _sweep(self, digest_date: dt.date) -> None:
        for back in range(SWEEP_DAYS + 1):
            day = digest_date - dt.timedelta(days=back)
            if day not in self._swept:
                remove_stale_temp_files(
                    self.folder / day.isoformat(), older_than=STALE_TEMP_SECONDS
                )
                self._swept.add(day)

    def close(self) -> None:
        pass


def open_date_folder(outbox: Path, folder: Path) -> None:
    """Make the date folder ``folder`` (and ``outbox``) if missing, private (0700); make
    them private if they were not (best effort, see
    :func:`~digest.files.tighten_private_dir`). Raises ``OSError`` when it cannot be made."""
    make_private_dir(folder)
    tighten_private_dir(outbox)
    tighten_private_dir(folder)


class OutboxStager:
    """Writes a message's outbox files ahead, in a render worker: the ``.eml`` (and with
    ``html_copy`` the ``.html``) under private dot-named temporary names in the date
    folder (:func:`~digest.files.stage_file`, owned by ``owner``, the run's pid, which
    moves them into place), named exactly as :meth:`OutboxTransport.send` names them, with
    the same bytes. Picklable (a folder, a flag and a pid). Raises ``OSError`` when the
    outbox cannot be written."""

    def __init__(self, folder: Path, html_copy: bool, owner: int) -> None:
        self.folder = folder
        self.html_copy = html_copy
        self.owner = owner
        self._made: set[Path] = set()  # date folders made (or found) in this process

    def __reduce__(self) -> tuple[type[OutboxStager], tuple[Path, bool, int]]:
        return (OutboxStager, (self.folder, self.html_copy, self.owner))

    def __call__(
        self, recipient: str, digest_date: dt.date, data: bytes, html: bytes | None
    ) -> StagedFiles:
        """Stage the message to ``recipient``; ``html`` is its HTML part when at hand
        (:attr:`~digest.render.RenderedDigest.html`), else read from ``data``."""
        path = outbox_path(self.folder, recipient, digest_date)
        if path.parent not in self._made:
            open_date_folder(self.folder, path.parent)
            self._made.add(path.parent)
        moves: list[tuple[Path, Path]] = []
        try:
            if self.html_copy:
                page = html_body(data) if html is None else html
                if page is not None:
                    html_path = path.with_suffix(".html")
                    moves.append((stage_file(html_path, page, owner=self.owner), html_path))
            moves.append((stage_file(path, data, owner=self.owner), path))
        except BaseException:
            StagedFiles(tuple(moves)).discard()
            raise
        return StagedFiles(tuple(moves))


# --- the HTML part, from the message's bytes -------------------------------------------------

_HEADERS_END = re.compile(rb"\r?\n\r?\n")
# The two header fields a body's meaning depends on, unfolded below.
_FIELD = re.compile(
    rb"^(content-type|content-transfer-encoding)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.I | re.M
)
_CRLF = re.compile(rb"\r\n")  # re.sub beats bytes.replace ~4x for a two-byte pattern
_MAX_DEPTH = 5  # multipart nesting; a digest has one level


@dataclass(frozen=True, slots=True)
class _PartType:
    content_type: str
    boundary: str | None
    charset: str
    encoding: str


def html_body(data: bytes) -> bytes | None:
    """The message's first text/html part, decoded, in UTF-8 with LF line ends; None if it
    has none.

    The renderer writes LF line ends and the generator turns every one into CRLF, so this
    gives back exactly the HTML the renderer made. It finds the MIME headers with a regex,
    parses each distinct value once per process, and slices the bodies: the stdlib parser
    needs ~2.6 ms for a 53 KB digest, this a few dozen µs.
    """
    return _find_html(data, 0, len(data), 0)


def stored_page(data: bytes | None, html: bytes | None = None) -> bytes:
    """The message's HTML part as ``digest_pages`` keeps it (:func:`html_body`, empty if
    none, then :func:`~digest.store.compress_page`): what the run's render workers make
    beside each message, so the run's own process neither parses nor compresses it.

    ``html`` is that HTML part when the renderer already has it
    (:attr:`~digest.render.RenderedDigest.html`, equal to ``html_body(data)``): it is
    compressed as it is and ``data`` is not parsed."""
    if html is None:
        html = html_body(data) if data is not None else None
    return compress_page(html or b"")


def _find_html(data: bytes, start: int, end: int, depth: int) -> bytes | None:
    if data.startswith((b"\r\n", b"\n"), start):  # no headers: text/plain
        return None
    blank = _HEADERS_END.search(data, start, end)
    body_start = blank.end() if blank else end
    part = _part_type(*_fields(data[start:body_start]))
    if part.content_type == "text/html":
        return _decoded(data[body_start:end], part)
    if not part.content_type.startswith("multipart/") or not part.boundary:
        return None
    if depth >= _MAX_DEPTH:
        return None
    # RFC 2046: a delimiter line starts with "--" boundary, the line break before it belongs
    # to it, and "--" boundary "--" ends the parts.
    delimiter = b"--" + part.boundary.encode("utf-8", "surrogateescape")
    at = body_start if data.startswith(delimiter, body_start) else _next(data, delimiter, start)
    while at < end and not data.startswith(b"--", at + len(delimiter)):
        part_start = data.find(b"\n", at, end) + 1
        if part_start == 0:
            return None
        at = _next(data, delimiter, part_start)
        part_end = min(at, end) - 1  # the line break before the delimiter
        if part_end > part_start and data[part_end - 1] == 13:  # the CR of a CRLF
            part_end -= 1
        found = _find_html(data, part_start, max(part_start, part_end), depth + 1)
        if found is not None:
            return found
    return None


def _next(data: bytes, delimiter: bytes, start: int) -> int:
    """Where the next delimiter line starts, or len(data)."""
    found = data.find(b"\n" + delimiter, start)
    return len(data) if found < 0 else found + 1


def _fields(head: bytes) -> tuple[bytes, bytes]:
    """The first Content-Type and Content-Transfer-Encoding values, unfolded."""
    values: dict[bytes, bytes] = {}
    for match in _FIELD.finditer(head):
        values.setdefault(match.group(1).lower(), match.group(2))
    return (
        values.get(b"content-type", b"").replace(b"\r\n", b"").replace(b"\n", b"").strip(),
        values.get(b"content-transfer-encoding", b"").strip(),
    )


@functools.lru_cache(maxsize=64)
def _part_type(content_type: bytes, encoding: bytes) -> _PartType:
    # The same few values recur in every message: parse each once, with the stdlib.
    headers = Message()
    if content_type:
        headers["Content-Type"] = content_type.decode("ascii", "surrogateescape")
    return _PartType(
        headers.get_content_type(),
        headers.get_boundary(),
        headers.get_content_charset() or "us-ascii",
        encoding.decode("ascii", "replace").lower() or "7bit",
    )


def _decoded(body: bytes, part: _PartType) -> bytes:
    if part.encoding == "base64":
        body = b64decode(body)
    else:
        body = _CRLF.sub(b"\n", body)
        if part.encoding == "quoted-printable":
            body = binascii.a2b_qp(body)
    if part.charset in ("utf-8", "us-ascii") and body.isascii():
        return body
    try:
        text = body.decode(part.charset, "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    return text.encode("utf-8")
