"""Public sign-ups: the ones awaiting confirmation, and the attempts the limits count.

Tables ``signups`` (one row per sign-up whose emailed link has not been confirmed yet: the
address, the name and what to follow as given in the form, the client address it came
from, when it expires) and ``signup_attempts`` (one row per sign-up form posted: the client
address, and the email address when an email went to it). The limits are counted here, in
the database, so every worker of ``digest serve --workers N`` enforces the same ones.

May import: the standard library and :mod:`digest.store.db`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from .db import StoreBase, stamp


@dataclass(frozen=True)
class Signup:
    """A sign-up awaiting its confirmation; ``keywords`` as typed ("term^weight")."""

    id: int
    email: str
    name: str
    keywords: tuple[str, ...]
    frequency: str
    client: str
    created_at: dt.datetime
    expires_at: dt.datetime


_SIGNUP_COLUMNS = "id, email, name, keywords, frequency, client, created_at, expires_at"


def _signup(row: Sequence[object]) -> Signup:
    return Signup(
        id=int(str(row[0])),
        email=str(row[1]),
        name=str(row[2]),
        keywords=tuple(json.loads(str(row[3]))),
        frequency=str(row[4]),
        client=str(row[5]),
        created_at=dt.datetime.fromisoformat(str(row[6])),
        expires_at=dt.datetime.fromisoformat(str(row[7])),
    )


class SignupStore(StoreBase):
    def add_signup(
        self,
        *,
        email: str,
        name: str,
        keywords: Sequence[str],
        frequency: str,
        client: str,
        now: dt.datetime,
        expires_at: dt.datetime,
    ) -> Signup:
        """Store a pending sign-up, replacing an earlier pending one for the same address
        (so only the latest emailed link confirms anything)."""
        with self.transaction():
            self.db.execute("DELETE FROM signups WHERE email = ?", [email])
            cursor = self.db.execute(
                "INSERT INTO signups (email, name, keywords, frequency, client, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    email,
                    name,
                    json.dumps(list(keywords), ensure_ascii=False),
                    frequency,
                    client,
                    stamp(now),
                    stamp(expires_at),
                ],
            )
        found = self.signup(int(cursor.lastrowid or 0), now)
        if found is None:  # pragma: no cover - inserted just above
            raise LookupError("the sign-up just stored vanished")
        return found

    def signup(self, signup_id: int, now: dt.datetime) -> Signup | None:
        """The pending sign-up ``signup_id``, unless it expired, was confirmed or replaced."""
        row = self.db.execute(
            f"SELECT {_SIGNUP_COLUMNS} FROM signups "
            "WHERE id = ? AND julianday(expires_at) > julianday(?)",
            [signup_id, stamp(now)],
        ).fetchone()
        return _signup(row) if row else None

    def pending_signups(self, now: dt.datetime, *, limit: int = 500) -> list[Signup]:
        """Unexpired pending sign-ups, newest first."""
        rows = self.db.execute(
            f"SELECT {_SIGNUP_COLUMNS} FROM signups WHERE julianday(expires_at) > julianday(?) "
            "ORDER BY id DESC LIMIT ?",
            [stamp(now), limit],
        ).fetchall()
        return [_signup(row) for row in rows]

    def delete_signup(self, signup_id: int) -> bool:
        """Remove a pending sign-up (confirmed); True if it was there."""
        with self.transaction():
            cursor = self.db.execute("DELETE FROM signups WHERE id = ?", [signup_id])
        return cursor.rowcount == 1

    def purge_signups(self, now: dt.datetime, *, attempts_before: dt.datetime) -> int:
        """Delete the expired sign-ups and the attempts older than ``attempts_before``;
        the number of sign-ups deleted."""
        with self.transaction():
            cursor = self.db.execute(
                "DELETE FROM signups WHERE julianday(expires_at) <= julianday(?)", [stamp(now)]
            )
            self.db.execute(
                "DELETE FROM signup_attempts WHERE julianday(at) <= julianday(?)",
                [stamp(attempts_before)],
            )
        return cursor.rowcount

    def signup_attempts(self, client: str, since: dt.datetime) -> list[dt.datetime]:
        """When ``client`` posted the sign-up form after ``since``, oldest first."""
        rows = self.db.execute(
            "SELECT at FROM signup_attempts WHERE client = ? AND julianday(at) > julianday(?) "
            "ORDER BY julianday(at)",
            [client, stamp(since)],
        ).fetchall()
        return [dt.datetime.fromisoformat(row[0]) for row in rows]

    def signup_emails_sent(self, email: str, since: dt.datetime) -> int:
        """How many sign-up emails went to ``email`` after ``since``."""
        row = self.db.execute(
            "SELECT count(*) FROM signup_attempts WHERE email = ? AND julianday(at) > julianday(?)",
            [email, stamp(since)],
        ).fetchone()
        return int(row[0])

    def add_signup_attempt(self, client: str, now: dt.datetime, *, email: str | None) -> int:
        """Record one posted sign-up form (with ``email`` when an email goes to it); its id."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO signup_attempts (client, email, at) VALUES (?, ?, ?)",
                [client, email, stamp(now)],
            )
        return int(cursor.lastrowid or 0)

    def mark_signup_email(self, attempt_id: int, email: str) -> None:
        """Count an email to ``email`` against the attempt ``attempt_id``."""
        with self.transaction():
            self.db.execute(
                "UPDATE signup_attempts SET email = ? WHERE id = ?", [email, attempt_id]
            )
