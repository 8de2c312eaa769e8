"""Render a subscriber's digest into an email message.

Pure: :meth:`Renderer.render` takes the picks, the subscriber and ``now`` and returns an
:class:`~email.message.EmailMessage`; nothing here reads the database, the clock or the disk
once the templates are loaded (in :class:`Renderer`'s constructor).

Three templates make one message (healthchecks does the same): ``subject.txt``,
``digest.txt`` (the text/plain part) and ``digest.mjml`` (the text/html part, MJML with
Jinja inside). The MJML is compiled to HTML **once**, with its Jinja tags left in place, and
the HTML is then filled by Jinja (autoescaped) for every email. Compiling the MJML per email
gives the same HTML but costs ~2.7x as much (384 vs 1,029 µs per email, measured by
``benchmarks/bench_render.py``).

The message is assembled from pre-encoded parts (7bit/8bit bodies with short lines, RFC 2047
headers) rather than with ``EmailMessage.set_content``: the stdlib's header parsing and
refolding and its quoted-printable encoder cost more than everything else together, and the
daily run renders one message per subscriber (~1,300 a second on one core).
"""

from __future__ import annotations

import binascii
import datetime
import functools
import hashlib
import re
from base64 import b64encode
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy, Policy
from email.utils import format_datetime, parseaddr
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from mjml import mjml2html

from .config import EmailConfig
from .errors import RenderError
from .records import Keyword, Paper, Pick, Profile, Subscriber
from .resources import templates_dir
from .sources import arxiv_id_as_written
from .text import MONTH_ABBREVIATIONS, MONTH_NAMES, clip
from .tokens import LinkSigner, link_url

PRODUCT = "digest"
TEMPLATE_NAMES = ("digest.mjml", "digest.txt", "subject.txt")


class _DigestPolicy(EmailPolicy):
    """The SMTP policy (CRLF), minus two costs that dominated rendering.

    - refold_source="none" (set below): the headers we build are already encoded and folded,
      and the stdlib's refolder would wrap a long List-Unsubscribe URL in RFC 2047
      encoded-words, which mail providers then fail to read. Headers a caller adds later
      with ``msg[name] = value`` are still folded as usual.
    - The generator parses Content-Type and Content-Transfer-Encoding several times per
      part, and they are the same in every digest: parsed header objects are immutable, so
      those are parsed once per process.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if name.lower() in _CACHED_HEADERS and not hasattr(value, "name"):
            return _parsed_header(name, value)
        return super().header_fetch_parse(name, value)


_CACHED_HEADERS = frozenset({"content-type", "content-transfer-encoding"})


@functools.lru_cache(maxsize=64)
def _parsed_header(name: str, value: str) -> Any:
    # Keyed without the policy: the generator clones it for every part, and the parse only
    # depends on the header registry, which the clones share.
    return EmailPolicy.header_fetch_parse(POLICY, name, value)


POLICY = _DigestPolicy(linesep="\r\n", refold_source="none")


class DigestMessage(EmailMessage):
    """An EmailMessage that serialises each body in one write instead of two per line.

    Same bytes as the stock generator (a test compares them; smtplib's send_message uses the
    stock one), in 40% of the time for a digest.
    """

    def as_bytes(self, unixfrom: bool = False, policy: Policy | None = None) -> bytes:
        out = BytesIO()
        generator = _FastBytesGenerator(out, mangle_from_=False, policy=policy or self.policy)
        generator.flatten(self, unixfrom=unixfrom)
        return out.getvalue()


_NEWLINE = re.compile(r"\r\n|\r|\n")  # as email.generator.NLCRE


class _FastBytesGenerator(BytesGenerator):
    def _write_lines(self, lines: str) -> None:
        # Same output as Generator._write_lines: every line ending becomes the policy's.
        if not lines:
            return
        newline: str = self._NL  # type: ignore[attr-defined]
        # str.replace is several times faster than the regex, and enough without CRs.
        fast = "\r" not in lines
        self.write(lines.replace("\n", newline) if fast else _NEWLINE.sub(newline, lines))


ABSTRACT_LIMIT = 300
MAX_TOPICS = 3
TOPICS_MAX_CHARS = 40
FOOTER_KEYWORDS = 6
PREHEADER_PICKS = 3
PREHEADER_MAX_CHARS = 150

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class DigestContent:
    """Everything one subscriber's digest shows, decided by the ranker."""

    subscriber: Subscriber
    profile: Profile
    picks: tuple[tuple[Paper, Pick], ...]  # best first
    digest_date: datetime.date
    trending: tuple[Paper, ...] = ()  # today's top papers by upvotes, not personalised
    new_paper_count: int = 0  # candidates considered today, for the quiet-day note
    below_threshold_count: int = 0


