"""The renderer: a subscriber's digest in, an email message out.

Pure: :meth:`Renderer.render_digest` takes the picks, the subscriber and ``now`` and
returns the message's bytes (:meth:`Renderer.render` parses them into an
:class:`~email.message.EmailMessage`, for previews); nothing here reads the database, the
clock or the disk once the templates are loaded (in :class:`Renderer`'s constructor). It
wires the three steps: :mod:`.content` (display values), :mod:`.templates` (filling) and
:mod:`.message` (the MIME message's bytes). :func:`make_renderer` builds one from the config.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from ..config import Config, EmailConfig
from ..files import StagedFiles
from ..records import DigestContent, Keyword, Paper, Pick, Profile, Subscriber
from ..tokens import LinkSigner
from .content import ABSTRACT_LIMIT, ContextBuilder, clean_text
from .message import POLICY, MessageBuilder, encode_html
from .templates import Templates

# The HTML part's size bound, in bytes on the wire (ASCII with character references, CRLF
# line ends): under Gmail's ~102 KB clip, past which the footer with the unsubscribe link
# is hidden.
MAX_HTML_BYTES = 98_000  # with room for the line breaks the message adds to long lines
SHORT_ABSTRACT_LIMIT = 120  # the abstracts' length when the full ones do not fit


def html_bytes(data: bytes) -> int:
    """The HTML part's size as sent, from its :func:`encode_html` bytes: each line end a CRLF."""
    # replace() finds the LFs with memchr; count() tests every byte, ~4x slower at 45 KB.
    return len(data.replace(b"\n", b"\r\n"))


@dataclass(frozen=True)
class RenderedDigest:
    """A rendered digest: the message's bytes (None for a skipped quiet day), its
    Message-ID, and the content it shows, whose picks are the ones to record as sent.

    A render worker that wrote the message ahead for the transport (see
    :class:`~.pool.RenderPool`'s ``stage``) sends back ``staged`` instead of the bytes:
    ``data`` is None then, and :attr:`skipped` tells the two apart.
    """

    content: DigestContent
    data: bytes | None  # the whole message as it goes on the wire (CRLF line ends)
    message_id: str = ""
    page: bytes | None = None  # the stored "view in browser" page, made in a worker
    # The HTML part as the renderer encoded it (LF line ends), byte for byte what
    # transports.outbox.html_body(data) gives back, without parsing the message; None when
    # not known (a quiet day skipped).
    html: bytes | None = None
    staged: StagedFiles | None = None  # the message's files, written ahead by a worker

    @property
    def skipped(self) -> bool:
        """A quiet day with nothing to send: no message was made."""
        return self.data is None and self.staged is None

    @property
    def message(self) -> EmailMessage | None:
        """The message parsed back into an :class:`EmailMessage` (``as_bytes()`` gives
        ``data`` again), or None for a skipped quiet day (or a staged message)."""
        return None if self.data is None else parse_message(self.data)


def parse_message(data: bytes) -> EmailMessage:
    """A message's bytes as an :class:`EmailMessage` that serialises to the same bytes.

    Parsed with LF line ends (``data`` has CRLF only), so its bodies read as the renderer
    wrote them; the policy writes CRLF again."""
    message = BytesParser(EmailMessage, policy=POLICY).parsebytes(data.replace(b"\r\n", b"\n"))
    if not isinstance(message, EmailMessage):  # pragma: no cover - _class is EmailMessage
        raise TypeError("the parser did not return an EmailMessage")
    return message


