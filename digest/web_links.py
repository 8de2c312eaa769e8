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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .errors import NotFoundError, SubscriberError, TokenError
from .models import WEEKDAYS, Paper, Subscriber
from .profiles import entry_from_mapping
from .tokens import LinkClaims, link_url
from .web_auth import link_csrf, same_token
from .web_base import Form, WebContext, line_field, public, text_field

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


def _subscriber(ctx: WebContext, claims: LinkClaims) -> Subscriber:
    try:
        return ctx.store().subscriber_by_id(claims.subscriber_id)
    except NotFoundError as exc:
        raise _Rejected(
            410,
            "This subscription no longer exists",
            "The subscriber this link was made for has been removed, so there is nothing "
            "to change and no email will be sent.",
        ) from exc


def _link(kind: str, handler: type[_LinkHandler]) -> Route:
    def endpoint(request: Request, ctx: WebContext, form: Form) -> Response:
        token = request.path_params["token"]
        try:
            claims = _claims(ctx, token, kind)
            return handler(ctx, request, token, claims, _subscriber(ctx, claims)).respond(form)
        except _Rejected as exc:
            return ctx.error(request, exc.status, exc.title, exc.message, public=True)

    return Route(f"/{kind}/{{token}}", public(endpoint), methods=["GET", "POST"])


@dataclass
class _LinkHandler:
    ctx: WebContext
    request: Request
    token: str
    claims: LinkClaims
    sub: Subscriber

    def respond(self, form: Form) -> Response:
        return self.post(form) if form is not None else self.get()

    def get(self) -> Response:
        raise NotImplementedError

    def post(self, form: Form) -> Response:
        raise NotImplementedError

    def page(self, name: str, *, status: int = 200, **values: Any) -> Response:
        return self.ctx.page(
            self.request, name, status=status, sub=self.sub, token=self.token, **values
        )

    def preferences_url(self) -> str:
        """A fresh preferences link for the same subscriber, to offer on every page."""
        token = self.ctx.signer.sign(self.sub.id, "preferences", issued_at=self.ctx.now())
        return link_url("", "preferences", token)


class _Unsubscribe(_LinkHandler):
    def get(self) -> Response:
        return self.page("unsubscribe.html", done=False, preferences_url=self.preferences_url())

    def post(self, form: Form) -> Response:
        if text_field(form, ONE_CLICK[0]) != ONE_CLICK[1]:
            return self.ctx.error(
                self.request,
                400,
                "Nothing changed",
                "An unsubscribe request must carry List-Unsubscribe=One-Click (RFC 8058); "
                "use the button on the unsubscribe page.",
                public=True,
            )
        # Idempotent: a second POST (a mail provider retrying) changes nothing more.
        with self.ctx.writing() as store:
            store.set_status_by_id(self.sub.id, "unsubscribed", now=self.ctx.stamp())
        return self.page("unsubscribe.html", done=True, preferences_url=self.preferences_url())


class _Feedback(_LinkHandler):
    def get(self) -> Response:
        return self._page(self._paper(), done=False)

    def post(self, form: Form) -> Response:
        paper = self._paper()
        vote = 1 if self.claims.action == "more" else -1
        # Every POST is one row; the token fixes paper and vote, so repeating it changes
        # nothing the ranker sees (it reads the latest vote per paper).
        with self.ctx.writing() as store:
            store.record_feedback(self.sub.id, paper.id, vote, source="email", now=self.ctx.stamp())
        return self._page(paper, done=True)

    def _paper(self) -> Paper:
        paper_id = self.claims.paper_id or ""
        paper = self.ctx.store().papers_by_id([paper_id]).get(paper_id)
        if paper is None:
            raise _Rejected(
                404, "Paper not found", "This paper is no longer in the digest's database."
            )
        return paper

    def _page(self, paper: Paper, *, done: bool) -> Response:
        return self.page(
            "feedback.html",
            done=done,
            more=self.claims.action == "more",
            paper=paper,
            preferences_url=self.preferences_url(),
        )


class _Preferences(_LinkHandler):
    def get(self) -> Response:
        return self._form(self._values(), saved=False, error="")

    def post(self, form: Form) -> Response:
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
        values = {
            "frequency": text_field(form, "frequency"),
            "max_papers": text_field(form, "max_papers"),
            "keywords": "\n".join(line_field(form, "keywords")),
            "exclude": "\n".join(line_field(form, "exclude")),
            "quiet_day": text_field(form, "quiet_day"),
            "paused": bool(text_field(form, "pause")),
        }
        try:
            entry = entry_from_mapping(
                {
                    "email": self.sub.email,
                    "frequency": values["frequency"] or "daily",
                    "max_papers": _whole_number(str(values["max_papers"]), "papers per email"),
                    "keywords": line_field(form, "keywords"),
                    "exclude": line_field(form, "exclude"),
                    "quiet_day": values["quiet_day"] or "skip",
                    "status": "paused" if values["paused"] else "active",
                },
                where="preferences",
            )
            with self.ctx.writing() as store:
                store.save_entries([entry], who="web:subscriber", now=self.ctx.stamp())
        except SubscriberError as exc:
            return self._form(values, saved=False, error=str(exc), status=422)
        self.sub = self.ctx.store().subscriber_by_id(self.sub.id)
        return self._form(self._values(), saved=True, error="")

    def _values(self) -> dict[str, object]:
        profile = self.ctx.store().profile(self.sub.id)
        return {
            "frequency": self.sub.frequency,
            "max_papers": str(self.sub.max_papers),
            "keywords": "\n".join(str(k) for k in profile.keywords),
            "exclude": "\n".join(profile.exclude),
            "quiet_day": self.sub.quiet_day,
            "paused": self.sub.status == "paused",
        }

    def _form(
        self, values: dict[str, object], *, saved: bool, error: str, status: int = 200
    ) -> Response:
        return self.page(
            "preferences.html",
            status=status,
            values=values,
            saved=saved,
            error=error,
            frequencies=FREQUENCIES,
            form_csrf=link_csrf(self.ctx.link_csrf_key, self.token),
        )


def _whole_number(raw: str, label: str) -> int:
    try:
        return int(raw.strip())
    except ValueError as exc:
        raise SubscriberError(f"{label} must be a whole number, got {raw!r}") from exc


def link_routes() -> list[Route]:
    """The routes of the links in the email (see :func:`digest.tokens.link_url`)."""
    return [
        _link("unsubscribe", _Unsubscribe),
        _link("preferences", _Preferences),
        _link("feedback", _Feedback),
    ]