@dataclass(frozen=True, slots=True)
class PaperView:
    """One paper as the templates see it: cleaned, shortened, with its links."""

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
    """``text`` on one line: control characters become spaces, runs of space collapse."""
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text  # already clean: the usual case, checked in C
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())  # ~4x faster than a regex substitution


def shorten_authors(authors: Sequence[str]) -> str:
    """ "A, B, C … Z" for long author lists; up to four names are listed in full."""
    if len(authors) > 4:  # clean only the four names shown, unless one of them is blank
        shown = [clean_text(a) for a in (authors[0], authors[1], authors[2], authors[-1])]
        if all(shown):
            return f"{shown[0]}, {shown[1]}, {shown[2]} … {shown[3]}"
    names = [n for n in (clean_text(a) for a in authors) if n]
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


def top_topics(keywords: Iterable[Keyword]) -> str:
    """The first two or three keywords by weight, for the subject line."""
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
    return email.search_url.replace("{title}", quote(clean_text(paper.title), safe=""))


# --- headers ------------------------------------------------------------------------------


def message_id(subscriber_id: int, digest_date: datetime.date, domain: str) -> str:
    """A Message-ID that is the same every time for one subscriber's digest of one day.

    Stable so that a re-sent message (after a crash) is recognised as the same one.
    """
    key = f"{subscriber_id}|{digest_date.isoformat()}|{domain}".encode()
    digest = hashlib.blake2b(key, digest_size=5).hexdigest()
    return f"<digest.{digest_date.isoformat()}.{subscriber_id}.{digest}@{domain}>"


