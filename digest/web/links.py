"""The pages behind the links in a digest email: unsubscribe, preferences and feedback.

No login: the signed token in the URL is the credential (see :mod:`digest.tokens`). It names
the subscriber, the action and, for feedback, the paper, so a token can only ever act for
the subscriber it was made for, and only in the way it was made for. A token that was
changed, made for another action, too old for its action, or whose subscriber was purged
gets a 4xx page and changes nothing.

Mail scanners fetch links in emails before people click them, so no GET changes anything:
- unsubscribe: GET shows a confirmation button; the POST (also what mail providers send for
  RFC 8058 one-click, body ``List-Unsubscribe=One-Click``) unsubscribes at once;
- feedback: GET shows the thank-you page, whose form a small script posts at once (a
  browser does, a scanner does not), so one human click records one vote;
- preferences: a form whose CSRF token is an HMAC of the link token.

Owns the link routes (:func:`link_routes`). May import :mod:`.auth` and :mod:`.base` from
the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import NotFoundError, SubscriberError, TokenError
from ..profiles import entry_from_mapping
from ..records import WEEKDAYS, Paper, Subscriber
from ..store import Store
from ..subscriptions import save_entries
from ..tokens import LinkClaims, link_url
from .auth import link_csrf, same_token
from .base import WebContext, context_of, line_field, parse_int, text_field

DAY = 24 * 3600
# How long each kind of link keeps working. Unsubscribe links never expire (RFC 8058 and
# anti-spam laws expect an old email's link to work); the others act on a profile, so a
# link forwarded or leaked long ago should stop working.
LINK_MAX_AGE: dict[str, int | None] = {
    "unsubscribe": None,
    "preferences": 365 * DAY,
    "feedback": 180 * DAY,
}
FREQUENCIES = ("daily", *(f"weekly:{day}" for day in WEEKDAYS))
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058's POST body


class _Rejected(Exception):
    """A link that must not act: the page to show instead."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def _claims(ctx: WebContext, token: str, kind: str) -> LinkClaims:
    try:
        if kind == "feedback":
            claims = ctx.signer.verify_feedback(token)
        else:
            claims = ctx.signer.verify(token, kind)
    except TokenError as exc:
        raise _Rejected(403, "This link is not valid", str(exc)) from exc
    max_age = LINK_MAX_AGE[kind]
    if max_age is not None and ctx.now().timestamp() - claims.issued_at > max_age:
        raise _Rejected(
            410,
            "This link has expired",
            f"{kind.capitalize()} links stop working after {max_age // DAY} days; use the link "
            "in your latest digest email.",
        )
    return claims


async def _link_form(request: Request) -> FormData:
    """The POSTed form. The links' own forms and RFC 8058 one-click POSTs are usually
    urlencoded, read here directly (Starlette's general form parser costs more than the rest
    of a feedback click); multipart bodies (RFC 8058 allows them) go through Starlette's."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type not in ("", "application/x-www-form-urlencoded"):
        return await request.form()
    body = (await request.body()).decode("utf-8", errors="replace")
    fields: list[tuple[str, str | UploadFile]] = [*parse_qsl(body, keep_blank_values=True)]
    return FormData(fields)


def _link(kind: str, handler: type[_LinkHandler]) -> Route:
    async def endpoint(request: Request) -> Response:
        ctx = context_of(request)
        token = request.path_params["token"]
        try:
            claims = _claims(ctx, token, kind)
            link = handler(ctx, request, token, claims)
            if request.method == "POST":
                return await link.post(await _link_form(request))
            return await link.get()
        except _Rejected as exc:
            return ctx.error(request, exc.status, exc.title, exc.message, public=True)

    return Route(f"/{kind}/{{token}}", endpoint, methods=["GET", "POST"])


@dataclass
class _LinkHandler:
    """One request to a link. Its database work runs as jobs on the store lane
    (:mod:`digest.web.lane`), its page is rendered on the event loop."""

    ctx: WebContext
    request: Request
    token: str
    claims: LinkClaims

    async def get(self) -> Response:
        raise NotImplementedError

    async def post(self, form: FormData) -> Response:
        raise NotImplementedError

    def page(self, name: str, sub: Subscriber, *, status: int = 200, **values: Any) -> Response:
        return self.ctx.page(
            self.request,
            name,
            status=status,
            sub=sub,
            token=self.token,
            preferences_url=self.preferences_url(sub),
            **values,
        )

    def preferences_url(self, sub: Subscriber) -> str:
        """A fresh preferences link for the same subscriber, to offer on every page."""
        token = self.ctx.signer.sign(sub.id, "preferences", issued_at=self.ctx.now())
        return link_url("", "preferences", token)

    def subscriber(self, store: Store) -> Subscriber:
        """The link's subscriber; a purged one rejects the link."""
        try:
            return store.subscriber_by_id(self.claims.subscriber_id)
        except NotFoundError as exc:
            raise _Rejected(
                410,
                "This subscription no longer exists",
                "The subscriber this link was made for has been removed, so there is nothing "
                "to change and no email will be sent.",
            ) from exc


class _Unsubscribe(_LinkHandler):
    async def get(self) -> Response:
        sub = await self.ctx.lane.read(self.subscriber)
        return self.page("unsubscribe.html", sub, done=False)

    async def post(self, form: FormData) -> Response:
        if text_field(form, ONE_CLICK[0]) != ONE_CLICK[1]:
            return self.ctx.error(
                self.request,
                400,
                "Nothing changed",
                "An unsubscribe request must carry List-Unsubscribe=One-Click (RFC 8058); "
                "use the button on the unsubscribe page.",
                public=True,
            )
        sub = await self.ctx.lane.write(self._unsubscribe)
        return self.page("unsubscribe.html", sub, done=True)

    def _unsubscribe(self, store: Store) -> Subscriber:
        sub = self.subscriber(store)
        # Idempotent: a second POST (a mail provider retrying) changes nothing more.
        store.set_status_by_id(sub.id, "unsubscribed", now=self.ctx.now(), by="web:subscriber")
        return sub


