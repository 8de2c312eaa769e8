"""The public sign-up, with double opt-in: ``/subscribe`` and ``/confirm/TOKEN``.

Open only when ``[web] signup = "open"`` (else these routes are 404; a confirmation link
from before the sign-up closed says so). A visitor gives an
address, an optional name, topics to follow and a frequency; the page then always says
"check your inbox", whatever happened, so the form never tells who is subscribed:

- a new address (or one that unsubscribed or bounced) gets a confirmation email whose
  signed link (action ``confirm``, naming the pending sign-up) works for 48 hours; the
  sign-up waits in ``signups`` for 7 days at most;
- an address that is already subscribed gets an email with a link to its preferences, and
  no second subscriber is made.

The link's GET shows one button; only the POST confirms (mail scanners fetch links, and
confirm nothing). Confirmed, the subscriber is active with the form's profile, and the page
shows a preview of the next digest and a link to the preferences.

Abuse limits, counted in the database (so they hold across ``--workers``): at most
:data:`CLIENT_LIMIT` posts per client address an hour (then 429; the address is the
socket's unless it is one of ``web.trusted_proxies``), at most :data:`EMAILS_PER_ADDRESS`
sign-up emails to one address a day (more send nothing, and show the same page); a hidden
honeypot field (filled: nothing sent, same page); a CSRF token bound to a ``SameSite=Lax``
cookie (a form posted from another site carries no cookie); bodies over
:data:`MAX_SIGNUP_BODY` bytes refused; names and addresses with control characters refused
before they come near a header.

Owns the sign-up routes (:func:`signup_routes`) and the admin's list of pending sign-ups.
May import :mod:`.auth`, :mod:`.base` and :mod:`.links` from the package.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..compose import compose
from ..errors import DigestError, NotFoundError, SubscriberError, TokenError
from ..profiles import check_text, entry_from_mapping, normalize_email, parse_keyword
from ..records import Subscriber
from ..render import NoticeRenderer
from ..store import Signup, Store
from ..subscriptions import save_entries
from ..tokens import link_url
from ..transports import OutgoingMessage, make_transport
from .auth import link_csrf, same_token
from .base import WebContext, admin, context_of, text_field
from .links import FREQUENCIES

HOUR = 3600
CONFIRM_HOURS = 48  # how long a confirmation link works
PENDING_DAYS = 7  # how long an unconfirmed sign-up is kept
EMAILS_PER_ADDRESS = 3  # sign-up emails to one address per day
CLIENT_LIMIT = 10  # sign-up posts per client address per hour
MAX_SIGNUP_BODY = 8 * 1024  # bytes: the form is a few hundred
MAX_KEYWORDS = 20
MAX_NAME_CHARS = 100
HONEYPOT = "website"  # hidden from people by the stylesheet; bots fill it in
FORM_COOKIE = "digest_form"
WHO = "web:signup"

log = logging.getLogger(__name__)


class _Refused(Exception):
    """A request to answer with an error page instead."""

    def __init__(self, status: int, title: str, message: str, retry: int = 0) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.retry = status, title, message, retry


def signup_open(ctx: WebContext) -> bool:
    return ctx.config.web.signup == "open"


def client_of(request: Request) -> str:
    """The client's address: the socket's, or a trusted proxy's ``X-Forwarded-For`` (uvicorn
    rewrites ``request.client`` only for ``web.trusted_proxies``)."""
    return request.client.host if request.client else "unknown"


# --- the form's CSRF token --------------------------------------------------------------------


def form_token(request: Request, ctx: WebContext) -> tuple[str, str | None]:
    """The sign-up form's CSRF token, and a new cookie value to set (None: keep the one sent).

    The token is an HMAC of a random cookie (``SameSite=Lax``: sent on a visit from another
    site, never with a POST from one), so a form posted cross-site cannot match.
    """
    cookie = request.cookies.get(FORM_COOKIE, "")
    fresh = None
    if not (20 <= len(cookie) <= 64 and cookie.isascii()):
        cookie = fresh = secrets.token_urlsafe(24)
    return link_csrf(_form_key(ctx), cookie), fresh


def _form_key(ctx: WebContext) -> bytes:
    # Its own key, so a form token is never a subscriber link's form token.
    return hmac.digest(ctx.link_csrf_key, b"digest.web.signup-form", "sha256")


def set_form_cookie(response: Response, value: str | None, ctx: WebContext) -> None:
    if value is not None:
        response.set_cookie(
            FORM_COOKIE,
            value,
            httponly=True,
            samesite="lax",
            secure=ctx.config.email.base_url.startswith("https://"),
            path="/",
        )


def _form_token_ok(request: Request, ctx: WebContext, form: FormData) -> bool:
    cookie = request.cookies.get(FORM_COOKIE, "")
    if not cookie:
        return False
    return same_token(link_csrf(_form_key(ctx), cookie), text_field(form, "csrf"))


async def small_form(request: Request, limit: int = MAX_SIGNUP_BODY) -> FormData:
    """The urlencoded form of a public POST, refused past ``limit`` bytes (413)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _Refused(413, "Request too large", f"a form is at most {limit} bytes")
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type not in ("", "application/x-www-form-urlencoded"):
        raise _Refused(415, "Form not understood", "send the form as the page does")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Refused(413, "Request too large", f"a form is at most {limit} bytes")
    pairs = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    fields: list[tuple[str, str | UploadFile]] = [*pairs]
    return FormData(fields)


