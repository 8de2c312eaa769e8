"""Transports against real things: an outbox folder and an SMTP server on loopback."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import ssl
from email import policy
from email.message import EmailMessage

import pytest
import trustme

from digest.config import EmailConfig, SmtpConfig
from digest.errors import ConfigError, DeliveryError, PermanentDeliveryError, TransportError
from digest.records import Keyword, Paper, Pick, Profile, Subscriber
from digest.render import DigestContent, Renderer
from digest.tokens import LinkSigner
from digest.transports import (
    TRANSPORTS,
    OutboxTransport,
    OutgoingMessage,
    Receipt,
    SmtpTransport,
    make_transport,
)
from digest.transports.outbox import html_body
from tests.run_helpers import TEST_SECRET
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


def outgoing(to: str) -> OutgoingMessage:
    return OutgoingMessage(message(to), sender=SENDER, recipient=to, digest_date=DAY)


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
    outbox = OutboxTransport(tmp_path / "outbox", html_copy=True)
    data = message("ada@example.org")
    outbox.send(OutgoingMessage(data, SENDER, "ada@example.org", DAY))
    eml = tmp_path / "outbox" / "2026-11-22" / "ada_at_example.org.eml"
    assert eml.read_bytes() == data
    assert eml.with_suffix(".html").read_text(encoding="utf-8") == "<p>html body — ünïcode</p>\n"
    assert [p.name for p in eml.parent.iterdir() if p.name.startswith(".")] == []


def test_outbox_writes_one_private_file_per_message_and_rewrites_it_on_a_repeat(tmp_path):
    # Issue 16: one file per message unless delivery.outbox_html asks for the HTML copy;
    # a message handed over again (after a crash) replaces the same file whole.
    outbox = OutboxTransport(tmp_path / "outbox")
    assert outbox.idempotent_redelivery is True
    first, second = message("ada@example.org"), message("ada@example.org") + b"again\r\n"
    outbox.send(OutgoingMessage(first, SENDER, "ada@example.org", DAY))
    outbox.send(OutgoingMessage(second, SENDER, "ada@example.org", DAY))
    folder = tmp_path / "outbox" / "2026-11-22"
    assert [p.name for p in folder.iterdir()] == ["ada_at_example.org.eml"]
    assert (folder / "ada_at_example.org.eml").read_bytes() == second
    assert (folder / "ada_at_example.org.eml").stat().st_mode & 0o777 == 0o600


def test_only_the_outbox_declares_a_repeat_harmless():
    assert getattr(SmtpTransport, "idempotent_redelivery", False) is False


def test_plain_delivery_keeps_the_message_intact():
    handler = Handler()
    with smtp_server(handler) as port:
        transport = SmtpTransport(smtp_config(port))
        for to in ("ada@example.org", "bob@example.org"):
            transport.send(outgoing(to))
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
            SmtpTransport(config, password="pw").send(outgoing("ada@example.org"))
        transport = SmtpTransport(config, password="pw", ssl_context=client_context)
        transport.send(outgoing("ada@example.org"))
        transport.close()
    assert len(handler.messages) == 1


def test_dropped_connection_is_reopened():
    handler = Handler(drop_on={2})
    with smtp_server(handler) as port:
        transport = SmtpTransport(smtp_config(port))
        for to in ("a@example.org", "b@example.org", "c@example.org"):
            transport.send(outgoing(to))
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
        transport.send(outgoing("ada@example.org"))
        transport.close()
    assert len(handler.messages) == 1
    assert 0.5 in sleeps  # the backoff before the second attempt


def test_persistent_451_gives_up_with_a_retryable_error():
    handler = Handler(temporary_failures=10)
    with smtp_server(handler) as port:
        transport = SmtpTransport(smtp_config(port, retries=2))
        with pytest.raises(DeliveryError) as err:
            transport.send(outgoing("ada@example.org"))
        transport.close()
    assert not isinstance(err.value, PermanentDeliveryError)
    assert str(err.value) == (
        "ada@example.org: the server replied 451 4.3.0 try again later (gave up after 3 attempts)"
    )


def test_550_for_one_recipient_fails_only_that_message():
    handler = Handler(refuse={"gone@example.org": "550 5.1.1 no such user"})
    with smtp_server(handler) as port:
        transport = SmtpTransport(smtp_config(port))
        transport.send(outgoing("a@example.org"))
        with pytest.raises(PermanentDeliveryError) as err:
            transport.send(outgoing("gone@example.org"))
        transport.send(outgoing("b@example.org"))
        transport.close()
    assert str(err.value) == "gone@example.org: the server replied 550 5.1.1 no such user"
    assert [m.rcpt_tos[0] for m in handler.messages] == ["a@example.org", "b@example.org"]


def test_authentication_failure_is_a_clear_transport_error():
    handler = Handler()
    with smtp_server(handler, auth=("digest", "right")) as port:
        transport = SmtpTransport(smtp_config(port, username="digest"), password="wrong")
        with pytest.raises(TransportError) as err:
            transport.send(outgoing("a@example.org"))
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
        transport.send(outgoing("a@example.org"))


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
            transport.send(outgoing(to))
        transport.close()
    assert sleeps == [0.5, 0.5]


# --- receipts, the registry, and the outbox's HTML from the message's bytes -----------------


def test_outbox_receipt_names_the_file(tmp_path):
    receipt = OutboxTransport(tmp_path / "outbox").send(outgoing("ada@example.org"))
    eml = tmp_path / "outbox" / "2026-11-22" / "ada_at_example.org.eml"
    assert receipt == Receipt("outbox", str(eml), eml)


def test_smtp_receipt_names_the_server_and_no_file():
    with smtp_server(Handler()) as port:
        transport = SmtpTransport(smtp_config(port))
        receipt = transport.send(outgoing("ada@example.org"))
        transport.close()
    assert receipt == Receipt("smtp", f"127.0.0.1:{port}", None)


def test_the_registry_is_what_config_cli_and_make_transport_accept(instance, run_cli, monkeypatch):
    assert list(TRANSPORTS) == ["outbox", "smtp"]
    outbox = make_transport(instance)
    assert isinstance(outbox, OutboxTransport) and outbox.folder == instance.delivery.outbox
    smtp_config_ = dataclasses.replace(instance.smtp, username="digest")
    config = dataclasses.replace(instance, smtp=smtp_config_)
    monkeypatch.setenv(config.smtp.password_env, "s3cret")
    smtp = make_transport(config, "smtp")
    assert isinstance(smtp, SmtpTransport) and smtp.password == "s3cret"
    with pytest.raises(ConfigError) as err:
        make_transport(instance, "pigeon")
    assert str(err.value) == "unknown transport 'pigeon'; choose one of 'outbox', 'smtp'"
    result = run_cli("run", "--transport", "pigeon")
    assert result.exit_code == 2
    assert "'pigeon' is not one of 'outbox', 'smtp'" in result.output


def _rendered_messages() -> list[EmailMessage]:
    renderer = Renderer(EmailConfig(), LinkSigner(TEST_SECRET))
    now = dt.datetime(2026, 11, 22, 7, tzinfo=dt.UTC)
    paper = Paper(
        id="2411.00001",
        title="Zoë & <Ünïcode> in titles",
        abstract="One sentence. Another sentence with “quotes”.",
        authors=("Zoë Ünïcode", "李雷"),
        first_seen="2026-11-21",
    )
    # A title too long for one SMTP line: that body goes out quoted-printable.
    long_title = dataclasses.replace(paper, id="2411.00002", title="Zoë " * 400)
    sub = Subscriber(id=7, email="ada@example.org", name="Ada", quiet_day="note")
    messages = []
    for picks in ((paper,), (paper, long_title), ()):
        content = DigestContent(
            subscriber=sub,
            profile=Profile(keywords=(Keyword("unicode"),)),
            picks=tuple((p, Pick(p.id, 1.0, ("matches unicode",))) for p in picks),
            digest_date=DAY,
            trending=(paper,),
        )
        message = renderer.render(content, now=now)
        assert message is not None
        messages.append(message)
    return messages


def test_outbox_html_is_the_renderers_html_byte_for_byte(tmp_path):
    outbox = OutboxTransport(tmp_path / "outbox", html_copy=True)
    messages = _rendered_messages()
    encodings = [m.get_body(("html",))["Content-Transfer-Encoding"] for m in messages]
    assert encodings == ["7bit", "quoted-printable", "7bit"]
    for message in messages:
        data = message.as_bytes()
        receipt = outbox.send(OutgoingMessage(data, SENDER, "ada@example.org", DAY))
        assert receipt.file is not None
        assert receipt.file.read_bytes() == data
        html = message.get_body(("html",)).get_content()
        assert receipt.file.with_suffix(".html").read_bytes() == html.encode("utf-8")


def _stdlib_html(data: bytes) -> bytes | None:
    parsed = email.message_from_bytes(data, policy=policy.default)
    part = parsed.get_body(preferencelist=("html",))
    return None if part is None else part.get_content().encode("utf-8")


def test_html_body_agrees_with_the_stdlib_parser():
    mixed = EmailMessage()
    mixed["Subject"] = "nested"
    mixed.set_content("plain\n")
    mixed.add_alternative("<p>nested ünïcode</p>\n<p>two lines</p>\n", subtype="html")
    mixed.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream")
    base64_html = EmailMessage()
    base64_html.set_content("<p>b64 ✓</p>\n", subtype="html", cte="base64")
    qp_html = EmailMessage()
    qp_html.set_content("<p>" + "é" * 500 + "</p>\n", subtype="html", cte="quoted-printable")
    text_only = EmailMessage()
    text_only.set_content("no html here\n")
    cases = {
        "8bit alternative": message("ada@example.org"),
        "nested, LF line ends": mixed.as_bytes(),
        "nested, CRLF line ends": mixed.as_bytes(policy=policy.SMTP),
        "base64": base64_html.as_bytes(policy=policy.SMTP),
        "quoted-printable": qp_html.as_bytes(policy=policy.SMTP),
        "no html": text_only.as_bytes(policy=policy.SMTP),
    }
    for name, data in cases.items():
        expected = _stdlib_html(data)
        if expected is not None and b"\r\n" in data and not name.startswith("base64"):
            expected = expected.replace(b"\r\n", b"\n")  # the line ends the generator added
        assert html_body(data) == expected, name
