"""A real SMTP server on loopback (aiosmtpd) with behaviours the tests choose."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class Handler:
    """Accepts everything unless told otherwise.

    ``refuse``: recipient → reply (e.g. "550 5.1.1 no such user") given at RCPT.
    ``temporary_failures``: how many DATA commands get "451" before one is accepted.
    ``drop_on``: the numbers of DATA commands (1-based) at which the server hangs up.
    """

    refuse: dict[str, str] = field(default_factory=dict)
    temporary_failures: int = 0
    drop_on: set[int] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)
    data_commands: int = 0
    connections: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_commands += 1
        if self.data_commands in self.drop_on:
            server.transport.abort()
            return "421 going away"
        if self.temporary_failures > 0:
            self.temporary_failures -= 1
            return "451 4.3.0 try again later"
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 OK queued"


class Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username.encode(), password.encode()

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login == self.username and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(
    handler: Handler,
    *,
    tls_context: ssl.SSLContext | None = None,
    auth: tuple[str, str] | None = None,
) -> Iterator[int]:
    """Run ``handler`` on 127.0.0.1; yields the port."""
    port = free_port()
    kwargs: dict[str, Any] = {}
    if tls_context is not None:
        kwargs.update(tls_context=tls_context, require_starttls=True)
    if auth is not None:
        kwargs.update(authenticator=Authenticator(*auth), auth_require_tls=tls_context is not None)
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
