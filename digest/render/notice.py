"""The sign-up emails: the confirmation link for a new sign-up, and the preferences link
for an address that is already subscribed (so the sign-up form never tells a visitor who
is subscribed: both answers arrive in the inbox, not on the page).

Two templates, ``signup.txt`` and ``signup.html`` (Jinja; the HTML autoescaped), filled
with ``kind`` (``"confirm"`` or ``"known"``), ``name``, ``link`` and ``hours`` (how long
the link works), built into one multipart/alternative message. The address is checked by
:func:`~.message.format_address` (one that cannot go into a header is refused), and every
header goes through the same encoders as a digest's (:func:`~.message.format_address`,
:func:`~.message.encode_header_text`), stored as they are: the name is encoded as data,
never parsed, so an RFC 2047 encoded-word typed into it stays text and cannot decode into
a line break or another header (issue 15). The HTML part is held to the same size bound as
a digest (:data:`~.renderer.MAX_HTML_BYTES`).

Pure. May import records, config, errors, resources and the other modules of the package.
"""

from __future__ import annotations

import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import jinja2

from ..config import EmailConfig
from ..errors import RenderError
from ..resources import templates_dir
from .content import PRODUCT, clean_text
from .message import POLICY, encode_header_text, encode_html, format_address
from .renderer import MAX_HTML_BYTES, html_bytes

NOTICE_KINDS = ("confirm", "known")
SUBJECTS = {
    "confirm": f"Confirm your {PRODUCT} subscription",
    "known": f"Your {PRODUCT} subscription",
}


class NoticeRenderer:
    """Builds the sign-up emails; templates come from ``template_dir`` (config
    ``email.templates``) when it has them, else the built-in ones."""

    def __init__(self, email: EmailConfig, *, template_dir: Path | None = None) -> None:
        folders = [str(template_dir)] if template_dir is not None else []
        folders.append(str(templates_dir()))
        loader = jinja2.FileSystemLoader(folders)
        strict = jinja2.StrictUndefined
        try:
            html_env = jinja2.Environment(autoescape=True, loader=loader, undefined=strict)
            text_env = jinja2.Environment(autoescape=False, loader=loader, undefined=strict)
            self._html = html_env.get_template("signup.html")
            self._text = text_env.get_template("signup.txt")
        except jinja2.TemplateError as exc:
            raise RenderError(f"sign-up email template: {exc}; fix the template") from exc
        self._email = email
        sender_name, sender_addr = parseaddr(email.sender)
        self._from = format_address(sender_name, sender_addr, field="email.sender in the config")
        self._domain = sender_addr.rpartition("@")[2].lower()

    def render(
        self,
        kind: str,
        *,
        to_email: str,
        to_name: str,
        link: str,
        hours: int,
        now: datetime.datetime,
    ) -> EmailMessage:
        """The ``kind`` email (``"confirm"``: ``link`` confirms the sign-up; ``"known"``:
        ``link`` opens the subscriber's preferences) to ``to_email``.

        Raises :class:`RenderError` for an address that cannot go into a header, a broken
        template or an HTML part over the size bound.
        """
        if kind not in NOTICE_KINDS:
            raise RenderError(f"unknown sign-up email {kind!r}; expected one of {NOTICE_KINDS}")
        name = clean_text(to_name)[:100]
        values = {"kind": kind, "name": name, "link": link, "hours": hours, "product": PRODUCT}
        try:
            html = self._html.render(values)
            text = self._text.render(values)
        except jinja2.TemplateError as exc:
            raise RenderError(f"sign-up email template failed to render: {exc}") from exc
        data = encode_html(html)
        if html_bytes(data) > MAX_HTML_BYTES:
            raise RenderError(f"the sign-up email's HTML is over {MAX_HTML_BYTES} bytes")
        if now.tzinfo is None:
            now = now.replace(tzinfo=datetime.UTC)
        # Refuses an address that cannot go into a header (CR, LF, spaces, non-ASCII…).
        to = format_address(name, to_email, field="the email address in the form")
        # set_raw keeps our encoded values as they are. Never `msg["To"] = Address(name, …)`:
        # the stdlib serialises that to "name <addr>" and re-parses it when folding, so an
        # encoded-word typed as the name was decoded into real CR/LF in the header.
        msg = EmailMessage(policy=POLICY)
        msg.set_raw("From", self._from)
        msg.set_raw("To", to)
        msg.set_raw("Subject", encode_header_text(SUBJECTS[kind]))
        msg.set_raw("Date", format_datetime(now))
        msg.set_raw("Message-ID", make_msgid("signup", domain=self._domain))
        msg.set_raw("Auto-Submitted", "auto-generated")  # RFC 3834: no auto-replies, please
        msg.set_content(text)
        msg.add_alternative(data.decode("ascii"), subtype="html")
        return msg
