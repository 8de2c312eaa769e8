"""The public pages besides the sign-up: the day's papers and each digest in the browser.

- ``/papers/DATE`` (and ``/`` when sign-up is open: the latest day with papers) lists the
  papers first seen that day, most upvoted first, :data:`PAGE_SIZE` a page, with the
  Subscribe form. Cached by the browser (``Cache-Control: private``: the form carries the
  visitor's CSRF token) with an ``ETag``; a bad date is a 400 page, a bad page number 400.
  Only the days from the first stored paper's to today (``schedule.timezone``) exist: any
  other day, and a page past a day's last, is a 404, so crawlers find no endless pages;
  "Previous day" and "Next day" lead to the nearest days with papers within that range.
  Only when ``[web] signup = "open"``; else 404.
- ``/d/TOKEN`` ("view in browser", in every digest email): the HTML part of that digest
  exactly as it was sent, from ``digest_pages``. The token (action ``view``) names the
  subscriber and the digest: a changed or foreign token is 403, a purged subscriber's
  410, a digest not sent (or past its retention) 404. Served with the email's own CSP
  (inline styles, nothing run, no framing).

Owns :func:`page_routes`. May import :mod:`.base` and :mod:`.signup` from the package.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..errors import NotFoundError, TokenError
from ..records import Paper
from ..render import paper_link, shorten_authors
from ..render.content import cut_abstract, display_title, long_date
from .base import WebContext, parse_int, public
from .links import FREQUENCIES
from .signup import HONEYPOT, form_token, form_values, set_form_cookie, signup_open

PAGE_SIZE = 30
MAX_PAGE = 10_000
CACHE_SECONDS = 300
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(raw: str) -> dt.date | None:
    if not _ISO_DAY.match(raw):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def _today(ctx: WebContext) -> dt.date:
    """Today in the instance's time zone (``schedule.timezone``)."""
    return ctx.now().astimezone(ZoneInfo(ctx.config.schedule.timezone)).date()


def _paper_rows(ctx: WebContext, papers: list[Paper]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for paper in papers:
        abstract, _ = cut_abstract(paper.abstract, 300)
        rows.append(
            {
                "title": display_title(paper.title) or "(untitled)",
                "url": paper_link(paper, ctx.config.email),  # http(s) only
                "authors": shorten_authors(paper.authors),
                "abstract": abstract,
                "upvotes": paper.upvotes,
            }
        )
    return rows


def _cached(request: Request, response: Response) -> Response:
    """``response`` with an ETag of its body, or 304 when the browser has it already."""
    tag = '"' + hashlib.sha256(bytes(response.body)).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": f"private, max-age={CACHE_SECONDS}"}
    wanted = request.headers.get("if-none-match", "")
    if tag in [t.strip().removeprefix("W/") for t in wanted.split(",")]:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def day_page(request: Request, ctx: WebContext, form: FormData | None) -> Response:
    """The papers first seen on ``DATE``, with the Subscribe form."""
    if not signup_open(ctx):
        return ctx.error(request, 404, "Not found", "There is no page here.", public=True)
    raw = request.path_params.get("day", "")
    day = _day(raw)
    if day is None:
        return ctx.error(
            request, 400, "Not a date", f"{raw[:40]!r} is not a date (YYYY-MM-DD).", public=True
        )
    return _listing(request, ctx, day)


def _listing(request: Request, ctx: WebContext, day: dt.date) -> Response:
    page = parse_int(request.query_params.get("page", "1"), low=1, high=MAX_PAGE)
    if page is None:
        return ctx.error(
            request,
            400,
            "Bad request",
            f"page must be a whole number from 1 to {MAX_PAGE}",
            public=True,
        )
    store = ctx.store()
    today = _today(ctx)
    days = store.paper_days(day, last=today)
    # Today always exists (the home page shows it before the first ingest); no other day
    # outside the stored range does.
    if day > today or (day != today and (days.first is None or day < days.first)):
        since = f"from {days.first.isoformat()} " if days.first else ""
        return ctx.error(
            request,
            404,
            "No such day",
            f"There is no page for {day.isoformat()}: days with papers go {since}up to today "
            f"({today.isoformat()}).",
            public=True,
        )
    found = store.papers_first_seen_on(day, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
    if page > 1 and not found:
        return ctx.error(
            request,
            404,
            "No such page",
            f"{day.isoformat()} has fewer papers than page {page} would list; start at page 1.",
            public=True,
        )
    token, fresh = form_token(request, ctx)
    response = ctx.page(
        request,
        "papers_day.html",
        day=day,
        day_label=long_date(day),
        papers=_paper_rows(ctx, found[:PAGE_SIZE]),
        first_number=(page - 1) * PAGE_SIZE + 1,
        page=page,
        has_next=len(found) > PAGE_SIZE,
        previous_day=days.previous.isoformat() if days.previous else "",
        next_day=days.next.isoformat() if days.next else "",
        values=form_values(None),
        form_csrf=token,
        frequencies=FREQUENCIES,
        honeypot=HONEYPOT,
    )
    set_form_cookie(response, fresh, ctx)
    return _cached(request, response)


def home(request: Request, ctx: WebContext, form: FormData | None) -> Response:
    """With sign-up open: the latest day's papers and the form; else the admin UI."""
    if not signup_open(ctx):
        return RedirectResponse("/admin", status_code=303)
    today = _today(ctx)
    days = [d for d, _ in ctx.store().papers_per_day(days=30) if d <= today.isoformat()]
    latest = _day(days[0]) if days else None
    return _listing(request, ctx, latest or today)


def view(request: Request, ctx: WebContext, form: FormData | None) -> Response:
    """A sent digest's HTML, exactly as sent (``/d/TOKEN``)."""
    token = request.path_params["token"]
    try:
        claims = ctx.signer.verify(token, "view")
    except TokenError as exc:
        return ctx.error(request, 403, "This link is not valid", str(exc), public=True)
    digest_id = parse_int(claims.paper_id or "")
    if digest_id is None:
        return ctx.error(request, 403, "This link is not valid", "It names no digest.", public=True)
    store = ctx.store()
    try:
        store.subscriber_by_id(claims.subscriber_id)
    except NotFoundError:
        return ctx.error(
            request,
            410,
            "This digest no longer exists",
            "The subscriber it was sent to has been removed, and their digests with them.",
            public=True,
        )
    if store.digest_owner(digest_id) != claims.subscriber_id:
        # Unreachable with our own signature unless the rows were changed by hand.
        return ctx.error(request, 403, "This link is not valid", "It is not yours.", public=True)
    found = store.digest_page(digest_id)
    if found is None or found.status != "sent":
        return ctx.error(
            request,
            404,
            "This digest is not available",
            "It was not sent, or it is older than digest keeps copies for.",
            public=True,
        )
    # The stored bytes as they are: the page is the email's HTML part, byte for byte.
    return Response(found.html, media_type="text/html; charset=utf-8")


def page_routes() -> list[Route]:
    """``/``, ``/papers/DATE`` and ``/d/TOKEN``."""
    return [
        Route("/", public(home), methods=["GET"]),
        Route("/papers/{day}", public(day_page), methods=["GET"]),
        Route("/d/{token}", public(view), methods=["GET"]),
    ]
