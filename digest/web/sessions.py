"""Admin sessions and the sign-in limit, kept in the database (:mod:`digest.store.web_sessions`).

The cookie holds only a random session id; the session's data lives in the
``web_sessions`` table under the id's SHA-256. So signing out deletes the row and the old
cookie is worth nothing; a session opened under another admin password (its row carries a
tag of the password) is void once the password changes; and every worker of
``digest serve --workers N`` sees the same sessions and the same failed sign-ins.

Owns :class:`SessionMiddleware` and :class:`LoginLimiter`. Imports no module of the
package but :mod:`.auth`; the store comes in through callables.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..store import Store

StoreOf = Callable[[], Store]
Writing = Callable[[], AbstractContextManager[Store]]


def password_tag(key: bytes, admin_password: str) -> str:
    """A tag of the configured admin password (its value or hash), so sessions opened under
    an earlier password are recognised as such without storing the password."""
    return hmac.new(key, admin_password.encode("utf-8"), "sha256").hexdigest()


def _key_of(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


class SessionMiddleware:
    """``scope["session"]`` from the database, written back when a response starts.

    A session whose ``admin`` flag changes gets a new id (no fixation); an emptied session is
    deleted along with its cookie.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: StoreOf,
        writing: Writing,
        now: Callable[[], dt.datetime],
        tag: str,
        cookie: str,
        max_age: int,
        https: bool,
    ) -> None:
        self.app = app
        self.store = store
        self.writing = writing
        self.now = now
        self.tag = tag
        self.cookie = cookie
        self.max_age = max_age
        self.https = https

    def _load(self, session_id: str) -> dict[str, Any] | None:
        row = self.store().web_session(_key_of(session_id), self.now())
        if row is None or not hmac.compare_digest(row.password_tag, self.tag):
            return None
        data = json.loads(row.data)
        return data if isinstance(data, dict) else None

    def _save(self, old_id: str | None, data: dict[str, Any], rotate: bool) -> str | None:
        """Write the session back; returns the id for the cookie (None: delete it)."""
        now = self.now()
        with self.writing() as store:
            if old_id is not None and (rotate or not data):
                store.delete_web_session(_key_of(old_id))
            if not data:
                return None
            session_id = old_id if old_id is not None and not rotate else secrets.token_urlsafe(32)
            expires = now + dt.timedelta(seconds=self.max_age)
            store.save_web_session(
                _key_of(session_id), json.dumps(data, sort_keys=True), self.tag, expires, now
            )
            return session_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id = HTTPConnection(scope).cookies.get(self.cookie) or None
        data = None
        if session_id is not None:
            data = await run_in_threadpool(self._load, session_id)
            if data is None:
                session_id = None  # unknown, expired, revoked: start afresh
        scope["session"] = dict(data or {})
        before = json.dumps(data or {}, sort_keys=True)
        had_cookie = HTTPConnection(scope).cookies.get(self.cookie) is not None

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                current: dict[str, Any] = scope["session"]
                if json.dumps(current, sort_keys=True) != before:
                    rotate = current.get("admin") != (data or {}).get("admin")
                    new_id = await run_in_threadpool(self._save, session_id, current, rotate)
                    self._set_cookie(message, new_id)
                elif had_cookie and session_id is None:
                    self._set_cookie(message, None)  # a dead cookie: tell the browser
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _set_cookie(self, message: Message, session_id: str | None) -> None:
        value = session_id or ""
        age = self.max_age if session_id else 0
        attrs = f"{self.cookie}={value}; path=/; Max-Age={age}; HttpOnly; SameSite=strict"
        if self.https:
            attrs += "; Secure"
        MutableHeaders(scope=message).append("Set-Cookie", attrs)


class LoginLimiter:
    """At most ``max_failures`` failed sign-ins per client address in ``window_seconds``,
    counted in the database so every worker process enforces the same limit."""

    def __init__(
        self,
        store: StoreOf,
        writing: Writing,
        *,
        max_failures: int = 5,
        window_seconds: float = 300.0,
    ) -> None:
        self.store = store
        self.writing = writing
        self.max_failures = max_failures
        self.window = dt.timedelta(seconds=window_seconds)

    def retry_after(self, client: str, now: dt.datetime) -> int | None:
        """Seconds until ``client`` may try again, or None if it may try now."""
        times = self.store().recent_login_failures(client, now - self.window)
        if len(times) < self.max_failures:
            return None
        oldest = times[-self.max_failures]
        return max(1, math.ceil((oldest + self.window - now).total_seconds()))

    def failed(self, client: str, now: dt.datetime) -> None:
        """Count one failed sign-in."""
        with self.writing() as store:
            store.add_login_failure(client, now, now - self.window)

    def succeeded(self, client: str) -> None:
        """Forget a client's failures once it signs in."""
        with self.writing() as store:
            store.clear_login_failures(client)
