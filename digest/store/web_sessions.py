"""The web server's shared state: admin sessions and failed sign-ins, in the database so
that every worker of ``digest serve --workers N`` sees the same ones.

Tables ``web_sessions`` (one row per session: the SHA-256 of its cookie value, never the
value itself, its data as JSON, a tag of the admin password it was opened under, and when
it expires) and ``login_failures`` (one row per failed sign-in: the client address and
when). May import: the standard library and :mod:`digest.store.db`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .db import StoreBase, stamp


@dataclass(frozen=True)
class WebSession:
    """A stored admin session."""

    data: str  # JSON object
    password_tag: str
    expires_at: dt.datetime


class WebSessionStore(StoreBase):
    def web_session(self, key: str, now: dt.datetime) -> WebSession | None:
        """The unexpired session stored under ``key`` (the hash of its cookie), if any."""
        row = self.db.execute(
            "SELECT data, password_tag, expires_at FROM web_sessions "
            "WHERE key = ? AND julianday(expires_at) > julianday(?)",
            [key, stamp(now)],
        ).fetchone()
        if row is None:
            return None
        return WebSession(row[0], row[1], dt.datetime.fromisoformat(row[2]))

    def save_web_session(
        self, key: str, data: str, password_tag: str, expires_at: dt.datetime, now: dt.datetime
    ) -> None:
        """Store (or replace) a session, and drop the expired ones."""
        with self.transaction():
            self.db.execute(
                "DELETE FROM web_sessions WHERE julianday(expires_at) <= julianday(?)",
                [stamp(now)],
            )
            self.db.execute(
                "INSERT OR REPLACE INTO web_sessions (key, data, password_tag, expires_at) "
                "VALUES (?, ?, ?, ?)",
                [key, data, password_tag, stamp(expires_at)],
            )

    def delete_web_session(self, key: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM web_sessions WHERE key = ?", [key])

    def recent_login_failures(self, client: str, since: dt.datetime) -> list[dt.datetime]:
        """When ``client`` failed to sign in after ``since``, oldest first."""
        rows = self.db.execute(
            "SELECT at FROM login_failures WHERE client = ? AND julianday(at) > julianday(?) "
            "ORDER BY julianday(at)",
            [client, stamp(since)],
        ).fetchall()
        return [dt.datetime.fromisoformat(row[0]) for row in rows]

    def add_login_failure(self, client: str, at: dt.datetime, forget_before: dt.datetime) -> None:
        """Record a failed sign-in, and forget the ones older than ``forget_before``."""
        with self.transaction():
            self.db.execute(
                "DELETE FROM login_failures WHERE julianday(at) <= julianday(?)",
                [stamp(forget_before)],
            )
            self.db.execute(
                "INSERT INTO login_failures (client, at) VALUES (?, ?)", [client, stamp(at)]
            )

    def clear_login_failures(self, client: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM login_failures WHERE client = ?", [client])
