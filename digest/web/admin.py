"""The admin pages of ``digest serve``: sign-in, dashboard, subscribers, the interest
profile editor with its live preview, papers and listings.

Every page but the sign-in needs the admin session; every POST carries the session's CSRF
token (see :func:`digest.web.base.admin`). Profile changes go through
:func:`digest.subscriptions.save_entries` as ``web:admin``, so they land in the profile history.

Owns the admin routes (:func:`admin_routes`). May import :mod:`.auth`, :mod:`.base` and
:mod:`.links` (its frequency choices) from the package.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..compose import compose
from ..errors import NotFoundError, StoreError, SubscriberError
from ..profiles import SubscriberEntry, entry_from_mapping, profile_from_entry
from ..records import SUBSCRIBER_STATUSES, Paper, Pick, Subscriber
from ..render import safe_http_url
from ..store import Store
from ..subscriptions import entry_for, resolve_paper_refs, save_entries, unsubscribe_choice
from ..text import plural
from .auth import CSRF_FIELD, new_csrf_token, same_token
from .base import (
    MAX_INT,
    Form,
    WebContext,
    admin,
    is_admin,
    line_field,
    parse_int,
    path_int,
    public,
    redirect,
    text_field,
)
from .library_upload import library_upload
from .links import FREQUENCIES

WHO = "web:admin"
PAGE_SIZE = 50
# The last page whose offset SQLite can still take.
MAX_PAGE = MAX_INT // PAGE_SIZE
STATUS_ACTIONS = {"pause": "paused", "resume": "active", "unsubscribe": "unsubscribed"}
# The editor's form fields, all text as the browser sends them.
EDITOR_FIELDS = (
    "name",
    "frequency",
    "timezone",
    "max_papers",
    "min_score",
    "quiet_day",
    "keywords",
    "exclude",
    "liked",
    "disliked",
    "description",
    "preview_date",
    "authors",
    "categories",
    "exclude_categories",
)
# The editor's fields of one item per line.
_LIST_FIELDS = ("keywords", "exclude", "liked", "disliked")
_FOLLOW_FIELDS = ("authors", "categories", "exclude_categories")


# --- sign-in --------------------------------------------------------------------------------


def _next_url(value: str) -> str:
    # Only our own admin pages: a crafted ?next= must not send the admin elsewhere.
    ok = value.startswith("/admin") and not value.startswith("//") and "\\" not in value
    return value if ok else "/admin"


def _login_page(
    request: Request, ctx: WebContext, *, error: str, status: int = 200, retry: int = 0
) -> Response:
    headers = {"Retry-After": str(retry)} if retry else None
    next_url = _next_url(request.query_params.get("next", "") or "")
    return ctx.page(
        request, "login.html", status=status, headers=headers, error=error, next_url=next_url
    )


def login(request: Request, ctx: WebContext, form: Form) -> Response:
    """GET: the sign-in form. POST: check the password, rate-limited per client address."""
    if form is None:
        if is_admin(request):
            return redirect("/admin")
        request.session.setdefault("csrf", new_csrf_token())
        return _login_page(request, ctx, error="")
    if not same_token(request.session.get("csrf"), text_field(form, CSRF_FIELD)):
        request.session.setdefault("csrf", new_csrf_token())
        return _login_page(
            request, ctx, status=403, error="The form expired; enter the password again."
        )
    client = request.client.host if request.client else "unknown"
    now = ctx.now()
    wait = ctx.limiter.retry_after(client, now)
    if wait is not None:
        message = f"Too many failed sign-ins; try again in {wait} seconds."
        return _login_page(request, ctx, error=message, status=429, retry=wait)
    if not ctx.admin_password.check(text_field(form, "password")):
        ctx.limiter.failed(client, now)
        return _login_page(request, ctx, error="Wrong password.", status=401)
    ctx.limiter.succeeded(client)
    # A fresh session and token on sign-in, so a token planted before it is worthless.
    request.session.clear()
    request.session.update({"admin": True, "csrf": new_csrf_token()})
    return redirect(_next_url(text_field(form, "next")))


def logout(request: Request, ctx: WebContext, form: Form) -> Response:
    request.session.clear()
    return redirect("/login")


# --- dashboard ------------------------------------------------------------------------------


def dashboard(request: Request, ctx: WebContext, form: Form) -> Response:
    """The last runs, papers per day, subscribers by status."""
    from ..run import recorded_runs
    from ..schedule import build_trigger, next_fire_time

    store = ctx.store()
    per_day = store.papers_per_day(days=14)
    counts = store.subscriber_status_counts()
    upcoming = next_fire_time(build_trigger(ctx.config.schedule), ctx.now())
    return ctx.page(
        request,
        "dashboard.html",
        runs=recorded_runs(store, ctx.config.store.database, limit=10),
        per_day=per_day,
        per_day_max=max((n for _, n in per_day), default=0),
        statuses=[(s, counts.get(s, 0)) for s in SUBSCRIBER_STATUSES],
        subscriber_total=sum(counts.values()),
        paper_total=store.paper_count(),
        failed_listings=len(store.listings(status="failed")),
        next_run=upcoming.strftime("%a %d %b %Y, %H:%M %Z") if upcoming else "never",
        cron=ctx.config.schedule.cron,
    )


# --- subscribers ----------------------------------------------------------------------------


def subscribers(request: Request, ctx: WebContext, form: Form) -> Response:
    """The list, with search and a status filter."""
    query = request.query_params.get("q", "").strip()
    status = request.query_params.get("status", "")
    status = status if status in SUBSCRIBER_STATUSES else ""
    store = ctx.store()
    found = store.subscribers(status=status or None, search=query or None)
    return ctx.page(
        request,
        "subscribers.html",
        subscribers=found,
        last_digest=store.last_digest_dates(),
        query=query,
        status_filter=status,
        statuses=SUBSCRIBER_STATUSES,
        notice=request.query_params.get("notice", ""),
    )


def new_subscriber(request: Request, ctx: WebContext, form: Form) -> Response:
    """GET: the form. POST: create the subscriber and open the profile editor."""
    values = {k: text_field(form, k) for k in ("email", "name", "keywords", "description")}
    if form is None:
        return ctx.page(request, "subscriber_new.html", values=values, error="")
    store = ctx.store()
    try:
        entry = entry_from_mapping(
            {
                "email": values["email"],
                "name": values["name"],
                "keywords": line_field(form, "keywords"),
                "description": values["description"],
            },
            where="new subscriber",
        )
        _must_be_new(store, entry.email)
        with ctx.writing():
            ((sub, _),) = save_entries(store, [entry], who=WHO, now=ctx.now())
    except SubscriberError as exc:
        return ctx.page(request, "subscriber_new.html", status=422, values=values, error=str(exc))
    return redirect(f"/admin/subscribers/{sub.id}?notice=added")


def _must_be_new(store: Store, email: str) -> None:
    try:
        store.subscriber(email)
    except NotFoundError:
        return
    raise SubscriberError(f"{email} is already a subscriber; open it from the list to edit it")


def _subscriber(request: Request, ctx: WebContext) -> Subscriber:
    return ctx.store().subscriber_by_id(path_int(request, "sub_id"))


def _values_from_entry(entry: SubscriberEntry, day: dt.date) -> dict[str, str]:
    return {
        "name": entry.name,
        "frequency": entry.frequency,
        "timezone": entry.timezone,
        "max_papers": str(entry.max_papers),
        "min_score": "" if entry.min_score is None else repr(entry.min_score),
        "quiet_day": entry.quiet_day,
        "keywords": "\n".join(str(k) for k in entry.keywords),
        "exclude": "\n".join(entry.exclude),
        "liked": "\n".join(entry.liked),
        "disliked": "\n".join(entry.disliked),
        "description": entry.description,
        "preview_date": day.isoformat(),
        **{key: "\n".join(getattr(entry, key)) for key in _FOLLOW_FIELDS},
    }


def _entry_from_form(email: str, form: Form) -> SubscriberEntry:
    """The edited subscriber; status is left out (it has its own buttons)."""
    max_papers = text_field(form, "max_papers").strip()
    min_score = text_field(form, "min_score").strip()
    count = parse_int(max_papers)
    try:
        # An empty threshold means the config's default again, so it is saved as None.
        threshold = float(min_score) if min_score else None
    except ValueError:
        count = None
    if count is None:
        raise SubscriberError(
            "papers per email must be a whole number and the threshold a number "
            f"(got {max_papers!r} and {min_score!r})"
        )
    data: dict[str, Any] = {"email": email, "max_papers": count, "min_score": threshold}
    for key in ("name", "frequency", "timezone", "quiet_day", "description"):
        data[key] = text_field(form, key)
    for key in (*_LIST_FIELDS, *_FOLLOW_FIELDS):
        data[key] = line_field(form, key)
    return entry_from_mapping(data, where="profile")


@dataclass(frozen=True)
class PreviewResult:
    """What the editor shows of the next digest with a (possibly unsaved) profile."""

    day: dt.date
    picks: tuple[tuple[Paper, Pick], ...]
    candidates: int
    liked: tuple[Paper, ...]
    disliked: tuple[Paper, ...]
    html: str

    quiet_day: str = "skip"  # the (possibly unsaved) setting the preview was made with

    @property
    def summary(self) -> str:
        return (
            f"{plural(len(self.picks), 'pick')} from "
            f"{plural(self.candidates, 'candidate paper')} for {self.day.isoformat()}"
        )

    @property
    def quiet_summary(self) -> str:
        """What happens on a day with no picks, as the run would do it (and the preview shows)."""
        what = "a short note is sent that day" if self.quiet_day == "note" else "no email that day"
        return (
            f"Nothing above the threshold among {plural(self.candidates, 'candidate paper')}: "
            f"{what}."
        )


# What an unknown liked/disliked paper in the editor tells the admin to do.
EDITOR_HINT = "find it with the paper search and add it from the results"


def build_preview(
    ctx: WebContext, sub: Subscriber, entry: SubscriberEntry, day: dt.date
) -> PreviewResult:
    """Rank and render ``sub``'s digest for ``day`` as if ``entry`` were saved."""
    store = ctx.store()
    liked = resolve_paper_refs(store, entry.liked, label="liked", hint=EDITOR_HINT)
    disliked = resolve_paper_refs(store, entry.disliked, label="disliked", hint=EDITOR_HINT)
    profile = profile_from_entry(entry, liked, disliked)
    edited = dataclasses.replace(
        sub,
        name=entry.name,
        frequency=entry.frequency,
        timezone=entry.timezone,
        max_papers=entry.max_papers,
        min_score=entry.min_score,
        quiet_day=entry.quiet_day,
    )
    composed = compose(store, ctx.config, [edited], day, profiles={sub.id: profile})
    content = composed.content(sub.id)
    rated = store.papers_by_id([*liked, *disliked])
    return PreviewResult(
        day=day,
        picks=content.picks,
        candidates=composed.candidates,
        liked=tuple(rated[p] for p in liked),
        disliked=tuple(rated[p] for p in disliked),
        html=ctx.renderer.render_html(content, now=ctx.now()),
        quiet_day=edited.quiet_day,
    )


