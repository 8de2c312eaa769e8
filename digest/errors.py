"""Every exception digest raises on purpose.

The hierarchy::

    DigestError                 anything a person can act on; the CLI prints it as one line
    ├── ConfigError             a config file is missing, malformed, or has a bad key
    ├── ListingError            a listing file cannot be read or parsed
    ├── AlreadyIngestedError    a file with the same content was ingested meanwhile
    ├── StoreError              the database is missing, locked, or from a newer digest
    ├── NotFoundError           a subscriber, paper or run that was asked for does not exist
    ├── SubscriberError         bad subscriber or profile input (email, keyword, import file)
    ├── RenderError             a template is missing or fails to render
    ├── TokenError              a link token is malformed, tampered with, or for someone else
    ├── DeliveryError           one message could not be delivered; retrying may help
    │   ├── PermanentDeliveryError   a 5xx reply: retrying will not help
    │   └── TransportError           no message can get through (login refused, TLS, server
    │                                unreachable, outbox not writable): stop delivering
    ├── RunLockedError          another run holds the run lock
    └── FetchError              a source could not be fetched, or a fetch is in progress

Messages name the file, line, key or email involved and say what to do about it.
Library code raises these with ``raise ... from exc`` so the cause is kept for logs.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base class: an error a person can act on."""


class ConfigError(DigestError):
    """The config file is missing, not valid TOML, or has an unknown/ill-typed key."""


class ListingError(DigestError):
    """A listing file cannot be read, or its content cannot be parsed."""

    def __init__(self, message: str, *, source: str = "", line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.reason = message
        where = source
        if line is not None:
            where = f"{source}:{line}" if source else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)


class AlreadyIngestedError(DigestError):
    """A listing with the same content was ingested (by another process) meanwhile."""


class StoreError(DigestError):
    """The database cannot be opened or is in an unexpected state."""


class NotFoundError(DigestError):
    """A subscriber, paper or run that was asked for does not exist."""


class SubscriberError(DigestError):
    """Bad subscriber or interest-profile input."""


class RenderError(DigestError):
    """A template is missing or fails to render."""


class TokenError(DigestError):
    """A signed link token is malformed, tampered with, expired, or for another purpose."""


class DeliveryError(DigestError):
    """A message could not be handed to the mail server; retrying may help."""


class PermanentDeliveryError(DeliveryError):
    """The mail server refused a message for good (a 5xx reply)."""


class TransportError(DeliveryError):
    """The transport cannot deliver anything (login refused, TLS failure, unreachable)."""


class RunLockedError(DigestError):
    """Another digest run holds the run lock."""


class FetchError(DigestError):
    """A source could not be fetched (network, HTTP status, wrong content, too big)."""