class Renderer:
    """Turns :class:`DigestContent` into email messages.

    Templates are loaded and the MJML compiled once, here; ``template_dir`` (config
    ``email.templates``) may hold any of the template files, the others come from the
    built-in folder. A missing or broken template is a :class:`RenderError` naming the file,
    raised now rather than halfway through the daily run.
    """

    def __init__(
        self,
        email: EmailConfig,
        signer: LinkSigner,
        *,
        template_dir: Path | None = None,
        compile_mjml_once: bool = True,
    ) -> None:
        self._args = (email, signer, template_dir, compile_mjml_once)
        self._templates = Templates(template_dir, compile_mjml_once=compile_mjml_once)
        self._messages = MessageBuilder(email)
        self._contexts = ContextBuilder(email, signer)
        self._smoke_test()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Pickled for the render workers (see .pool): they load and compile the templates
        # themselves from the same arguments.
        return (_rebuild, self._args)

    def render(self, content: DigestContent, *, now: datetime.datetime) -> EmailMessage | None:
        """The digest as a multipart/alternative message, or None for a skipped quiet day.

        Parsed from :meth:`render_digest`'s bytes; ``msg.as_bytes()`` (its own policy: CRLF
        line ends) gives them back. The picks that did not fit are left out.
        """
        return self.render_digest(content, now=now).message

    def render_digest(self, content: DigestContent, *, now: datetime.datetime) -> RenderedDigest:
        """The message and the content it shows: ``content`` itself, or with what did not
        fit under :data:`MAX_HTML_BYTES` left out. Only the picks it shows count as sent."""
        if not content.picks and content.subscriber.quiet_day != "note":
            return RenderedDigest(content, None)
        content, context, _, data = self._fit(content, now)
        templates = self._templates
        sub = content.subscriber
        message = self._messages.build(
            content.subscriber,
            content.digest_date,
            now,
            subject=clean_text(templates.subject(context)),
            text=templates.text(context),
            html=data,  # encoded once: measured in _fit, sent as it is
            unsubscribe_url=context["unsubscribe_url"],
        )
        return RenderedDigest(
            content,
            message,
            self._messages.message_id(sub.id, content.digest_date),
            # The message writes each line end as CRLF and html_body reads them back as LF:
            # these bytes are that HTML exactly unless they hold a CR (never, in practice).
            html=data if b"\r" not in data else None,
        )

    def render_html(self, content: DigestContent, *, now: datetime.datetime) -> str:
        """The HTML body alone, for previews (also for a quiet day, whatever the setting)."""
        return self._fit(content, now)[2]

    def _fit(
        self, content: DigestContent, now: datetime.datetime
    ) -> tuple[DigestContent, dict[str, Any], str, bytes]:
        """The content, its template values and its HTML (as text and as the bytes sent),
        kept under MAX_HTML_BYTES so the
        footer (with the unsubscribe link) comes before Gmail's ~102 KB clip: if too big,
        trending goes, then abstracts are shortened, then the last picks are left out."""

        def attempt(
            candidate: DigestContent, limit: int = ABSTRACT_LIMIT
        ) -> tuple[DigestContent, dict[str, Any], str, bytes] | None:
            context = self._contexts.context(candidate, now, abstract_limit=limit)
            html = self._templates.html(context)
            data = encode_html(html)
            fits = html_bytes(data) <= MAX_HTML_BYTES
            return (candidate, context, html, data) if fits else None

        first = attempt(content)
        if first is not None:
            return first
        bare = dataclasses.replace(content, trending=())
        fitted = attempt(bare) or attempt(bare, SHORT_ABSTRACT_LIMIT)
        if fitted is not None:
            return fitted
        # The most picks that fit (each one is bounded, so one always does).
        low, high = 1, len(bare.picks) - 1
        best = attempt(dataclasses.replace(bare, picks=bare.picks[:1]), SHORT_ABSTRACT_LIMIT)
        while low < high:
            middle = (low + high + 1) // 2
            shorter = dataclasses.replace(bare, picks=bare.picks[:middle])
            found = attempt(shorter, SHORT_ABSTRACT_LIMIT)
            if found is None:
                high = middle - 1
            else:
                best, low = found, middle
        if best is None:  # pragma: no cover - every field is bounded
            shortest = dataclasses.replace(bare, picks=bare.picks[:1])
            context = self._contexts.context(shortest, now, abstract_limit=SHORT_ABSTRACT_LIMIT)
            html = self._templates.html(context)
            return shortest, context, html, encode_html(html)
        return best

    def render_text(self, content: DigestContent, *, now: datetime.datetime) -> str:
        """The plain-text body alone."""
        return self._templates.text(self._contexts.context(content, now))

    def subject(self, content: DigestContent, *, now: datetime.datetime) -> str:
        """The Subject line alone."""
        return clean_text(self._templates.subject(self._contexts.context(content, now)))

    def _smoke_test(self) -> None:
        """Render a sample digest and a quiet-day note, so template errors show at startup."""
        paper = Paper(
            id="2305.07922",
            title="A sample paper",
            abstract="One sentence. Another sentence.",
            authors=("A. Author",),
            upvotes=1,
            first_seen="2026-01-01",
        )
        sample = DigestContent(
            subscriber=Subscriber(id=0, email="sample@example.org", name="Sample"),
            profile=Profile(keywords=(Keyword("sample"),)),
            picks=((paper, Pick(paper.id, 1.0, ("matches sample",))),),
            digest_date=datetime.date(2026, 1, 2),
            trending=(paper,),
        )
        now = datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
        for content in (sample, DigestContent(sample.subscriber, sample.profile, (), now.date())):
            context: dict[str, Any] = self._contexts.context(content, now)
            self._templates.subject(context)
            self._templates.text(context)
            self._templates.html(context)


def _rebuild(
    email: EmailConfig, signer: LinkSigner, template_dir: Path | None, compile_mjml_once: bool
) -> Renderer:
    return Renderer(email, signer, template_dir=template_dir, compile_mjml_once=compile_mjml_once)


def make_renderer(config: Config, *, secret: str | None = None) -> Renderer:
    """The renderer for this config; the link secret comes from the environment
    (``email.secret_env``) or the instance's secret file unless ``secret`` is given."""
    if secret is None:
        secret = config.link_secret()
    return Renderer(config.email, LinkSigner(secret), template_dir=config.email.templates)
