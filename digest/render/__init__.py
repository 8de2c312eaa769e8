"""Render a subscriber's digest into an email message.

Three steps, one module each, wired by :class:`Renderer` (:mod:`.renderer`):

- :mod:`.content`: :class:`~digest.records.DigestContent` (made by :mod:`digest.compose`;
  re-exported here as the renderer's input) in, the values the templates show out (cleaned
  titles, cut abstracts, dates, topics, links signed for the subscriber);
- :mod:`.templates`: ``subject.txt``, ``digest.txt`` and ``digest.mjml``, loaded and
  compiled once, filled per email;
- :mod:`.message`: the MIME message, its headers (Message-ID, List-Unsubscribe, …) and its
  bytes;
- :mod:`.notice`: the sign-up emails (the confirmation link, or the preferences link of an
  address already subscribed).

Pure: no database, clock or network. This package may import records, config, errors,
tokens, resources and text, never the store, the ranker, compose, the run or the
transports.
"""

from __future__ import annotations

from ..records import DigestContent
from .content import (
    PaperView,
    clean_text,
    cut_abstract,
    format_subject,
    paper_link,
    safe_http_url,
    shorten_authors,
    top_topics,
)
from .message import format_address, message_id
from .notice import NoticeRenderer
from .renderer import MAX_HTML_BYTES, RenderedDigest, Renderer, make_renderer

__all__ = [
    "MAX_HTML_BYTES",
    "DigestContent",
    "NoticeRenderer",
    "PaperView",
    "RenderedDigest",
    "Renderer",
    "clean_text",
    "cut_abstract",
    "format_address",
    "format_subject",
    "make_renderer",
    "message_id",
    "paper_link",
    "safe_http_url",
    "shorten_authors",
    "top_topics",
]