def _preview_day(ctx: WebContext, form: Form) -> dt.date:
    raw = text_field(form, "preview_date").strip()
    if not raw:
        return ctx.now().date()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise SubscriberError(f"preview date {raw!r} is not a date (YYYY-MM-DD)") from exc


def _editor_page(
    request: Request,
    ctx: WebContext,
    sub: Subscriber,
    values: dict[str, str],
    preview: PreviewResult | None,
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    return ctx.page(
        request,
        "subscriber.html",
        status=status,
        sub=sub,
        values=values,
        preview=preview,
        frame_url=f"/admin/preview/{ctx.previews.put(preview.html)}" if preview else "",
        error=error,
        notice=request.query_params.get("notice", ""),
        frequencies=FREQUENCIES,
        feedback=ctx.store().subscriber_feedback(sub.id, limit=10),
    )


def editor(request: Request, ctx: WebContext, form: Form) -> Response:
    """GET: the subscriber and profile editor with a preview. POST: save (into the history)."""
    sub = _subscriber(request, ctx)
    store = ctx.store()
    if form is None:
        entry = entry_for(store, sub)
        day = ctx.now().date()
        values = _values_from_entry(entry, day)
        try:
            result = build_preview(ctx, sub, entry, day)
        except SubscriberError as exc:  # e.g. a liked paper that was deleted since
            return _editor_page(request, ctx, sub, values, None, error=str(exc))
        return _editor_page(request, ctx, sub, values, result)
    values = {k: text_field(form, k) for k in EDITOR_FIELDS}
    try:
        entry = _entry_from_form(sub.email, form)
        with ctx.writing():
            save_entries(store, [entry], who=WHO, now=ctx.now())
    except SubscriberError as exc:
        return _editor_page(request, ctx, sub, values, None, error=str(exc), status=422)
    return redirect(f"/admin/subscribers/{sub.id}?notice=saved")


def preview(request: Request, ctx: WebContext, form: Form) -> Response:
    """The editor's live preview of the unsaved form, as JSON with HTML fragments."""
    sub = _subscriber(request, ctx)
    try:
        result = build_preview(ctx, sub, _entry_from_form(sub.email, form), _preview_day(ctx, form))
    except SubscriberError as exc:
        return JSONResponse({"ok": False, "error": str(exc)}, status_code=422)
    return JSONResponse(
        {
            "ok": True,
            "summary": result.summary,
            "picks_html": ctx.render("_picks.html", preview=result),
            "rated_html": ctx.render("_rated.html", preview=result),
            "frame_url": f"/admin/preview/{ctx.previews.put(result.html)}",
        }
    )


def preview_frame(request: Request, ctx: WebContext, form: Form) -> Response:
    """A rendered preview email, for the editor's iframe (its own CSP: see digest.web.app)."""
    html = ctx.previews.get(request.path_params["key"])
    if html is None:
        return ctx.error(request, 404, "Preview expired", "Edit the profile to render it again.")
    return HTMLResponse(html)


def set_status(request: Request, ctx: WebContext, form: Form) -> Response:
    """Pause, resume or unsubscribe."""
    sub = _subscriber(request, ctx)
    action = text_field(form, "action")
    if action not in STATUS_ACTIONS:
        return ctx.error(request, 400, "Unknown action", f"{action!r} is not a status change.")
    if action == "resume" and text_field(form, "confirm") != "yes":
        # An unsubscribe is the person's choice: undoing it takes a second, explicit step.
        choice = unsubscribe_choice(ctx.store(), sub)
        if choice:
            return ctx.page(request, "resume.html", sub=sub, choice=choice)
    with ctx.writing() as store:
        store.set_status_by_id(sub.id, STATUS_ACTIONS[action], now=ctx.now(), by=WHO)
    return redirect(f"/admin/subscribers/{sub.id}?notice={STATUS_ACTIONS[action]}")


def purge(request: Request, ctx: WebContext, form: Form) -> Response:
    """GET: the confirmation. POST: delete the subscriber and everything about them."""
    sub = _subscriber(request, ctx)
    if form is None:
        return ctx.page(request, "purge.html", sub=sub, error="")
    if text_field(form, "confirm_email").strip().lower() != sub.email.lower():
        error = f"Type {sub.email} to confirm; nothing was deleted."
        return ctx.page(request, "purge.html", status=422, sub=sub, error=error)
    with ctx.writing() as store:
        store.remove_subscriber(sub.email, purge=True, now=ctx.now())
    return redirect("/admin/subscribers?notice=purged")


def history(request: Request, ctx: WebContext, form: Form) -> Response:
    """Every change to the profile, newest first, each restorable."""
    sub = _subscriber(request, ctx)
    changes = ctx.store().profile_history(sub.id)
    return ctx.page(request, "history.html", sub=sub, changes=changes)


def restore(request: Request, ctx: WebContext, form: Form) -> Response:
    sub = _subscriber(request, ctx)
    version = path_int(request, "version")
    with ctx.writing() as store:
        store.restore_profile(sub.id, version, who=WHO, now=ctx.now())
    return redirect(f"/admin/subscribers/{sub.id}?notice=restored")


# --- papers and listings --------------------------------------------------------------------


def _search(store: Store, query: str, limit: int) -> tuple[list[Paper], str]:
    try:
        return store.search_papers(query, limit=limit), ""
    except StoreError as exc:
        return [], str(exc)


def papers(request: Request, ctx: WebContext, form: Form) -> Response:
    """Browse newest first, or full-text search."""
    store = ctx.store()
    query = request.query_params.get("q", "").strip()
    page = parse_int(request.query_params.get("page", "1"), low=1, high=MAX_PAGE)
    if page is None:
        return ctx.error(
            request, 400, "Bad request", f"page must be a whole number from 1 to {MAX_PAGE}"
        )
    error = ""
    if query:
        found, error = _search(store, query, PAGE_SIZE)
        has_next = False
    else:
        found = store.paper_page(offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
        has_next = len(found) > PAGE_SIZE
        found = found[:PAGE_SIZE]
    return ctx.page(
        request,
        "papers.html",
        papers=found,
        activity=store.paper_activity(p.id for p in found),
        query=query,
        page=page,
        has_next=has_next,
        error=error,
    )


def paper_search(request: Request, ctx: WebContext, form: Form) -> Response:
    """Search results as a fragment, for the editor's "add a paper" box."""
    query = request.query_params.get("q", "").strip()
    found, error = _search(ctx.store(), query, 10) if query else ([], "")
    return HTMLResponse(ctx.render("_paper_results.html", papers=found, query=query, error=error))


def paper(request: Request, ctx: WebContext, form: Form) -> Response:
    """One paper: where it was listed, who was sent it, what feedback it got."""
    store = ctx.store()
    found = store.paper(request.path_params["paper_id"])
    return ctx.page(
        request,
        "paper.html",
        paper=found,
        paper_url=safe_http_url(found.url),  # a listing's "javascript:" URL stays text
        reference=store.paper_activity([found.id])[found.id].reference,
        listings=store.paper_listings(found.id),
        sends=store.paper_sends(found.id),
        feedback=store.paper_feedback(found.id),
    )


def listings(request: Request, ctx: WebContext, form: Form) -> Response:
    """What was ingested when, and the files that failed with their errors."""
    status = request.query_params.get("status", "")
    status = status if status in ("ingested", "failed") else ""
    return ctx.page(
        request,
        "listings.html",
        listings=ctx.store().listings(status=status or None, limit=500),
        status_filter=status,
    )


def admin_routes() -> list[Route]:
    """The sign-in and every admin page."""
    get, post, both = ["GET"], ["POST"], ["GET", "POST"]
    sub = "/admin/subscribers/{sub_id}"  # ids are parsed by path_int: 404, not 500
    return [
        Route("/login", public(login), methods=both),
        Route("/logout", admin(logout), methods=post),
        Route("/admin", admin(dashboard), methods=get),
        Route("/admin/subscribers", admin(subscribers), methods=get),
        Route("/admin/subscribers/new", admin(new_subscriber), methods=both),
        Route(sub, admin(editor), methods=both),
        Route(f"{sub}/preview", admin(preview), methods=post),
        Route(f"{sub}/status", admin(set_status), methods=post),
        Route(f"{sub}/purge", admin(purge), methods=both),
        Route(f"{sub}/history", admin(history), methods=get),
        Route(f"{sub}/library", admin(library_upload), methods=post),
        Route(f"{sub}/history/{{version}}/restore", admin(restore), methods=post),
        Route("/admin/preview/{key}", admin(preview_frame), methods=get),
        Route("/admin/papers", admin(papers), methods=get),
        Route("/admin/papers/search", admin(paper_search), methods=get),
        Route("/admin/papers/{paper_id:path}", admin(paper), methods=get),
        Route("/admin/listings", admin(listings), methods=get),
    ]