# --- the form -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignupForm:
    """The sign-up form, checked: a valid address, a clean name, topics, a frequency."""

    email: str
    name: str
    keywords: tuple[str, ...]
    frequency: str


def form_values(form: FormData | None) -> dict[str, str]:
    """The form's fields as typed, to fill the form again."""
    return {k: text_field(form, k) for k in ("email", "name", "keywords", "frequency")}


def check_form(values: dict[str, str]) -> SignupForm:
    """Raises :class:`SubscriberError` naming the field to fix."""
    raw_email = values["email"]
    if any(c in raw_email for c in "\r\n"):  # a header injection attempt: say nothing more
        raise SubscriberError("the email address must be on one line")
    email = normalize_email(raw_email)  # plain ASCII only (see normalize_email)
    if any(c in values["name"] for c in "\r\n"):
        raise SubscriberError("the name must be on one line")
    name = check_text(values["name"].strip(), "name")
    if len(name) > MAX_NAME_CHARS:
        raise SubscriberError(f"the name is longer than {MAX_NAME_CHARS} characters")
    lines = [line.strip() for line in values["keywords"].replace(",", "\n").splitlines()]
    keywords = [line for line in lines if line]
    if not keywords:
        raise SubscriberError("give at least one topic to follow, such as “program synthesis”")
    if len(keywords) > MAX_KEYWORDS:
        raise SubscriberError(f"give at most {MAX_KEYWORDS} topics")
    for keyword in keywords:
        parse_keyword(keyword)  # raises, naming the bad one
    frequency = values["frequency"] or "daily"
    if frequency not in FREQUENCIES:
        raise SubscriberError(f"frequency {frequency!r} is not one of the choices")
    return SignupForm(email, name, tuple(keywords), frequency)


def _page(
    request: Request,
    ctx: WebContext,
    *,
    values: dict[str, str],
    error: str = "",
    status: int = 200,
) -> Response:
    token, fresh = form_token(request, ctx)
    response = ctx.page(
        request,
        "subscribe.html",
        status=status,
        values=values,
        error=error,
        form_csrf=token,
        frequencies=FREQUENCIES,
        honeypot=HONEYPOT,
    )
    set_form_cookie(response, fresh, ctx)
    return response


def _check_inbox(request: Request, ctx: WebContext) -> Response:
    return ctx.page(request, "subscribe_sent.html")


def _refused(request: Request, ctx: WebContext, exc: _Refused) -> Response:
    response = ctx.error(request, exc.status, exc.title, exc.message, public=True)
    if exc.retry:
        response.headers["Retry-After"] = str(exc.retry)
    return response


async def subscribe(request: Request) -> Response:
    """GET: the form. POST: check it, maybe send one email, and say "check your inbox"."""
    ctx = context_of(request)
    if not signup_open(ctx):
        return ctx.error(request, 404, "Not found", "There is no page here.", public=True)
    if request.method == "GET":
        return _page(request, ctx, values=form_values(None))
    try:
        form = await small_form(request)
        if not _form_token_ok(request, ctx, form):
            raise _Refused(
                403,
                "Form expired",
                "This form's security token does not match, so nothing was sent. Reload the "
                "page and try again.",
            )
        return await run_in_threadpool(_submit, request, ctx, form)
    except _Refused as exc:
        return _refused(request, ctx, exc)


