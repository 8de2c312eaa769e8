"""Subscribers and what belongs to each: their interest profile, the profile's history
and their feedback votes.

Owns the tables ``subscribers``, ``profiles``, ``profile_history`` and ``feedback``.

May import: the standard library, ``sqlite_utils``, :mod:`digest.errors`,
:mod:`digest.records` and :mod:`digest.store.db`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import NotFoundError, StoreError
from ..records import Keyword, Profile, Subscriber
from .db import StoreBase, in_chunks, stamp


@dataclass(frozen=True)
class SubscriberSettings:
    """What a person sets on a subscriber: every column of ``subscribers`` but its id,
    email, timestamps and failure count. The one list of those columns (:data:`SETTINGS`)."""

    name: str = ""
    status: str = "active"
    frequency: str = "daily"
    timezone: str = "UTC"
    max_papers: int = 10
    min_score: float | None = None
    quiet_day: str = "skip"


SETTINGS = tuple(f.name for f in fields(SubscriberSettings))
# The columns of a Subscriber record, in its order.
_SUBSCRIBER_COLUMNS = ", ".join(("id", "email", *SETTINGS, "created", "updated"))

# The profile fields a SubscriberUpdate may give.
PROFILE_FIELDS = tuple(f.name for f in fields(Profile))


@dataclass(frozen=True)
class SubscriberUpdate:
    """A subscriber to create or change, with resolved values: its settings, its profile
    (liked and disliked are stored paper ids) and the names of the settings and profile
    fields it gives. A subscriber that exists keeps what an update does not give."""

    email: str
    settings: SubscriberSettings = SubscriberSettings()
    profile: Profile = field(default_factory=Profile)
    given: frozenset[str] = frozenset((*SETTINGS, *PROFILE_FIELDS))


@dataclass(frozen=True)
class StatusChange:
    """The last change of a subscriber's status: when (ISO 8601) and by whom
    ("web:subscriber" for their own unsubscribe link, "web:admin", "cli:NAME"); either is
    None when the change predates the record."""

    status: str
    changed_at: str | None
    changed_by: str | None


@dataclass(frozen=True)
class ProfileChange:
    """One entry of a subscriber's profile history. ``version`` numbers a subscriber's
    changes 1, 2, 3 … in the order they were made (``id`` is the row id, global)."""

    id: int
    version: int
    changed_at: str
    changed_by: str
    change: str
    profile: Profile


# The profile's columns of ``profiles`` (and keys of a history snapshot), in order.
_PROFILE_COLUMNS = (
    "keywords",
    "exclude",
    "liked",
    "disliked",
    "description",
    "authors",
    "categories",
    "exclude_categories",
)
_PROFILE_SELECT = ", ".join(_PROFILE_COLUMNS)


def _profile_to_json(profile: Profile) -> dict[str, str]:
    return {
        "keywords": json.dumps([{"text": k.text, "weight": k.weight} for k in profile.keywords]),
        "exclude": json.dumps(list(profile.exclude)),
        "liked": json.dumps(list(profile.liked)),
        "disliked": json.dumps(list(profile.disliked)),
        "description": profile.description,
        "authors": json.dumps(list(profile.authors)),
        "categories": json.dumps(list(profile.categories)),
        "exclude_categories": json.dumps(list(profile.exclude_categories)),
    }


def _profile_from_json(
    keywords: str,
    exclude: str,
    liked: str,
    disliked: str,
    description: str,
    authors: str = "[]",
    categories: str = "[]",
    exclude_categories: str = "[]",
) -> Profile:
    # The defaults read history snapshots taken before profiles followed authors.
    return Profile(
        keywords=tuple(Keyword(k["text"], float(k["weight"])) for k in json.loads(keywords)),
        exclude=tuple(json.loads(exclude)),
        liked=tuple(json.loads(liked)),
        disliked=tuple(json.loads(disliked)),
        description=description,
        authors=tuple(json.loads(authors)),
        categories=tuple(json.loads(categories)),
        exclude_categories=tuple(json.loads(exclude_categories)),
    )


def describe_profile_change(old: Profile, new: Profile) -> str:
    """What changed between two profiles, in words, for the history."""
    parts = []
    for label, before, after in (
        ("keyword", [str(k) for k in old.keywords], [str(k) for k in new.keywords]),
        ("exclude", list(old.exclude), list(new.exclude)),
        ("like", list(old.liked), list(new.liked)),
        ("dislike", list(old.disliked), list(new.disliked)),
        ("author", list(old.authors), list(new.authors)),
        ("category", list(old.categories), list(new.categories)),
        ("exclude category", list(old.exclude_categories), list(new.exclude_categories)),
    ):
        had, has = set(before), set(after)  # a library import may add thousands
        parts += [f"+{label} {v}" for v in after if v not in had]
        parts += [f"-{label} {v}" for v in before if v not in has]
    if old.description != new.description:
        parts.append("description changed")
    return "; ".join(parts) or "no change"


class SubscriberStore(StoreBase):
    """Subscribers, profiles, profile history and feedback."""

    def _subscribers(self, clause: str, args: Sequence[Any]) -> list[Subscriber]:
        return [
            Subscriber(**row)
            for row in self.db.query(
                f"SELECT {_SUBSCRIBER_COLUMNS} FROM subscribers {clause}", args
            )
        ]

    def subscribers(
        self, *, status: str | None = None, search: str | None = None
    ) -> list[Subscriber]:
        """Subscribers by email, optionally only those with ``status`` or matching ``search``."""
        clauses, args = [], []
        if status:
            clauses.append("status = ?")
            args.append(status)
        if search:
            clauses.append("(email LIKE ? OR name LIKE ?)")
            args += [f"%{search}%", f"%{search}%"]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._subscribers(f"{where} ORDER BY email", args)

    def subscriber(self, email: str) -> Subscriber:
        """The subscriber with this email (case-insensitive)."""
        found = self._subscribers("WHERE email = ?", [email.strip()])
        if not found:
            raise NotFoundError(f"no subscriber {email.strip()!r}; see `digest subscribers list`")
        return found[0]

    def subscriber_by_id(self, subscriber_id: int) -> Subscriber:
        found = self._subscribers("WHERE id = ?", [subscriber_id])
        if not found:
            raise NotFoundError(f"no subscriber with id {subscriber_id}")
        return found[0]

    def save_subscribers(
        self, updates: Sequence[SubscriberUpdate], *, who: str, now: dt.datetime
    ) -> list[tuple[Subscriber, bool]]:
        """Create or update subscribers and their profiles, all or nothing.

        An update changes only what it gave (``update.given``), so a partial import does
        not wipe a profile. Returns each subscriber and whether it was created.
        """
        with self.transaction():
            return [self._save_subscriber(update, who=who, now=now) for update in updates]

    def _save_subscriber(
        self, update: SubscriberUpdate, *, who: str, now: dt.datetime
    ) -> tuple[Subscriber, bool]:
        existing = self._subscribers("WHERE email = ?", [update.email])
        given = update.given
        settings = update.settings
        if existing:
            sub = existing[0]
            changes = {c: getattr(settings, c) for c in SETTINGS if c in given}
            if changes:
                sets = ", ".join(f"{c} = ?" for c in changes)
                self.db.execute(
                    f"UPDATE subscribers SET {sets}, updated = ? WHERE id = ?",
                    [*changes.values(), stamp(now), sub.id],
                )
            created = False
            subscriber_id = sub.id
            old = self.profile(subscriber_id)
        else:
            cursor = self.db.execute(
                f"INSERT INTO subscribers (email, {', '.join(SETTINGS)}, created, updated) "
                f"VALUES ({', '.join('?' * (len(SETTINGS) + 3))})",
                [update.email, *(getattr(settings, c) for c in SETTINGS), stamp(now), stamp(now)],
            )
            subscriber_id = int(cursor.lastrowid or 0)
            created = True
            old = Profile()
        wanted = update.profile
        new = Profile(
            **{f: getattr(wanted, f) if f in given else getattr(old, f) for f in PROFILE_FIELDS}
        )
        if created or new != old:
            self._write_profile(subscriber_id, new, old, who=who, now=now)
        return self.subscriber_by_id(subscriber_id), created

    def update_subscriber(self, email: str, *, now: dt.datetime, **changes: Any) -> Subscriber:
        """Change subscriber columns (name, status, frequency, …) by email."""
        bad = set(changes) - set(SETTINGS)
        if bad:
            raise StoreError(f"cannot change {', '.join(sorted(bad))} of a subscriber")
        sub = self.subscriber(email)
        if changes:
            sets = ", ".join(f"{c} = ?" for c in changes)
            with self.transaction():
                self.db.execute(
                    f"UPDATE subscribers SET {sets}, updated = ? WHERE id = ?",
                    [*changes.values(), stamp(now), sub.id],
                )
        return self.subscriber_by_id(sub.id)

    def set_status_by_id(
        self, subscriber_id: int, status: str, *, now: dt.datetime, by: str | None = None
    ) -> bool:
        """Set a subscriber's status, recording who changed it (``by``); True if it changed
        (idempotent for repeats)."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE subscribers SET status = ?, updated = ?, status_changed_at = ?, "
                "status_changed_by = ? WHERE id = ? AND status != ?",
                [status, stamp(now), stamp(now), by, subscriber_id, status],
            )
        return cursor.rowcount > 0

    def status_change(self, subscriber_id: int) -> StatusChange:
        """The subscriber's status and who set it when."""
        row = self.db.execute(
            "SELECT status, status_changed_at, status_changed_by FROM subscribers WHERE id = ?",
            [subscriber_id],
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no subscriber with id {subscriber_id}")
        return StatusChange(*row)

    def remove_subscriber(
        self, email: str, *, purge: bool, now: dt.datetime, by: str | None = None
    ) -> Subscriber:
        """Unsubscribe (keeping sends, feedback and history), or with ``purge`` delete all;
        ``by``: who did it, recorded with the status."""
        sub = self.subscriber(email)
        with self.transaction():
            if purge:
                self.db.execute("DELETE FROM subscribers WHERE id = ?", [sub.id])
            else:
                self.db.execute(
                    "UPDATE subscribers SET status = 'unsubscribed', updated = ?, "
                    "status_changed_at = ?, status_changed_by = ? "
                    "WHERE id = ? AND status != 'unsubscribed'",
                    [stamp(now), stamp(now), by, sub.id],
                )
        return sub

    # --- profiles -------------------------------------------------------------------------

    def profile(self, subscriber_id: int) -> Profile:
        row = self.db.execute(
            f"SELECT {_PROFILE_SELECT} FROM profiles WHERE subscriber_id = ?",
            [subscriber_id],
        ).fetchone()
        return _profile_from_json(*row) if row else Profile()

    def profiles(self, subscriber_ids: Iterable[int]) -> dict[int, Profile]:
        ids = sorted(set(subscriber_ids))
        result = {i: Profile() for i in ids}
        for chunk, marks in in_chunks(ids):
            for row in self.db.execute(
                f"SELECT subscriber_id, {_PROFILE_SELECT} "
                f"FROM profiles WHERE subscriber_id IN ({marks})",
                chunk,
            ):
                result[row[0]] = _profile_from_json(*row[1:])
        return result

    def save_profile(
        self, subscriber_id: int, profile: Profile, *, who: str, now: dt.datetime
    ) -> bool:
        """Replace a profile and record the change in its history; False if nothing changed."""
        with self.transaction():
            old = self.profile(subscriber_id)
            if old == profile:
                return False
            self._write_profile(subscriber_id, profile, old, who=who, now=now)
        return True

    def _write_profile(
        self, subscriber_id: int, new: Profile, old: Profile, *, who: str, now: dt.datetime
    ) -> None:
        data = _profile_to_json(new)
        sets = ", ".join(f"{c} = excluded.{c}" for c in (*_PROFILE_COLUMNS, "updated"))
        self.db.execute(
            f"INSERT INTO profiles (subscriber_id, {_PROFILE_SELECT}, updated) "
            f"VALUES ({', '.join('?' * (len(_PROFILE_COLUMNS) + 2))}) "
            f"ON CONFLICT (subscriber_id) DO UPDATE SET {sets}",
            [subscriber_id, *(data[c] for c in _PROFILE_COLUMNS), stamp(now)],
        )
        self.db.execute(
            "INSERT INTO profile_history (subscriber_id, changed_at, changed_by, change, profile) "
            "VALUES (?, ?, ?, ?, ?)",
            [subscriber_id, stamp(now), who, describe_profile_change(old, new), json.dumps(data)],
        )

    def profile_history(self, subscriber_id: int) -> list[ProfileChange]:
        return [
            ProfileChange(
                id=row["id"],
                version=row["version"],
                changed_at=row["changed_at"],
                changed_by=row["changed_by"],
                change=row["change"],
                profile=_profile_from_json(**json.loads(row["profile"])),
            )
            for row in self.db.query(
                # Versions are counted per subscriber in row order, which never changes:
                # version N names the same row for as long as the subscriber exists.
                "SELECT id, row_number() OVER (ORDER BY id) AS version, changed_at, "
                "changed_by, change, profile FROM profile_history "
                "WHERE subscriber_id = ? ORDER BY id DESC",
                [subscriber_id],
            )
        ]

    def restore_profile(
        self, subscriber_id: int, version: int, *, who: str, now: dt.datetime
    ) -> Profile:
        """Make an earlier version (the subscriber's own numbering, 1 = their first) of the
        profile current again; the restore is itself a recorded change."""
        for change in self.profile_history(subscriber_id):
            if change.version == version:
                self.save_profile(subscriber_id, change.profile, who=who, now=now)
                return change.profile
        raise NotFoundError(
            f"no profile version {version} for this subscriber; see `digest profile history`"
        )

    # --- feedback -----------------------------------------------------------------------------

    def record_feedback(
        self, subscriber_id: int, paper_id: str, vote: int, *, source: str, now: dt.datetime
    ) -> None:
        """Remember a +1/-1 on a paper; the latest vote per paper counts."""
        if vote not in (-1, 1):
            raise StoreError(f"feedback vote must be +1 or -1, not {vote}")
        with self.transaction():
            self.db.execute(
                "INSERT INTO feedback (subscriber_id, paper_id, vote, source, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [subscriber_id, paper_id, vote, source, stamp(now)],
            )

    def feedback_votes(self, subscriber_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """subscriber id → paper id → latest vote."""
        ids = sorted(set(subscriber_ids))
        votes: dict[int, dict[str, int]] = {i: {} for i in ids}
        for chunk, marks in in_chunks(ids):
            for sub_id, paper_id, vote in self.db.execute(
                "SELECT subscriber_id, paper_id, vote FROM feedback "
                f"WHERE subscriber_id IN ({marks}) ORDER BY id",
                chunk,
            ):
                votes[sub_id][paper_id] = vote
        return votes
