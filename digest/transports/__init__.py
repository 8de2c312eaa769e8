"""Transports: hand a finished message to an outbox folder or an SMTP server.

One module per transport (:mod:`.outbox`, :mod:`.smtp`), each implementing the
:class:`Transport` port of :mod:`.base`. :data:`TRANSPORTS` is the registry that config
validation (``delivery.transport``), the CLI's ``--transport`` and :func:`make_transport`
all read: a new transport is one module plus one line here.

This package may import errors and files (and config, for type hints); never the store, the
ranker, the renderer or the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import OutgoingMessage, Receipt, Transport
from .outbox import OutboxTransport
from .smtp import SmtpTransport

if TYPE_CHECKING:
    from ..config import Config

# name → factory: builds the transport from the config, reading its own secrets.
TRANSPORTS: Mapping[str, Callable[[Config], Transport]] = {
    "outbox": OutboxTransport.from_config,
    "smtp": SmtpTransport.from_config,
}


def make_transport(config: Config, name: str | None = None) -> Transport:
    """The transport the config chooses (``delivery.transport``), or ``name`` (``--transport``)."""
    chosen = name or config.delivery.transport
    factory = TRANSPORTS.get(chosen)
    if factory is None:
        raise ConfigError(
            f"unknown transport {chosen!r}; choose one of " + ", ".join(map(repr, TRANSPORTS))
        )
    return factory(config)


__all__ = [
    "TRANSPORTS",
    "OutboxTransport",
    "OutgoingMessage",
    "Receipt",
    "SmtpTransport",
    "Transport",
    "make_transport",
]