def _submit(request: Request, ctx: WebContext, form: FormData) -> Response:
    now = ctx.now()
    client = client_of(request)
    with ctx.writing() as store, store.transaction():
        recent = store.signup_attempts(client, now - dt.timedelta(seconds=HOUR))
        if len(recent) >= CLIENT_LIMIT:
            wait = int((recent[-CLIENT_LIMIT] + dt.timedelta(seconds=HOUR) - now).total_seconds())
            raise _Refused(
                429,
                "Too many sign-ups",
                f"Too many sign-ups from your address; try again in {max(1, wait)} seconds.",
                retry=max(1, wait),
            )
        attempt = store.add_signup_attempt(client, now, email=None)
    values = form_values(form)
    if text_field(form, HONEYPOT):
        return _check_inbox(request, ctx)  # a bot: nothing is sent, and it cannot tell
    try:
        checked = check_form(values)
    except SubscriberError as exc:
        return _page(request, ctx, values=values, error=str(exc), status=422)
    notice = _reserve(ctx, checked, client, attempt, now)
    if notice is not None:
        _send(ctx, notice, now, attempt)
    return _check_inbox(request, ctx)


@dataclass(frozen=True)
class _Notice:
    kind: str  # "confirm" or "known"
    email: str
    name: str
    link: str


def _reserve(
    ctx: WebContext, form: SignupForm, client: str, attempt: int, now: dt.datetime
) -> _Notice | None:
    """Decide, in one transaction, what email (if any) goes to ``form.email``, and count
    it against the address's daily limit before it is sent."""
    with ctx.writing() as store, store.transaction():
        store.purge_signups(now, attempts_before=now - dt.timedelta(days=2))
        if store.signup_emails_sent(form.email, now - dt.timedelta(days=1)) >= EMAILS_PER_ADDRESS:
            return None
        store.mark_signup_email(attempt, form.email)
        try:
            sub: Subscriber | None = store.subscriber(form.email)
        except NotFoundError:
            sub = None
        if sub is not None and sub.status in ("active", "paused"):
            token = ctx.signer.sign(sub.id, "preferences", issued_at=now)
            link = link_url(ctx.config.email.base_url, "preferences", token)
            return _Notice("known", sub.email, sub.name, link)
        signup = store.add_signup(
            email=form.email,
            name=form.name,
            keywords=form.keywords,
            frequency=form.frequency,
            client=client,
            now=now,
            expires_at=now + dt.timedelta(days=PENDING_DAYS),
        )
        token = ctx.signer.sign(signup.id, "confirm", issued_at=now)
        link = link_url(ctx.config.email.base_url, "confirm", token)
        return _Notice("confirm", form.email, form.name, link)


def _send(ctx: WebContext, notice: _Notice, now: dt.datetime, attempt: int) -> None:
    """Send one sign-up email through the configured transport; a failure is logged by the
    caller's page staying the same (the visitor can try again later)."""
    renderer = NoticeRenderer(ctx.config.email, template_dir=ctx.config.email.templates)
    message = renderer.render(
        notice.kind,
        to_email=notice.email,
        to_name=notice.name,
        link=notice.link,
        hours=CONFIRM_HOURS,
        now=now,
    )
    transport = make_transport(ctx.config)
    try:
        transport.send(
            OutgoingMessage(
                message.as_bytes(),
                ctx.config.email.sender,
                notice.email,
                now.date(),
                label=f"signup-{attempt}",
            )
        )
    except DigestError as exc:
        # The page says "check your inbox" either way; the admin sees why in the log.
        log.error("sign-up email to %s not sent: %s", notice.email, exc)
    finally:
        transport.close()


# --- the confirmation link ------------------------------------------------------------------


def _confirm_claims(ctx: WebContext, token: str) -> int:
    """The pending sign-up's id the token names; 403 unless we signed it for ``confirm``,
    410 once it is older than :data:`CONFIRM_HOURS`."""
    try:
        claims = ctx.signer.verify(token, "confirm")
    except TokenError as exc:
        raise _Refused(403, "This link is not valid", str(exc)) from exc
    if ctx.now().timestamp() - claims.issued_at > CONFIRM_HOURS * HOUR:
        raise _Refused(
            410,
            "This link has expired",
            f"Confirmation links work for {CONFIRM_HOURS} hours; sign up again to get a new one.",
        )
    return claims.subscriber_id


def _gone() -> _Refused:
    return _Refused(
        410,
        "This link no longer confirms anything",
        "It was used already, replaced by a newer sign-up, or the sign-up expired. Sign up "
        "again if you still want the digest.",
    )


