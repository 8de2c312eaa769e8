"""What a digest shows: the values the templates display.

Takes :class:`~digest.records.DigestContent` (what :mod:`digest.compose` decided) and owns
:class:`PaperView` (one paper as the templates see it) and everything that turns them into
display values: cleaned titles, shortened author lists, abstracts cut at a sentence end,
dates in fixed English, the subject's topics, safe links, and the signed per-subscriber
links (:class:`ContextBuilder`).

Pure: no disk, network or clock (``now`` is passed in). May import records, config, errors,
tokens and text; never the store, the ranker, compose, the run or the transports.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from ..config import EmailConfig
from ..errors import RenderError
from ..records import MATCHES_PREFIX, DigestContent, Keyword, Paper
from ..sources import arxiv_id_as_written
from ..text import MONTH_ABBREVIATIONS, MONTH_NAMES, clip, plural, strip_bidi_controls
from ..tokens import LinkSigner

PRODUCT = "digest"

ABSTRACT_LIMIT = 300
# Display bounds on what a listing gives, so no single field can swell an email: a title,
# each author's name, a pick's reason, a footer keyword, a paper's own link (a longer URL
# falls back to the arXiv page or a title search).
TITLE_MAX_CHARS = 300
AUTHOR_MAX_CHARS = 80
REASON_MAX_CHARS = 120
KEYWORD_MAX_CHARS = 60
URL_MAX_CHARS = 2000
MAX_TOPICS = 3
TOPICS_MAX_CHARS = 40
FOOTER_KEYWORDS = 6
PREHEADER_PICKS = 3
PREHEADER_MAX_CHARS = 150

# A paper's display text: title, link, authors, abstract, whether it was cut, date label.
_PaperText = tuple[str, str, str, str, bool, str]

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class PaperView(NamedTuple):
    """One paper as the templates see it: cleaned, shortened, with its links.

    A NamedTuple: immutable like a frozen dataclass (the day's trending views are shared
    by every digest), made in a fifth of the time (a digest makes fifteen).
    """

    number: int
    id: str
    title: str
    url: str
    authors: str
    abstract: str
    truncated: bool
    reasons: tuple[str, ...]
    upvotes: int | None
    date_label: str
    more_url: str = ""
    less_url: str = ""


# --- text helpers -------------------------------------------------------------------------

# C0/C1 controls and DEL: none belong in a title or a header (CR/LF in a header would let a
# listing or a name add headers of its own). str.split() already treats CR, LF, tab, the
# other whitespace controls and U+2028/U+2029 as spaces; these are the ones it does not.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def clean_text(text: str) -> str:
    """``text`` on one line: control characters become spaces, bidirectional controls
    (:func:`~digest.text.strip_bidi_controls`) go, runs of space collapse."""
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text  # already clean: the usual case, checked in C
    text = strip_bidi_controls(text)  # rows stored before ingest stripped them, names
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())  # ~4x faster than a regex substitution


def _author(name: str) -> str:
    # Cut before cleaning too: a 100 KB "name" of spaces would cost a full scan.
    return clip(clean_text(name[: AUTHOR_MAX_CHARS * 4]), AUTHOR_MAX_CHARS, at_word=True)


def shorten_authors(authors: Sequence[str]) -> str:
    """ "A, B, C … Z" for long author lists; up to four names are listed in full, each cut
    at :data:`AUTHOR_MAX_CHARS`."""
    if len(authors) > 4:  # clean only the four names shown, unless one of them is blank
        shown = [_author(a) for a in (authors[0], authors[1], authors[2], authors[-1])]
        if all(shown):
            return f"{shown[0]}, {shown[1]}, {shown[2]} … {shown[3]}"
    names = [n for n in (_author(a) for a in authors) if n]
    if len(names) <= 4:
        return ", ".join(names)
    return f"{names[0]}, {names[1]}, {names[2]} … {names[-1]}"


# A full stop that ends a sentence: followed by space and then not a lower-case letter.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]?(?=\s+[^\s a-z])")
# Periods that usually do not end a sentence.
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|etc|cf|vs|resp|approx|Fig|Figs|Eq|Eqs|Sec|Tab|No|Dr|Prof|Mr|Ms)"
    r"|\b[A-Z])\.$"
)


def cut_abstract(text: str, limit: int = ABSTRACT_LIMIT) -> tuple[str, bool]:
    """The abstract cut at a sentence end near ``limit`` characters, and whether it was cut.

    Prefers the last sentence end within ``limit``; if the first sentence alone is longer,
    allows it up to 1.5x ``limit``; failing that, cuts at a word boundary and adds "…".
    """
    window = int(limit * 1.5) + 1  # where a sentence end is looked for
    head = clean_text(text[: window * 2])  # abstracts run to 2,000 characters: clean less
    text = head if len(head) > window or len(text) <= window * 2 else clean_text(text)
    if len(text) <= limit:
        return text, False
    ends = []
    for match in _SENTENCE_END.finditer(text, 0, window):
        end = match.end()
        if text[end - 1] == "." and _ABBREVIATION.search(text, max(0, end - 10), end):
            continue
        ends.append(end)
    within = [end for end in ends if end <= limit]
    if within and within[-1] >= limit // 3:
        return text[: within[-1]], True
    longer = [end for end in ends if end > limit]
    if longer:
        return text[: longer[0]], True  # one long sentence reads better than a cut one
    if within:
        return text[: within[-1]], True
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…", True


def short_date(day: datetime.date) -> str:
    """``Nov 22``: fixed English names, whatever the process locale."""
    return f"{MONTH_ABBREVIATIONS[day.month - 1]} {day.day}"


def long_date(day: datetime.date) -> str:
    """``Sunday, November 22, 2026``."""
    return f"{_WEEKDAYS[day.weekday()]}, {MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def _date_label(iso: str | None, today: datetime.date) -> str:
    if not iso:
        return ""
    try:
        day = datetime.date.fromisoformat(iso[:10])
    except ValueError:
        return ""
    return short_date(day) if day.year == today.year else f"{short_date(day)}, {day.year}"


def top_topics(keywords: Iterable[Keyword], reasons: Iterable[str] | None = None) -> str:
    """The first two or three keywords by weight, for the subject line.

    With ``reasons`` (the day's picks' reasons), only keywords a "matches: …" reason names:
    the subject never names a topic that none of the day's papers matched (empty when the
    picks came from followed authors, categories or liked papers alone).
    """
    if reasons is not None:
        named = {
            item.casefold()
            for reason in reasons
            if reason.startswith(MATCHES_PREFIX)
            for item in reason[len(MATCHES_PREFIX) :].split(", ")
        }
        keywords = [k for k in keywords if k.text.casefold() in named]
    ranked = sorted(keywords, key=lambda k: -k.weight)  # stable: ties keep profile order
    texts = [t for t in (clean_text(k.text) for k in ranked) if t][:MAX_TOPICS]
    while len(texts) > 1 and len(", ".join(texts)) > TOPICS_MAX_CHARS:
        texts.pop()
    return ", ".join(texts)


def format_subject(template: str, *, count: int, topics: str, date: datetime.date) -> str:
    """Fill the config's email.subject: ``{count}``, ``{topics}``, ``{date}`` (and ``{papers}``).

    "{count} papers" turns into "1 paper" for a single pick; a part left empty (no keywords)
    is dropped with its " · " separator.
    """
    template = template.replace("{count} papers", "{count} {papers}")
    values = {
        "count": count,
        "papers": "paper" if count == 1 else "papers",
        "topics": topics,
        "date": short_date(date),
    }
    try:
        text = template.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        raise RenderError(
            f"email.subject {template!r} cannot be filled in ({exc!r}); use only the "
            "placeholders {count}, {topics} and {date}, and double any other braces"
        ) from exc
    return " · ".join(part for part in text.split(" · ") if part.strip())


# --- links --------------------------------------------------------------------------------

_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\"<>\\^`{|}]")


def safe_http_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with nothing odd in it, else None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > URL_MAX_CHARS:
        return None
    if _URL_FORBIDDEN.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def paper_link(paper: Paper, email: EmailConfig) -> str:
    """Where a paper's title links: its own http(s) URL, its arXiv page, or a title search."""
    own = safe_http_url(paper.url)
    if own:
        return own
    arxiv_id = arxiv_id_as_written(paper.id)
    if arxiv_id:
        return email.paper_url.replace("{id}", quote(arxiv_id, safe="/"))
    return email.search_url.replace("{title}", quote(display_title(paper.title), safe=""))


