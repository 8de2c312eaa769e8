"""``digest serve``: the admin UI and the pages behind the links in the email.

A Starlette app served by uvicorn (:mod:`.server`). Pages are Jinja templates rendered on the
server (``templates/web/``, autoescaped) with one stylesheet and two small scripts, so there
is no front-end build. The routes live in :mod:`.admin` (behind a password),
:mod:`.links` (the signed links: unsubscribe, preferences, feedback), :mod:`.signup` (the
public sign-up) and :mod:`.pages` (the day's papers, each digest in the browser).

Every response carries security headers (:func:`security_headers`): a Content-Security-
Policy without inline scripts, no framing except the admin's preview iframe, ``nosniff``,
and no referrer from the subscriber pages, whose URLs hold their credential.

Owns :func:`create_app` and the security headers. May import every module of
the package; none of them imports it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Config, check_secret
from ..render import make_renderer
from ..tokens import LinkSigner
from .admin import admin_routes
from .auth import AdminPassword, derive_key
from .base import WebContext, context_of, make_templates, web_dir
from .links import link_routes
from .pages import page_routes
from .sessions import SessionMiddleware, password_tag
from .signup import signup_routes

SESSION_COOKIE = "digest_admin"
SESSION_MAX_AGE = 12 * 3600  # an admin signs in again after half a day
MAX_BODY_BYTES = 256 * 1024  # the largest form is a profile: far below this
SUBSCRIBER_PREFIXES = ("/unsubscribe/", "/preferences/", "/feedback/", "/confirm/", "/d/")
# Public pages: error pages there use the subscriber layout too.
PUBLIC_PREFIXES = (*SUBSCRIBER_PREFIXES, "/subscribe", "/papers/")
PREVIEW_PREFIX = "/admin/preview/"
VIEW_PREFIX = "/d/"

_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-src 'self'; "
    "frame-ancestors 'none'"
)
# The preview iframe shows the email as a mail client would: its styles are inline, it runs
# nothing (sandbox), and only our own admin page may frame it.
_PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'; sandbox"
)
# A digest in the browser (/d/TOKEN) is the email as sent: inline styles, nothing run, and
# no one may frame it. Its links open as a top-level page does.
_VIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"
)


def security_headers(path: str, *, https: bool) -> dict[str, str]:
    """The security headers of the response to ``path``."""
    subscriber = path.startswith(SUBSCRIBER_PREFIXES)
    framed = path.startswith(PREVIEW_PREFIX)
    csp = _PREVIEW_CSP if framed else _VIEW_CSP if path.startswith(VIEW_PREFIX) else _PAGE_CSP
    headers = {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "SAMEORIGIN" if framed else "DENY",
        "X-Content-Type-Options": "nosniff",
        # Subscriber URLs carry their token: never send them on to another page.
        "Referrer-Policy": "no-referrer" if subscriber else "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if not path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"  # unless the page set its own (the day's papers)
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


class SecurityHeaders:
    """ASGI middleware adding :func:`security_headers` (and ``Server-Timing``) to every
    HTTP response."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope["path"], https=self.https)

        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    if name == "Cache-Control" and name in headers:
                        continue
                    headers[name] = value
                # Time in the app (queueing and database waits included), for browser dev
                # tools and benchmarks/bench_web.py, which compares it with what clients see.
                elapsed = (time.perf_counter() - started) * 1000
                headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _default_now(config: Config) -> Callable[[], dt.datetime]:
    zone = ZoneInfo(config.schedule.timezone)
    return lambda: dt.datetime.now(zone)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    titles = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}
    public = request.url.path.startswith(PUBLIC_PREFIXES)
    response = context_of(request).error(
        request,
        exc.status_code,
        titles.get(exc.status_code, "Request refused"),
        exc.detail if exc.status_code not in titles else "There is no page here.",
        public=public or not request.session.get("admin"),
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(
    config: Config,
    *,
    secret: str,
    admin_password: str,
    now: Callable[[], dt.datetime] | None = None,
) -> Starlette:
    """The web app for ``config``; ``secret`` signs links and sessions.

    ``admin_password`` is the password or its ``pbkdf2_sha256$…`` hash; ``now`` is the
    clock (tests pass their own). Raises :class:`ConfigError` for a malformed password
    hash and :class:`RenderError` for broken email templates.
    """
    check_secret(secret, "the link secret")
    https = config.email.base_url.startswith("https://")
    ctx = WebContext(
        config=config,
        signer=LinkSigner(secret),
        renderer=make_renderer(config, secret=secret),
        admin_password=AdminPassword.parse(admin_password, env_name=config.web.admin_password_env),
        link_csrf_key=derive_key(secret, "link-csrf"),
        now=now or _default_now(config),
        templates=make_templates(),
    )
    routes = [
        Route("/healthz", _healthz, methods=["GET"]),
        *admin_routes(),
        *link_routes(),
        *signup_routes(),
        *page_routes(),
        Mount("/static", StaticFiles(directory=web_dir() / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders, https=https),
        Middleware(
            SessionMiddleware,
            store=ctx.store,
            writing=ctx.writing,
            now=ctx.now,
            # A new admin password (or secret) voids the sessions opened under the old one.
            tag=password_tag(derive_key(secret, "session"), admin_password),
            cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            https=https,
        ),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        ctx.lane.stop()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.web = ctx
    return app