# Bytes that may stand for themselves in an RFC 2047 "Q" encoded-word, even inside a phrase
# (a display name): RFC 2047 section 5 (3).
_Q_LITERAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_TABLE = tuple(
    "_" if b == 0x20 else chr(b) if b in _Q_LITERAL else f"={b:02X}" for b in range(256)
)
_EW_ROOM = 75 - len("=?utf-8?q??=")  # RFC 2047: an encoded-word is at most 75 characters
_B_BYTES = _EW_ROOM // 4 * 3  # UTF-8 bytes that fit in one "B" encoded-word
MAX_NAME_CHARS = 200  # a longer display name is not a name; it would also break line limits
MAX_SUBJECT_CHARS = 250


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded-words: one if it fits, else several split between chars.

    "Q" when it fits (readable in the raw message), else the more compact "B". Decoders join
    adjacent encoded-words without the space between them; note that CPython's display-name
    parser does keep that space, so a run of more than ~45 UTF-8 bytes of non-ASCII words
    comes back from ``headerregistry`` with one extra space where it was split.
    """
    data = text.encode("utf-8")
    q = "".join([_Q_TABLE[b] for b in data])
    if len(q) <= _EW_ROOM:
        return [f"=?utf-8?q?{q}?="]
    if len(data) <= _B_BYTES:
        return [_b_word(data)]
    words: list[str] = []
    chunk = b""
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _B_BYTES:
            words.append(_b_word(chunk))
            chunk = b""
        chunk += encoded
    words.append(_b_word(chunk))
    return words


def _b_word(data: bytes) -> str:
    return f"=?utf-8?b?{b64encode(data).decode('ascii')}?="


def _encode_words(words: Iterable[str], plain: Callable[[str], bool]) -> list[str]:
    """Header tokens: words that are ``plain`` as they are, runs of the others encoded."""
    tokens: list[str] = []
    run: list[str] = []
    for word in words:
        if plain(word):
            if run:
                # Decoders drop the space between two encoded-words, so a run of words is
                # encoded together, its spaces inside.
                tokens.extend(_encoded_words(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(_encoded_words(" ".join(run)))
    return tokens


def _plain_text_word(word: str) -> bool:
    return word.isascii() and "=?" not in word


def encode_header_text(text: str, *, name: str = "Subject") -> str:
    """Unstructured header text, RFC 2047-encoded where needed and folded near 78 columns.

    Only runs of words that need it are encoded, so an ASCII-mostly subject stays readable
    in the raw message. ``text`` must already be on one line (see :func:`clean_text`).
    """
    if len(text) > MAX_SUBJECT_CHARS:
        text = clip(text, MAX_SUBJECT_CHARS, at_word=True)
    return _fold(_encode_words(text.split(" "), _plain_text_word), len(name) + 2)


def _fold(tokens: list[str], used: int) -> str:
    lines: list[str] = []
    line = ""
    for token in tokens:
        if line and used + len(line) + 1 + len(token) > 78:
            lines.append(line)
            line, used = token, 1
        else:
            line = f"{line} {token}" if line else token
    lines.append(line)
    return "\n ".join(lines)


# RFC 5322 atext: a display-name word made only of these needs no quoting or encoding.
_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")
_ADDR_SPEC = re.compile(r"^[^\s@<>()\[\]\\,;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def _plain_name_word(word: str) -> bool:
    return _ATOM.match(word) is not None and "=?" not in word


def format_address(name: str, addr: str, *, field: str = "the subscriber's email") -> str:
    """``Name <addr>`` for a To/From header: quoted or RFC 2047-encoded as the name needs.

    What ``email.headerregistry.Address(name, addr_spec=addr)`` stands for (tests parse it
    back with ``headerregistry``), at a fraction of the SMTP policy's cost to fold it. The
    name is cleaned (no control characters, so no header injection) and cut at 200 chars.
    Raises :class:`RenderError` for an address that cannot go into a header.
    """
    if not _ADDR_SPEC.match(addr) or len(addr) > 254:
        raise RenderError(
            f"{addr!r} is not an email address digest can send to (it must be plain ASCII "
            f"like name@example.org); fix {field}"
        )
    name = clean_text(name)[:MAX_NAME_CHARS].rstrip()
    if not name:
        return addr
    words = name.split(" ")
    if all(_plain_name_word(w) for w in words):
        tokens = words
    elif name.isascii() and "=?" not in name:
        tokens = ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    else:
        tokens = _encode_words(words, _plain_name_word)
    return _fold([*tokens, f"<{addr}>"], len("To: "))


# --- templates ----------------------------------------------------------------------------

_JINJA_TAG = re.compile(r"\{%-?\s*(.*?)\s*-?%\}|\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def compile_mjml(source: str, *, name: str = "digest.mjml") -> str:
    """Compile Jinja-templated MJML to Jinja-templated HTML, checking no tag was lost.

    MJML passes text through, so ``{{ }}`` and ``{% %}`` survive in text and in ``<mj-raw>``;
    a block tag placed where MJML drops or copies content would silently break the loops,
    so that is an error naming the tag.
    """
    source = _JINJA_COMMENT.sub("", source)  # MJML rejects text before <mjml>
    try:
        html = mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise RenderError(f"{name}: not valid MJML ({exc}); fix the template") from exc
    before = [m.group(1) for m in _JINJA_TAG.finditer(source) if m.group(1) is not None]
    after = [m.group(1) for m in _JINJA_TAG.finditer(html) if m.group(1) is not None]
    if before != after:
        lost = next(
            (tag for i, tag in enumerate(before) if i >= len(after) or after[i] != tag),
            after[len(before)] if len(after) > len(before) else "",
        )
        raise RenderError(
            f"{name}: MJML dropped, moved or repeated the Jinja tag {{% {lost} %}}; put "
            "block tags that sit between MJML components inside <mj-raw>"
        )
    wanted = {m.group(2) for m in _JINJA_TAG.finditer(source) if m.group(2) is not None}
    kept = {m.group(2) for m in _JINJA_TAG.finditer(html) if m.group(2) is not None}
    if wanted != kept:
        lost = sorted(wanted ^ kept)[0]
        raise RenderError(
            f"{name}: MJML changed or dropped {{{{ {lost} }}}}; use Jinja expressions only "
            "in text and href attributes"
        )
    return break_lines(html)


def break_lines(html: str) -> str:
    """``html`` with line breaks where HTML ignores them: between table rows, after <head>.

    MJML writes the body as one line; SMTP allows at most 998 bytes per line, and short
    lines let the body go out as 8bit text instead of slower, larger quoted-printable.
    """
    return (
        html.replace("</tr>", "</tr>\n")
        .replace("<tbody>", "<tbody>\n")
        .replace("</head>", "</head>\n")
    )


class _TemplateSet:
    """The three templates, each from the admin's folder if it has it, else built in."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = folders
        loader = jinja2.FileSystemLoader([str(f) for f in folders])
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,  # a typo in a template fails loudly
            "auto_reload": False,
        }
        self.html_env = jinja2.Environment(autoescape=True, **common)
        self.text_env = jinja2.Environment(autoescape=False, keep_trailing_newline=True, **common)

    def source(self, name: str, env: jinja2.Environment) -> tuple[str, str]:
        try:
            source, filename, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound as exc:
            where = " or ".join(str(f) for f in self.folders)
            raise RenderError(
                f"template {name} not found in {where}; restore the file, or point "
                "email.templates at a folder that has it"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise RenderError(f"template {name}: cannot read it ({exc})") from exc
        try:
            env.parse(source, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"{filename}:{exc.lineno}: {exc.message}; fix the template") from exc
        return source, filename or name

    def text(self, name: str) -> jinja2.Template:
        return self.text_env.from_string(self.source(name, self.text_env)[0])

    def mjml(self, name: str) -> tuple[str, str]:
        """The raw MJML source and its path."""
        return self.source(name, self.html_env)


def _fill(template: jinja2.Template, name: str, context: dict[str, Any]) -> str:
    try:
        return template.render(context)
    except (jinja2.TemplateError, TypeError, ValueError, LookupError, AttributeError) as exc:
        raise RenderError(f"template {name} failed to render: {exc}; fix the template") from exc


# --- the renderer -------------------------------------------------------------------------


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
        self._email = email
        self._signer = signer
        self._compile_once = compile_mjml_once
        folders: list[Path] = []
        if template_dir is not None:
            if not template_dir.is_dir():
                raise RenderError(
                    f"email.templates: {template_dir} is not a folder; create it, or leave "
                    "email.templates empty to use the built-in templates"
                )
            folders.append(template_dir)
        folders.append(templates_dir())
        templates = _TemplateSet(folders)
        self._html_env = templates.html_env
        mjml_source, mjml_path = templates.mjml("digest.mjml")
        if compile_mjml_once:
            html = compile_mjml(mjml_source, name=mjml_path)
            self._html = self._html_env.from_string(html)
        else:
            # Measurement only (benchmarks/bench_render.py): Jinja fills the MJML, then MJML
            # is compiled for every email.
            self._html = self._html_env.from_string(mjml_source)
        self._text = templates.text("digest.txt")
        self._subject = templates.text("subject.txt")

        sender_name, sender_addr = parseaddr(email.sender)
        self._from = format_address(sender_name, sender_addr, field="email.sender in the config")
        self._domain = sender_addr.rpartition("@")[2].lower()
        self._list_id = f"{PRODUCT} <{clean_text(email.list_id)}>"
        self._mailto = f"mailto:{email.unsubscribe_mailto}?subject=unsubscribe"
        self._base_url = email.base_url
        # A day's subscribers share one pool of candidate papers, so each paper's cleaned
        # title, link, authors and cut abstract are worked out once, not once per subscriber.
        self._paper_text = functools.lru_cache(maxsize=4096)(self._paper_text_uncached)
        self._smoke_test()

    # The public API ---------------------------------------------------------------------

    def render(self, content: DigestContent, *, now: datetime.datetime) -> EmailMessage | None:
        """The digest as a multipart/alternative message, or None for a skipped quiet day.

        Serialise it with ``msg.as_bytes()`` (its own policy: CRLF line ends).
        """
        if not content.picks and content.subscriber.quiet_day != "note":
            return None
        context = self._context(content, now)
        subject = clean_text(_fill(self._subject, "subject.txt", context))
        text = _fill(self._text, "digest.txt", context)
        html = self._render_html(context)
        return self._message(content, now, subject, text, html, context["unsubscribe_url"])

    def render_html(self, content: DigestContent, *, now: datetime.datetime) -> str:
        """The HTML body alone, for previews (also for a quiet day, whatever the setting)."""
        return self._render_html(self._context(content, now))

    def render_text(self, content: DigestContent, *, now: datetime.datetime) -> str:
        """The plain-text body alone."""
        return _fill(self._text, "digest.txt", self._context(content, now))

    def subject(self, content: DigestContent, *, now: datetime.datetime) -> str:
        """The Subject line alone."""
        return clean_text(_fill(self._subject, "subject.txt", self._context(content, now)))

    # Internals --------------------------------------------------------------------------

    def _render_html(self, context: dict[str, Any]) -> str:
        html = _fill(self._html, "digest.mjml", context)
        if self._compile_once:
            return html
        try:
            return break_lines(mjml2html(html, disable_comments=True, fonts={}))
        except ValueError as exc:
            raise RenderError(f"digest.mjml: not valid MJML once filled in ({exc})") from exc

    def _context(self, content: DigestContent, now: datetime.datetime) -> dict[str, Any]:
        email = self._email
        sub = content.subscriber
        day = content.digest_date
        sign = self._signer.sign
        base = self._base_url
        picks: list[PaperView] = []
        for number, (paper, pick) in enumerate(content.picks, start=1):
            more = link_url(base, "more", sign(sub.id, "more", paper.id, issued_at=now))
            less = link_url(base, "less", sign(sub.id, "less", paper.id, issued_at=now))
            picks.append(self._view(paper, pick.reasons, number, day, more, less))
        trending = [
            self._view(paper, (), number, day, with_abstract=False)
            for number, paper in enumerate(content.trending, 1)
        ]

        count = len(picks)
        keywords = [t for t in (clean_text(k.text) for k in content.profile.keywords) if t]
        subject = format_subject(
            email.subject, count=count, topics=top_topics(content.profile.keywords), date=day
        )
        name = clean_text(sub.name)
        papers = "paper" if count == 1 else "papers"
        if picks:
            titles = " · ".join(p.title for p in picks[:PREHEADER_PICKS])
            preheader = clip(f"Today: {titles}", PREHEADER_MAX_CHARS, at_word=True)
        else:
            preheader = _quiet_reason(content)
        lead = f"Hi {name}, here" if name else "Here"
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
            "trending": trending,
            "new_paper_count": content.new_paper_count,
            "below_threshold_count": content.below_threshold_count,
            "quiet_reason": _quiet_reason(content),
            "keywords": ", ".join(keywords[:FOOTER_KEYWORDS]),
            "more_keywords": max(0, len(keywords) - FOOTER_KEYWORDS),
            "preferences_url": link_url(
                base, "preferences", sign(sub.id, "preferences", issued_at=now)
            ),
            "unsubscribe_url": link_url(
                base, "unsubscribe", sign(sub.id, "unsubscribe", issued_at=now)
            ),
            "postal_address": clean_text(email.postal_address),
            "list_id": email.list_id,
        }

    def _view(
        self,
        paper: Paper,
        reasons: tuple[str, ...],
        number: int,
        today: datetime.date,
        more_url: str = "",
        less_url: str = "",
        *,
        with_abstract: bool = True,
    ) -> PaperView:
        title, url, authors, abstract, truncated, date_label = self._paper_text(
            paper, today, with_abstract
        )
        return PaperView(
            number,
            paper.id,
            title,
            url,
            authors,
            abstract,
            truncated,
            tuple(r for r in (clean_text(r) for r in reasons) if r),
            paper.upvotes,
            date_label,
            more_url,
            less_url,
        )

    def _paper_text_uncached(
        self, paper: Paper, today: datetime.date, with_abstract: bool
    ) -> tuple[str, str, str, str, bool, str]:
        abstract, truncated = cut_abstract(paper.abstract) if with_abstract else ("", False)
        return (
            clean_text(paper.title) or "(untitled)",
            paper_link(paper, self._email),
            shorten_authors(paper.authors),
            abstract,
            truncated,
            _date_label(paper.listing_date or paper.first_seen, today),
        )

    def _message(
        self,
        content: DigestContent,
        now: datetime.datetime,
        subject: str,
        text: str,
        html: str,
        unsubscribe_url: str,
    ) -> EmailMessage:
        sub = content.subscriber
        if now.tzinfo is None:
            now = now.replace(tzinfo=datetime.UTC)  # naive means UTC throughout digest
        msg = DigestMessage(policy=POLICY)
        # set_raw stores our already-encoded values as they are: see POLICY.
        msg.set_raw("From", self._from)
        msg.set_raw("To", format_address(sub.name, sub.email))
        msg.set_raw("Subject", encode_header_text(subject))
        msg.set_raw("Date", format_datetime(now))
        msg.set_raw("Message-ID", message_id(sub.id, content.digest_date, self._domain))
        msg.set_raw("List-Id", self._list_id)
        msg.set_raw("List-Unsubscribe", f"<{unsubscribe_url}>,\n <{self._mailto}>")
        msg.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
        msg.set_raw("MIME-Version", "1.0")
        msg.set_raw("Content-Type", _MULTIPART)
        msg.set_payload([_text_part(text, "plain"), _text_part(html, "html")])
        return msg

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
            context = self._context(content, now)
            _fill(self._subject, "subject.txt", context)
            _fill(self._text, "digest.txt", context)
            self._render_html(context)