async def confirm(request: Request) -> Response:
    """GET: one button. POST (with the link's form token): the subscription starts."""
    ctx = context_of(request)
    token = request.path_params["token"]
    try:
        if not signup_open(ctx):
            # A link mailed while sign-up was open: say why it no longer works.
            raise _Refused(
                404,
                "Sign-ups are closed",
                "Sign-ups are closed on this instance, so this link confirms nothing. If you "
                "still want the digest, ask the instance's admin to add you.",
            )
        signup_id = _confirm_claims(ctx, token)
        if request.method == "GET":
            signup = await run_in_threadpool(lambda: ctx.store().signup(signup_id, ctx.now()))
            if signup is None:
                raise _gone()
            return ctx.page(
                request,
                "confirm.html",
                signup=signup,
                done=False,
                token=token,
                form_csrf=link_csrf(ctx.link_csrf_key, token),
            )
        form = await small_form(request)
        if not same_token(link_csrf(ctx.link_csrf_key, token), text_field(form, "csrf")):
            raise _Refused(
                403,
                "Form expired",
                "This form does not belong to this link, so nothing was changed. Open the "
                "link from the email again.",
            )
        return await run_in_threadpool(_confirmed, request, ctx, signup_id)
    except _Refused as exc:
        return _refused(request, ctx, exc)


def _confirmed(request: Request, ctx: WebContext, signup_id: int) -> Response:
    now = ctx.now()
    with ctx.writing() as store, store.transaction():
        signup = store.signup(signup_id, now)
        if signup is None:
            raise _gone()
        sub = _activate(store, signup, now)
        store.delete_signup(signup.id)
    try:
        preview, candidates = _preview(ctx, sub)
    except DigestError as exc:  # the subscription stands; only its preview is missing
        log.error("preview for %s failed: %s", sub.email, exc)
        preview, candidates = [], 0
    token = ctx.signer.sign(sub.id, "preferences", issued_at=now)
    return ctx.page(
        request,
        "confirm.html",
        signup=signup,
        done=True,
        sub=sub,
        picks=preview,
        candidates=candidates,
        preferences_url=link_url("", "preferences", token),
    )


def _activate(store: Store, signup: Signup, now: dt.datetime) -> Subscriber:
    """The sign-up's subscriber, active with its profile (a new one, or one who had
    unsubscribed or bounced and now confirmed again)."""
    try:
        existing: Subscriber | None = store.subscriber(signup.email)
    except NotFoundError:
        existing = None
    if existing is not None and existing.status in ("active", "paused"):
        return existing  # subscribed meanwhile (an admin, another link): nothing to change
    entry = entry_from_mapping(
        {
            "email": signup.email,
            "name": signup.name,
            "keywords": list(signup.keywords),
            "frequency": signup.frequency,
        },
        where="sign-up",
    )
    ((sub, _),) = save_entries(store, [entry], who=WHO, now=now)
    store.set_status_by_id(sub.id, "active", now=now, by=WHO)
    return store.subscriber_by_id(sub.id)


def _preview(ctx: WebContext, sub: Subscriber) -> tuple[list[tuple[str, str, str]], int]:
    """The next digest's picks as (title, link, reasons), and the candidates ranked."""
    from ..render import paper_link
    from ..render.content import display_title

    store = ctx.store()
    composed = compose(store, ctx.config, [sub], ctx.now().date())
    content = composed.content(sub.id)
    picks = [
        (display_title(paper.title), paper_link(paper, ctx.config.email), " · ".join(pick.reasons))
        for paper, pick in content.picks
    ]
    return picks, composed.candidates


# --- admin: the pending sign-ups ------------------------------------------------------------


def pending(request: Request, ctx: WebContext, form: FormData | None) -> Response:
    """The sign-ups awaiting confirmation (expired ones are purged first)."""
    now = ctx.now()
    with ctx.writing() as store:
        store.purge_signups(now, attempts_before=now - dt.timedelta(days=2))
    return ctx.page(
        request, "signups.html", signups=ctx.store().pending_signups(now), open=signup_open(ctx)
    )


def signup_routes() -> list[Route]:
    """``/subscribe``, ``/confirm/TOKEN`` and the admin's ``/admin/signups``."""
    return [
        Route("/subscribe", subscribe, methods=["GET", "POST"]),
        Route("/confirm/{token}", confirm, methods=["GET", "POST"]),
        Route("/admin/signups", admin(pending), methods=["GET"]),
    ]