class _Feedback(_LinkHandler):
    async def get(self) -> Response:
        sub, paper = await self.ctx.lane.read(self._find)
        return self._page(sub, paper, done=False)

    async def post(self, form: FormData) -> Response:
        sub, paper = await self.ctx.lane.write(self._record)
        return self._page(sub, paper, done=True)

    def _find(self, store: Store) -> tuple[Subscriber, Paper]:
        sub = self.subscriber(store)
        paper_id = self.claims.paper_id or ""
        paper = store.papers_by_id([paper_id]).get(paper_id)
        if paper is None:
            raise _Rejected(
                410, "Paper not found", "This paper is no longer in the digest's database."
            )
        return sub, paper

    def _record(self, store: Store) -> tuple[Subscriber, Paper]:
        sub, paper = self._find(store)
        vote = 1 if self.claims.action == "more" else -1
        # Every POST is one row; the token fixes paper and vote, so repeating it changes
        # nothing the ranker sees (it reads the latest vote per paper).
        store.record_feedback(sub.id, paper.id, vote, source="email", now=self.ctx.now())
        return sub, paper

    def _page(self, sub: Subscriber, paper: Paper, *, done: bool) -> Response:
        more = self.claims.action == "more"
        return self.page("feedback.html", sub, done=done, more=more, paper=paper)


# Followed authors, categories and excluded categories: one textarea each, a line per item.
_FOLLOW_FIELDS = ("authors", "categories", "exclude_categories")


class _Preferences(_LinkHandler):
    async def get(self) -> Response:
        sub, values = await self.ctx.lane.read(self._load)
        return self._form(sub, values, saved=False, error="")

    async def post(self, form: FormData) -> Response:
        expected = link_csrf(self.ctx.link_csrf_key, self.token)
        if not same_token(expected, text_field(form, "csrf")):
            return self.ctx.error(
                self.request,
                403,
                "Form expired",
                "This form does not belong to this link, so nothing was changed. Open the "
                "preferences link from your email again.",
                public=True,
            )
        try:
            sub, values = await self.ctx.lane.write(lambda store: self._save(store, form))
        except _Invalid as invalid:
            return self._form(
                invalid.sub, invalid.values, saved=False, error=invalid.message, status=422
            )
        return self._form(sub, values, saved=True, error="")

    def _load(self, store: Store) -> tuple[Subscriber, dict[str, object]]:
        sub = self.subscriber(store)
        profile = store.profile(sub.id)
        return sub, {
            "frequency": sub.frequency,
            "max_papers": str(sub.max_papers),
            "keywords": "\n".join(str(k) for k in profile.keywords),
            "exclude": "\n".join(profile.exclude),
            "quiet_day": sub.quiet_day,
            "paused": sub.status == "paused",
            **{key: "\n".join(getattr(profile, key)) for key in _FOLLOW_FIELDS},
        }

    def _save(self, store: Store, form: FormData) -> tuple[Subscriber, dict[str, object]]:
        sub = self.subscriber(store)
        values: dict[str, object] = {
            "frequency": text_field(form, "frequency"),
            "max_papers": text_field(form, "max_papers"),
            "keywords": "\n".join(line_field(form, "keywords")),
            "exclude": "\n".join(line_field(form, "exclude")),
            "quiet_day": text_field(form, "quiet_day"),
            "paused": bool(text_field(form, "pause")),
            **{key: "\n".join(line_field(form, key)) for key in _FOLLOW_FIELDS},
        }
        try:
            entry = entry_from_mapping(
                {
                    "email": sub.email,
                    "frequency": values["frequency"] or "daily",
                    "max_papers": _whole_number(str(values["max_papers"]), "papers per email"),
                    "keywords": line_field(form, "keywords"),
                    "exclude": line_field(form, "exclude"),
                    "quiet_day": values["quiet_day"] or "skip",
                    "status": "paused" if values["paused"] else "active",
                    **{key: line_field(form, key) for key in _FOLLOW_FIELDS},
                },
                where="preferences",
            )
            save_entries(store, [entry], who="web:subscriber", now=self.ctx.now())
        except SubscriberError as exc:
            raise _Invalid(sub, values, str(exc)) from exc
        return self._load(store)

    def _form(
        self,
        sub: Subscriber,
        values: dict[str, object],
        *,
        saved: bool,
        error: str,
        status: int = 200,
    ) -> Response:
        return self.page(
            "preferences.html",
            sub,
            status=status,
            values=values,
            saved=saved,
            error=error,
            frequencies=FREQUENCIES,
            form_csrf=link_csrf(self.ctx.link_csrf_key, self.token),
        )


class _Invalid(Exception):
    """Preferences that did not validate: the form to show again, with the message."""

    def __init__(self, sub: Subscriber, values: dict[str, object], message: str) -> None:
        super().__init__(message)
        self.sub = sub
        self.values = values
        self.message = message


def _whole_number(raw: str, label: str) -> int:
    value = parse_int(raw)
    if value is None:
        raise SubscriberError(f"{label} must be a whole number, got {raw!r}")
    return value


def link_routes() -> list[Route]:
    """The routes of the links in the email (see :func:`digest.tokens.link_url`)."""
    return [
        _link("unsubscribe", _Unsubscribe),
        _link("preferences", _Preferences),
        _link("feedback", _Feedback),
    ]
