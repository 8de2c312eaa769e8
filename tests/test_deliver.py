"""Transports against real things: an outbox folder and an SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import email
import ssl
from email import policy
from email.message import EmailMessage

import pytest
import trustme

from digest.config import SmtpConfig
from digest.deliver import OutboxTransport, SmtpTransport
from digest.errors import DeliveryError, PermanentDeliveryError, TransportError
from tests.smtp_server import Handler, smtp_server

DAY = dt.date(2026, 11, 22)
SENDER = "digest <digest@example.org>"


def message(to: str, subject: str = "5 papers for you") -> bytes:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{to}.{DAY}@example.org>"
    msg.set_content("plain body\n")
    msg.add_alternative("<p>html body — ünïcode</p>", subtype="html")
    return msg.as_bytes(policy=policy.SMTP)


def smtp_config(port: int, **overrides: object) -> SmtpConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "retries": 2,
        "backoff_seconds": 0.01,
        "rate_per_second": 1000.0,
        "timeout": 5.0,
    }
    values.update(overrides)
    return SmtpConfig(**values)  # type: ignore[arg-type]


def test_outbox_writes_eml_and_html_atomically(tmp_path):
    outbox = OutboxTransport(tmp_path / "outbox")
    data = message("ada@example.org")
    outbox.send(data, sender=SENDER, recipient="ada@example.org", digest_date=DAY)
    eml = tmp_path / "outbox" / "2026-11-22" / "ada_at_example.org.eml"
    assert eml.read_bytes() == data
    assert eml.with_suffix(".html").read_text(encoding="utf-8") == "<p>html body — ünïcode</p>\n"
    assert [p.name for p in eml.parent.iterdir() if p.name.startswith(".")] == []


def test_plain_delivery_keeps_the_message_intact():
    handler = Handler()
    with smtp_server(handler) as port:
        transport = SmtpTransport(smtp_config(port))
        for to in ("ada@example.org", "bob@example.org"):
            transport.send(message(to), sender=SENDER, recipient=to, digest_date=DAY)
        transport.close()
    assert [m.rcpt_tos for m in handler.messages] == [["ada@example.org"], ["bob@example.org"]]
    assert handler.messages[0].mail_from == "digest@example.org"
    assert handler.connections == 1  # one connection reused across messages
    received = email.message_from_bytes(handler.messages[0].data, policy=policy.default)
    sent = email.message_from_bytes(message("ada@example.org"), policy=policy.default)
    assert received["Message-ID"] == sent["Message-ID"]
    assert received.get_body(("html",)).get_content() == sent.get_body(("html",)).get_content()


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


def test_starttls_with_a_self_signed_certificate(certificate_authority):
    server_cert = certificate_authority.issue_cert("127.0.0.1", "localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(server_context)
    client_context = ssl.create_default_context()
    certificate_authority.configure_trust(client_context)

    handler = Handler()
    with smtp_server(handler, tls_context=server_context, auth=("digest", "pw")) as port:
        config = smtp_config(port, security="starttls", username="digest")
        # Without trusting the self-signed CA the handshake fails with a clear error.
        with pytest.raises(TransportError, match="TLS failed"):
            SmtpTransport(config, password="pw").send(
                message("ada@example.org"),
                sender=SENDER,
                recipient="ada@example.org",
                digest_date=DAY,
            )
        transport = SmtpTransport(config, password="pw", ssl_context=client_context)
        transport.send(
            message("ada@example.org"), sender=SENDER, recipient="ada@example.org", digest_date=DAY
        )
        transport.close()
    assert len(handler.messages) == 1


def test_dropped_connection_is_reopened():
    handler = Handler(drop_on={2})
    with smtp_server(handler) as port:
        transport = SmtpTransport(smtp_config(port))
        for to in ("a@example.org", "b@example.org", "c@example.org"):
            transport.send(message(to), sender=SENDER, recipient=to, digest_date=DAY)
        transport.close()
    assert [m.rcpt_tos[0] for m in handler.messages] == [
        "a@example.org",
        "b@example.org",
        "c@example.org",
    ]
    assert handler.connections == 2


def test_451_is_retried_with_backoff_then_accepted():
    handler = Handler(temporary_failures=1)
    sleeps: list[float] = []
    with smtp_server(handler) as port:
        transport = SmtpTransport(smtp_config(port, backoff_seconds=0.5), sleep=sleeps.append)
        transport.send(
            message("ada@example.org"), sender=SENDER, recipient="ada@example.org", digest_date=DAY
        )
        transport.close()
    assert len(handler.messages) == 1
    assert 0.5 in sleeps  # the backoff before the second attempt


def test_persistent_451_gives_up_with_a_retryable_error():
    handler = Handler(temporary_failures=10)
    with smtp_server(handler) as port:
        transport = SmtpTransport(smtp_config(port, retries=2))
        with pytest.raises(DeliveryError) as err:
            transport.send(
                message("ada@example.org"),
                sender=SENDER,
                recipient="ada@example.org",
                digest_date=DAY,
            )
        transport.close()
    assert not isinstance(err.value, PermanentDeliveryError)
    assert str(err.value) == (
        "ada@example.org: the server replied 451 4.3.0 try again later (gave up after 3 attempts)"
    )


def test_550_for_one_recipient_fails_only_that_message():
    handler = Handler(refuse={"gone@example.org": "550 5.1.1 no such user"})
    with smtp_server(handler) as port:
        transport = SmtpTransport(smtp_config(port))
        transport.send(
            message("a@example.org"), sender=SENDER, recipient="a@example.org", digest_date=DAY
        )
        with pytest.raises(PermanentDeliveryError) as err:
            transport.send(
                message("gone@example.org"),
                sender=SENDER,
                recipient="gone@example.org",
                digest_date=DAY,
            )
        transport.send(
            message("b@example.org"), sender=SENDER, recipient="b@example.org", digest_date=DAY
        )
        transport.close()
    assert str(err.value) == "gone@example.org: the server replied 550 5.1.1 no such user"
    assert [m.rcpt_tos[0] for m in handler.messages] == ["a@example.org", "b@example.org"]


def test_authentication_failure_is_a_clear_transport_error():
    handler = Handler()
    with smtp_server(handler, auth=("digest", "right")) as port:
        transport = SmtpTransport(smtp_config(port, username="digest"), password="wrong")
        with pytest.raises(TransportError) as err:
            transport.send(
                message("a@example.org"), sender=SENDER, recipient="a@example.org", digest_date=DAY
            )
    assert str(err.value) == (
        f"SMTP 127.0.0.1:{port}: login as 'digest' refused (535); "
        "check smtp.username and the password in $DIGEST_SMTP_PASSWORD"
    )
    assert handler.messages == []


def test_unreachable_server_is_a_transport_error():
    from tests.smtp_server import free_port

    port = free_port()
    transport = SmtpTransport(smtp_config(port, retries=1), sleep=lambda s: None)
    with pytest.raises(TransportError, match=f"SMTP 127.0.0.1:{port} unreachable after 2 attempts"):
        transport.send(
            message("a@example.org"), sender=SENDER, recipient="a@example.org", digest_date=DAY
        )


def test_rate_limit_spaces_messages():
    handler = Handler()
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    with smtp_server(handler) as port:
        transport = SmtpTransport(
            smtp_config(port, rate_per_second=2.0), sleep=sleep, clock=lambda: clock[0]
        )
        for to in ("a@example.org", "b@example.org", "c@example.org"):
            transport.send(message(to), sender=SENDER, recipient=to, digest_date=DAY)
        transport.close()
    assert sleeps == [0.5, 0.5]
