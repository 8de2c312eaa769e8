"""What every transport is: the :class:`Transport` port, and what goes in and comes out.

The pipeline hands a transport an :class:`OutgoingMessage` (the message's bytes and its
envelope) and gets a :class:`Receipt` back, or a :class:`~digest.errors.DeliveryError`:

- ``DeliveryError``: this message did not go; retrying later may help (it stays pending);
- ``PermanentDeliveryError``: this message will never go (a 5xx reply); its digest fails;
- ``TransportError``: nothing can go (login refused, TLS, unreachable, outbox not
  writable); the run stops delivering.

The run never asks which transport it holds. May import errors only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


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


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where one message went."""

    transport: str  # the transport's name
    destination: str  # the outbox file, or the SMTP server ("host:port") that accepted it
    file: Path | None = None  # the copy on disk, for a transport that keeps one (the outbox)


class Transport(Protocol):
    """Something that delivers finished messages."""

    name: str

    def send(self, message: OutgoingMessage) -> Receipt:
        """Deliver one message, or raise a :class:`~digest.errors.DeliveryError`."""

    def close(self) -> None:
        """Release connections."""
