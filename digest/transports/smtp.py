"""The SMTP transport: one reused connection with a rate limit, retries and backoff.

:class:`SmtpTransport` keeps one connection open across messages, reopens it when the server
drops it, keeps to ``smtp.rate_per_second``, and retries connection errors and 4xx replies
with backoff. A 5xx reply raises :class:`PermanentDeliveryError` for that message only; a
failure that no message can get past (login refused, TLS failure, server unreachable after
retries) raises :class:`TransportError` so the run stops instead of failing every digest.
May import errors and :mod:`.base`; reads its password from the environment variable the
config names (``smtp.password_env``).
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from email.utils import parseaddr
from typing import TYPE_CHECKING

from ..errors import DeliveryError, PermanentDeliveryError, TransportError
from .base import OutgoingMessage, Receipt

if TYPE_CHECKING:
    from ..config import Config, SmtpConfig

log = logging.getLogger(__name__)


class SmtpTransport:
    """One reused SMTP connection with a rate limit, retries and backoff."""

    name = "smtp"

    def __init__(
        self,
        config: SmtpConfig,
        *,
        password: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.password = password
        self._sleep = sleep
        self._clock = clock
        self._conn: smtplib.SMTP | None = None
        self._last_send = float("-inf")
        self._ssl = ssl_context or _ssl_context(config.verify_certificate)

    @classmethod
    def from_config(cls, config: Config) -> SmtpTransport:
        """The server in ``[smtp]``; the password from ``smtp.password_env`` when a
        username is set."""
        password = None
        if config.smtp.username:
            password = config.secret(config.smtp.password_env, key="smtp.password_env")
        return cls(config.smtp, password=password)

    # --- connection ---------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        where = f"{c.host}:{c.port}"
        try:
            conn: smtplib.SMTP
            if c.security == "tls":
                conn = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._ssl)
            else:
                conn = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            conn.ehlo()
            if c.security == "starttls":
                conn.starttls(context=self._ssl)
                conn.ehlo()
        except ssl.SSLError as exc:
            raise TransportError(
                f"SMTP {where}: TLS failed ({exc.reason}); check smtp.security, "
                "or smtp.verify_certificate for a self-signed server"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise TransportError(
                f'SMTP {where}: the server does not offer STARTTLS; set smtp.security = "none" '
                'or "tls"'
            ) from exc
        if c.username:
            try:
                conn.login(c.username, self.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                conn.close()
                raise TransportError(
                    f"SMTP {where}: login as {c.username!r} refused ({exc.smtp_code}); "
                    f"check smtp.username and the password in ${c.password_env}"
                ) from exc
            except smtplib.SMTPNotSupportedError as exc:
                conn.close()
                raise TransportError(
                    f"SMTP {where}: the server offers no login; leave smtp.username empty"
                ) from exc
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):  # closing a broken socket
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
        self._drop()

    # --- sending ------------------------------------------------------------------------

    def _wait_for_rate_limit(self) -> None:
        interval = 1.0 / self.config.rate_per_second
        wait = self._last_send + interval - self._clock()
        if wait > 0:
            self._sleep(wait)
        self._last_send = self._clock()

    def send(self, message: OutgoingMessage) -> Receipt:
        sender, recipient, data = message.sender, message.recipient, message.data
        envelope_from = parseaddr(sender)[1] or sender
        attempts = self.config.retries + 1
        where = f"{self.config.host}:{self.config.port}"
        last_error = ""
        for attempt in range(1, attempts + 1):
            self._wait_for_rate_limit()
            try:
                # Connection-level: no message can pass a server that refuses us, answers
                # 421 (or 5xx) to the greeting or times out. After the retries the run
                # stops (TransportError) instead of trying every digest in turn.
                conn = self._connection()
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                last_error = f"cannot connect to {where} ({_connect_failure(exc)})"
                if _permanent(exc) or attempt == attempts:
                    raise TransportError(
                        f"SMTP {where} unreachable after {attempt} "
                        f"{'attempt' if attempt == 1 else 'attempts'} "
                        f"({_connect_failure(exc)}); nothing was sent and every digest "
                        "stays pending for the next run"
                    ) from exc
            else:
                try:
                    refused = conn.sendmail(envelope_from, [recipient], data)
                except smtplib.SMTPRecipientsRefused as exc:
                    code, reply = exc.recipients.get(recipient, (550, b"refused"))
                    if code == 421:  # the server is closing the connection
                        self._drop()
                    elif code >= 500:
                        raise PermanentDeliveryError(_reply(recipient, code, reply)) from exc
                    last_error = _reply(recipient, code, reply)
                except smtplib.SMTPResponseException as exc:
                    if exc.smtp_code >= 500:
                        self._reset()
                        raise PermanentDeliveryError(
                            _reply(recipient, exc.smtp_code, exc.smtp_error)
                        ) from exc
                    if exc.smtp_code == 421:
                        self._drop()
                    else:
                        self._reset()
                    last_error = _reply(recipient, exc.smtp_code, exc.smtp_error)
                except (smtplib.SMTPServerDisconnected, OSError) as exc:
                    # A dropped or broken connection: open a new one on the next attempt.
                    self._drop()
                    last_error = f"{recipient}: connection to {self.config.host} lost ({exc})"
                    if attempt == attempts:
                        raise TransportError(
                            f"SMTP {where} unreachable after {attempts} attempts ({exc}); "
                            "digests stay pending for the next run"
                        ) from exc
                else:
                    if refused:  # pragma: no cover - one recipient: refusal raises above
                        raise PermanentDeliveryError(f"{recipient}: refused ({refused})")
                    return Receipt(self.name, where)
            if attempt < attempts:
                delay = self.config.backoff_seconds * 2 ** (attempt - 1)
                log.info("retrying %s in %.1f s: %s", recipient, delay, last_error)
                self._sleep(delay)
        raise DeliveryError(f"{last_error} (gave up after {attempts} attempts)")

    def _reset(self) -> None:
        """After a refused transaction, RSET so the connection can be reused."""
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()


def _connect_failure(exc: BaseException) -> str:
    """Why a connection could not be opened, in a few words."""
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"the server replied {exc.smtp_code} {' '.join(text.split())}"
    if isinstance(exc, TimeoutError):
        return "timed out; check smtp.host, smtp.port and smtp.timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused; check smtp.host and smtp.port"
    return str(exc) or type(exc).__name__


def _permanent(exc: BaseException) -> bool:
    """A 5xx greeting: the server will not talk to us, retrying is pointless."""
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _reply(recipient: str, code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{recipient}: the server replied {code} {' '.join(text.split())}"


def _ssl_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
