"""The renderer: a subscriber's digest in, an email message out.

Pure: :meth:`Renderer.render` takes the picks, the subscriber and ``now`` and returns an
:class:`~email.message.EmailMessage`; nothing here reads the database, the clock or the disk
once the templates are loaded (in :class:`Renderer`'s constructor). It wires the three
steps: :mod:`.content` (display values), :mod:`.templates` (filling) and :mod:`.message`
(the MIME message). :func:`make_renderer` builds one from the config.
"""

from __future__ import annotations

import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ..config import Config, EmailConfig
from ..records import DigestContent, Keyword, Paper, Pick, Profile, Subscriber
from ..tokens import LinkSigner
from .content import ContextBuilder, clean_text
from .message import MessageBuilder
from .templates import Templates


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
        self._templates = Templates(template_dir, compile_mjml_once=compile_mjml_once)
        self._messages = MessageBuilder(email)
        self._contexts = ContextBuilder(email, signer)
        self._smoke_test()

    def render(self, content: DigestContent, *, now: datetime.datetime) -> EmailMessage | None:
        """The digest as a multipart/alternative message, or None for a skipped quiet day.

        Serialise it with ``msg.as_bytes()`` (its own policy: CRLF line ends).
        """
        if not content.picks and content.subscriber.quiet_day != "note":
            return None
        context = self._contexts.context(content, now)
        templates = self._templates
        return self._messages.build(
            content.subscriber,
            content.digest_date,
            now,
            subject=clean_text(templates.subject(context)),
            text=templates.text(context),
            html=templates.html(context),
            unsubscribe_url=context["unsubscribe_url"],
        )

    def render_html(self, content: DigestContent, *, now: datetime.datetime) -> str:
        """The HTML body alone, for previews (also for a quiet day, whatever the setting)."""
        return self._templates.html(self._contexts.context(content, now))

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


def make_renderer(config: Config, *, secret: str | None = None) -> Renderer:
    """The renderer for this config; the link secret comes from the environment
    (``email.secret_env``) or the instance's secret file unless ``secret`` is given."""
    if secret is None:
        secret = config.link_secret()
    return Renderer(config.email, LinkSigner(secret), template_dir=config.email.templates)