def display_title(title: str) -> str:
    """A title on one line, cut at :data:`TITLE_MAX_CHARS` at a word."""
    head = clean_text(title[: TITLE_MAX_CHARS * 4])
    return clip(head, TITLE_MAX_CHARS, at_word=True) if len(head) > TITLE_MAX_CHARS else head


def _quiet_reason(content: DigestContent) -> str:
    """Why there is nothing today, in one sentence."""
    new, below = content.new_paper_count, content.below_threshold_count
    if new:
        return f"{plural(new, 'new paper')} today, none above your threshold."
    if below:
        return (
            f"No new papers today, and none of {plural(below, 'recent paper')} "
            "is above your threshold."
        )
    return "No new papers were listed today."


# --- the values the templates see ---------------------------------------------------------


# A day's papers and the reasons the ranker gives recur in many digests: their display
# values are kept, up to this many of each (then the store starts again).
_CACHE_ENTRIES = 4096


class ContextBuilder:
    """Turns :class:`DigestContent` into the values the templates fill in.

    A day's subscribers share one pool of candidate papers, so each paper's cleaned title,
    link, authors and cut abstract are worked out once per builder, not once per subscriber;
    so are the cleaned reasons and the day's trending list (the same for every digest).
    """

    def __init__(self, email: EmailConfig, signer: LinkSigner) -> None:
        self._email = email
        self._signer = signer
        self._base_url = email.base_url
        self._postal_address = clean_text(email.postal_address)
        # (paper id, abstract limit) -> (the paper, the day, its display text)
        self._texts: dict[tuple[str, int], tuple[Paper, datetime.date, _PaperText]] = {}
        self._reasons: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._trending: tuple[tuple[Paper, ...], datetime.date, tuple[PaperView, ...]] | None
        self._trending = None

    def context(
        self,
        content: DigestContent,
        now: datetime.datetime,
        *,
        abstract_limit: int = ABSTRACT_LIMIT,
    ) -> dict[str, Any]:
        """The values ``subject.txt``, ``digest.txt`` and ``digest.mjml`` see; links are
        signed for the subscriber as issued at ``now``; abstracts are cut near
        ``abstract_limit`` characters."""
        email = self._email
        sub = content.subscriber
        day = content.digest_date
        links = self._signer.links(self._base_url, sub.id, issued_at=now)
        text_of = self._paper_text
        reasons_of = self._clean_reasons
        picks: list[PaperView] = []
        for number, (paper, pick) in enumerate(content.picks, start=1):
            title, url, authors, abstract, truncated, date_label = text_of(
                paper, day, abstract_limit
            )
            more, less = links.feedback_urls(paper.id)
            picks.append(
                PaperView(
                    number,
                    paper.id,
                    title,
                    url,
                    authors,
                    abstract,
                    truncated,
                    reasons_of(pick.reasons),
                    paper.upvotes,
                    date_label,
                    more,
                    less,
                )
            )

        count = len(picks)
        keywords = [
            clip(t, KEYWORD_MAX_CHARS, at_word=True)
            for t in (clean_text(k.text) for k in content.profile.keywords)
            if t
        ]
        subject = format_subject(
            email.subject,
            count=count,
            topics=top_topics(
                content.profile.keywords, [r for _, pick in content.picks for r in pick.reasons]
            ),
            date=day,
        )
        name = clip(clean_text(sub.name[:400]), 100, at_word=True)
        papers = "paper" if count == 1 else "papers"
        quiet_reason = _quiet_reason(content)
        if picks:
            titles = " · ".join(p.title for p in picks[:PREHEADER_PICKS])
            preheader = clip(f"Today: {titles}", PREHEADER_MAX_CHARS, at_word=True)
        else:
            preheader = quiet_reason
        lead = f"Hi {name}, here" if name else "Here"
        # "View in browser": only a stored digest (the run's) has a page to link to.
        view_url = "" if content.digest_id is None else links.url("view", str(content.digest_id))
        return {
            "product": PRODUCT,
            "subject": subject,
            "preheader": preheader,
            "date_long": long_date(day),
            "date_short": short_date(day),
            "digest_date": day,
            "greeting": f"{lead} {'is' if count == 1 else 'are'} {count} {papers} picked for you.",
            "name": name,
            "count": count,
            "picks": picks,
            "trending": self._trending_views(content.trending, day),
            "trending_all_picked": content.trending_all_picked,
            "new_paper_count": content.new_paper_count,
            "below_threshold_count": content.below_threshold_count,
            "quiet_reason": quiet_reason,
            "keywords": ", ".join(keywords[:FOOTER_KEYWORDS]),
            "more_keywords": max(0, len(keywords) - FOOTER_KEYWORDS),
            "preferences_url": links.url("preferences"),
            "unsubscribe_url": links.url("unsubscribe"),
            "view_url": view_url,
            "postal_address": self._postal_address,
            "list_id": email.list_id,
        }

    def _trending_views(self, trending: tuple[Paper, ...], today: datetime.date) -> list[PaperView]:
        """The trending papers as the templates see them (numbered from 1, no abstract, no
        reasons or feedback links): the same for every digest of a day, so made once."""
        kept = self._trending
        if kept is None or kept[1] != today or kept[0] != trending:
            views = []
            for number, paper in enumerate(trending, start=1):
                title, url, authors, _, _, date_label = self._paper_text(paper, today, 0)
                views.append(
                    PaperView(
                        number,
                        paper.id,
                        title,
                        url,
                        authors,
                        "",
                        False,
                        (),
                        paper.upvotes,
                        date_label,
                    )
                )
            kept = self._trending = (trending, today, tuple(views))
        return list(kept[2])  # a list of its own: the templates see a fresh one every time

    def _clean_reasons(self, reasons: tuple[str, ...]) -> tuple[str, ...]:
        """A pick's reasons on one line each, cut at :data:`REASON_MAX_CHARS`; the blank ones
        left out."""
        cleaned = self._reasons.get(reasons)
        if cleaned is None:
            cleaned = tuple(
                clip(r, REASON_MAX_CHARS, at_word=True)
                for r in (clean_text(r[: REASON_MAX_CHARS * 4]) for r in reasons)
                if r
            )
            if len(self._reasons) >= _CACHE_ENTRIES:
                self._reasons.clear()
            self._reasons[reasons] = cleaned
        return cleaned

    def _paper_text(self, paper: Paper, today: datetime.date, abstract_limit: int) -> _PaperText:
        """The paper's display title, link, authors, abstract cut near ``abstract_limit``
        (none for 0), whether it was cut, and its date label as of ``today``."""
        key = (paper.id, abstract_limit)
        kept = self._texts.get(key)
        if kept is not None and kept[1] == today and (kept[0] is paper or kept[0] == paper):
            return kept[2]
        abstract, truncated = (
            cut_abstract(paper.abstract, abstract_limit) if abstract_limit else ("", False)
        )
        text = (
            display_title(paper.title) or "(untitled)",
            paper_link(paper, self._email),
            shorten_authors(paper.authors),
            abstract,
            truncated,
            _date_label(paper.listing_date or paper.first_seen, today),
        )
        if len(self._texts) >= _CACHE_ENTRIES:
            self._texts.clear()
        self._texts[key] = (paper, today, text)
        return text
