"""What the web modules share: the app's context, page rendering and endpoint wrappers.

Endpoints are written as plain functions ``handler(request, ctx, form) -> Response``. The
wrappers here read the form on the event loop (Starlette's form parser is async), check the
admin session and CSRF token where needed, then run the handler in Starlette's thread pool,
where it may block on SQLite. Each pool thread keeps its own :class:`Store` connection:
sqlite3 connections must not cross threads, and opening one per request would cost more
than the request itself. The subscriber links, which take most of the traffic, are async
endpoints whose database work runs on one batching thread instead (:mod:`.lane`).

Owns :class:`WebContext`, the templates and the endpoint wrappers and form helpers. May
import :mod:`.auth` and :mod:`.lane` from the package, never the modules of routes.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..config import Config
from ..errors import NotFoundError
from ..records import MAX_PAPERS
from ..render import Renderer
from ..resources import templates_dir
from ..store import Store
from ..text import clip
from ..tokens import LinkSigner
from .auth import CSRF_FIELD, AdminPassword, same_token
from .lane import StoreLane
from .sessions import LoginLimiter

Form = FormData | None
Handler = Callable[[Request, "WebContext", Form], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


def web_dir() -> Path:
    """The web templates and static files (``templates/web``, shipped in the wheel)."""
    return templates_dir() / "web"


class PreviewCache:
    """The last few rendered preview emails, by random key, for the editor's iframe.

    The iframe loads the email from a same-origin URL, so the email's inline styles can be
    allowed for that one response without loosening the admin pages' own CSP.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, html: str) -> str:
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._items[key] = html
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._items.get(key)


@dataclass
class WebContext:
    """Everything the endpoints need; one per app, stored on ``app.state.web``."""

    config: Config
    signer: LinkSigner
    renderer: Renderer
    admin_password: AdminPassword
    link_csrf_key: bytes
    now: Callable[[], dt.datetime]
    templates: jinja2.Environment
    previews: PreviewCache = field(default_factory=PreviewCache)
    _local: threading.local = field(default_factory=threading.local)
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    lane: StoreLane = field(init=False)
    limiter: LoginLimiter = field(init=False)

    def __post_init__(self) -> None:
        # The subscriber links' database work (see digest.web.lane); it writes in turn
        # with the admin pages through the same lock.
        self.lane = StoreLane(lambda: Store.open(self.config.store.database), self._write_lock)
        self.limiter = LoginLimiter(self.store, self.writing)

    def store(self) -> Store:
        """This thread's connection to the database, opened on first use."""
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store.open(self.config.store.database)
            self._local.store = store
        return store

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """This thread's store, for one write, taken in turn with the other threads.

        SQLite lets one writer in at a time and makes the others poll with growing sleeps
        (its busy handler), which under load put 100 ms+ into the slowest requests. Taking
        turns on a lock in this process hands the database over at once; other processes
        (the daily run) still wait through SQLite's busy timeout.
        """
        with self._write_lock:
            yield self.store()

    def render(self, name: str, **values: Any) -> str:
        """A template (or fragment) filled in; Jinja autoescapes everything."""
        return self.templates.get_template(name).render(product="digest", **values)

    def page(
        self,
        request: Request,
        name: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **values: Any,
    ) -> HTMLResponse:
        """A full page; admin pages get the session's CSRF token and the current path."""
        html = self.render(
            name,
            csrf=request.session.get("csrf", ""),
            path=request.url.path,
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=headers)

    def error(
        self, request: Request, status: int, title: str, message: str, *, public: bool = False
    ) -> HTMLResponse:
        """An error page in the admin or the subscriber layout."""
        return self.page(
            request,
            "error.html",
            status=status,
            status_code=status,
            title=title,
            message=message,
            public=public,
        )


def make_templates() -> jinja2.Environment:
    """The Jinja environment of the web pages: autoescaped, strict about typos."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(web_dir()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        # The templates ship with the package: checking their files' times on every page
        # costs a stat() per template per request for nothing.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clip"] = clip
    # The forms' limits are the server's: a page never offers what the server refuses.
    env.globals["max_papers_limit"] = MAX_PAPERS
    return env


def context_of(request: Request) -> WebContext:
    return cast(WebContext, request.app.state.web)


# The largest integer SQLite stores: a bigger id, page or version cannot name anything.
MAX_INT = 2**63 - 1


def parse_int(raw: object, *, low: int = 0, high: int = MAX_INT) -> int | None:
    """``raw`` (a path segment, query value or form field) as a whole number from ``low``
    to ``high``, or None: every integer the web reads from a request goes through here,
    so a huge or malformed number is a 404 or a form error, never an overflow in SQLite."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    # Digits only (no sign, "_" or spaces, which int() would take); the length cap keeps
    # int() from being handed thousands of digits.
    if not text.isascii() or not text.isdigit() or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if low <= value <= high else None


def path_int(request: Request, name: str) -> int:
    """An id in the URL path; :class:`NotFoundError` (a 404 page) unless it is one."""
    value = parse_int(request.path_params.get(name))
    if value is None:
        raise NotFoundError(
            f"there is no {name.replace('_', ' ')} {request.path_params.get(name)!r}"
        )
    return value


def text_field(form: Form, name: str) -> str:
    """A form field as text ("" when missing, or an uploaded file instead of text)."""
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else ""


def line_field(form: Form, name: str) -> list[str]:
    """A textarea as its non-blank lines, trimmed."""
    return [line.strip() for line in text_field(form, name).splitlines() if line.strip()]


def _call(handler: Handler, request: Request, form: Form) -> Response:
    ctx = context_of(request)
    try:
        return handler(request, ctx, form)
    except NotFoundError as exc:
        return ctx.error(request, 404, "Not found", str(exc))


def public(handler: Handler) -> Endpoint:
    """An endpoint anyone may call (the login page, the subscriber links)."""

    async def endpoint(request: Request) -> Response:
        form = await request.form() if request.method == "POST" else None
        return await run_in_threadpool(_call, handler, request, form)

    return endpoint


def is_admin(request: Request) -> bool:
    return request.session.get("admin") is True


def admin(handler: Handler) -> Endpoint:
    """An admin endpoint: signed in, and for a POST the session's CSRF token in the form."""

    async def endpoint(request: Request) -> Response:
        if not is_admin(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            where = f"/login?next={quote(target)}" if request.method == "GET" else "/login"
            return RedirectResponse(where, status_code=303)
        form = None
        if request.method == "POST":
            form = await request.form()
            if not same_token(request.session.get("csrf"), form.get(CSRF_FIELD)):
                return context_of(request).error(
                    request,
                    403,
                    "Form expired",
                    "This form's security token does not match your session, so nothing was "
                    "changed. Go back, reload the page and try again.",
                )
        return await run_in_threadpool(_call, handler, request, form)

    return endpoint


def redirect(url: str) -> RedirectResponse:
    """See-other redirect after a POST, so a reload does not post again."""
    return RedirectResponse(url, status_code=303)
