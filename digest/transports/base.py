"""What every transport is: the :class:`Transport` port, and what goes in and comes out.

The pipeline hands a transport an :class:`OutgoingMessage` (the message's bytes and its
envelope) and gets a :class:`Receipt` back, or a :class:`~digest.errors.DeliveryError`:

- ``DeliveryError``: this message did not go; retrying later may help (it stays pending);
- ``PermanentDeliveryError``: this message will never go (a 5xx reply); its digest fails;
- ``TransportError``: nothing can go (login refused, TLS, unreachable, outbox not
  writable); the run stops delivering.

A transport may also offer ``stager()``: a picklable callable that the daily run's render
workers call with (recipient, digest date, message bytes, HTML part or None) to write the
message ahead under temporary names, returning :class:`~digest.files.StagedFiles`; the run
then hands over an :class:`OutgoingMessage` carrying them (``staged``) once the digest is
claimed, and discards them on every other path. The outbox offers one; SMTP does not.
A transport with a stager may also offer ``remove_abandoned(digest_date) -> int``: the run
calls it at its start, under the run lock, to remove staged files that crashed runs left.

The run never asks which transport it holds. May import errors and files only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..files import StagedFiles


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A finished message and its envelope."""

    data: bytes  # the whole message as it goes on the wire (CRLF line ends)
    sender: str  # the From address, bare or as "Name <addr>"; the envelope uses the address
    recipient: str  # the one envelope recipient
    digest_date: dt.date  # the digest's date: the outbox files messages by it
    # What else this message is ("signup-…" for a sign-up email): the outbox keeps it in a
    # file of its own beside the day's digest; empty for a digest.
    label: str = ""
    # The message already written by the transport's own stager (in a render worker), to be
    # moved into place; ``data`` is empty then. Only a transport with ``stager()`` gets one.
    staged: StagedFiles | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where one message went."""

    transport: str  # the transport's name
    destination: str  # the outbox file, or the SMTP server ("host:port") that accepted it
    file: Path | None = None  # the copy on disk, for a transport that keeps one (the outbox)


class Stager(Protocol):
    """A transport's writer of messages ahead of their hand-off (see the module docstring).

    Raises ``OSError`` when it cannot write; the run then sends the bytes as usual."""

    def __call__(
        self, recipient: str, digest_date: dt.date, data: bytes, html: bytes | None
    ) -> StagedFiles: ...


class Transport(Protocol):
    """Something that delivers finished messages."""

    name: str

    def send(self, message: OutgoingMessage) -> Receipt:
        """Deliver one message, or raise a :class:`~digest.errors.DeliveryError`."""

    def close(self) -> None:
        """Release connections."""