# A fixed boundary keeps the output reproducible and saves the stdlib's search through the
# bodies: an 8bit body is checked not to contain it, and "=_" never occurs in
# quoted-printable text.
BOUNDARY = "=_digest_alternative"
_MULTIPART = f'multipart/alternative; boundary="{BOUNDARY}"'


MAX_LINE_BYTES = 998  # RFC 5322 section 2.1.1, without the CRLF


def _text_part(body: str, subtype: str) -> MIMEPart:
    # 7bit/8bit when every line fits SMTP's limit (the usual case, see break_lines): readable,
    # no size overhead, and ~15x cheaper than binascii's quoted-printable for a 45 KB body.
    # Quoted-printable otherwise (a pathological title or abstract): the boundary relies on
    # "=_" never occurring in it.
    # Character references make the HTML pure ASCII (7bit): no 8BITMIME needed, and it skips
    # the email package's slow surrogateescape round trip for 8bit bytes.
    html = subtype == "html"
    data = body.encode("ascii", "xmlcharrefreplace") if html else body.encode("utf-8")
    part = MIMEPart(policy=POLICY)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    if max(map(len, data.split(b"\n"))) <= MAX_LINE_BYTES and BOUNDARY.encode() not in data:
        if data.isascii():
            cte, payload = "7bit", data.decode("ascii")
        else:
            # surrogateescape is how the email package carries 8bit bytes in a str payload.
            cte, payload = "8bit", data.decode("ascii", "surrogateescape")
    else:
        cte = "quoted-printable"
        payload = binascii.b2a_qp(data, istext=True).decode("ascii")
    part.set_raw("Content-Transfer-Encoding", cte)
    part.set_payload(payload)
    return part


def _quiet_reason(content: DigestContent) -> str:
    """Why there is nothing today, in one sentence."""
    new, below = content.new_paper_count, content.below_threshold_count
    if new:
        return f"{new} new {'paper' if new == 1 else 'papers'} today, none above your threshold."
    if below:
        recent = "paper" if below == 1 else "papers"
        return f"No new papers today, and none of {below} recent {recent} is above your threshold."
    return "No new papers were listed today."
