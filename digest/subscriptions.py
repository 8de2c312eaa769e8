"""Subscribers as people write them (:class:`~digest.profiles.SubscriberEntry`) in and
out of the store: paper references resolved to stored ids, entries built for export.

The store takes resolved values (:class:`~digest.store.subscribers.SubscriberUpdate`) and
knows nothing of import files; :mod:`digest.profiles` validates entries and knows nothing
of the database. This module sits between the two, used by the CLI, the web pages and the
demo.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from .errors import SubscriberError
from .profiles import (
    ENTRY_KEYS,
    ProfileChanges,
    SubscriberEntry,
    apply_profile_changes,
    profile_from_entry,
)
from .records import Subscriber
from .sources.ids import arxiv_id_from
from .sources.library import clean_doi
from .store import Store, SubscriberSettings, SubscriberUpdate

# What an unknown paper reference tells people to do, where they gave it.
CLI_HINT = "give a stored paper id or exact title (see `digest papers search`)"


def resolve_paper_refs(
    store: Store, refs: Iterable[str], *, label: str, where: str = "", hint: str = CLI_HINT
) -> list[str]:
    """The stored paper ids of ``refs`` (paper ids or exact titles), each once, in order.

    An unknown reference is a :class:`SubscriberError` that names it: ``where`` (e.g.
    ``"ada@example.org: "``) + ``label`` (``liked`` or ``disliked``) + the reference, then
    ``hint``, what to do about it.
    """
    ids: list[str] = []
    for ref in refs:
        paper_id = resolve_paper_ref(store, ref)
        if paper_id is None:
            raise SubscriberError(f"{where}{label} paper {ref!r} is not in the store; {hint}")
        if paper_id not in ids:
            ids.append(paper_id)
    return ids


def resolve_paper_ref(store: Store, ref: str) -> str | None:
    """The stored paper id of ``ref`` (a paper id, an exact title, or a DOI as
    :func:`portable_paper_refs` writes it: ``doi:10.…``), None when no paper has it."""
    found = store.resolve_paper_ref(ref)
    if found is None and ref.strip().lower().startswith(("doi:", "https://doi.org/")):
        doi = clean_doi(ref)
        found = store.resolve_paper_ref(doi) if doi else None
    return found


def portable_paper_refs(store: Store, ids: Iterable[str]) -> tuple[str, ...]:
    """Paper ids as references another instance can resolve: the arXiv id, else the DOI
    (``doi:10.…``, the id of a paper a library gave by DOI), else the paper's title (an
    internal title hash such as ``t:5563e10cdb032fc9`` means nothing elsewhere). An id
    no stored paper has is kept as it is."""
    ids = tuple(ids)
    papers = store.papers_by_id(ids)
    refs: list[str] = []
    for asked in ids:
        paper = papers.get(asked)
        paper_id = paper.id if paper is not None else asked  # its id now
        if arxiv_id_from(paper_id) == paper_id or paper is None:
            refs.append(paper_id)
        elif (doi := clean_doi(paper_id)) == paper_id.lower():
            refs.append(f"doi:{doi}")
        else:
            refs.append(paper.title)
    return tuple(refs)


def update_for(entry: SubscriberEntry, store: Store) -> SubscriberUpdate:
    """What the store saves for ``entry``: its liked/disliked references resolved."""
    where = f"{entry.email}: "
    liked = resolve_paper_refs(store, entry.liked, label="liked", where=where)
    disliked = resolve_paper_refs(store, entry.disliked, label="disliked", where=where)
    return SubscriberUpdate(
        email=entry.email,
        settings=SubscriberSettings(
            name=entry.name,
            status=entry.status,
            frequency=entry.frequency,
            timezone=entry.timezone,
            max_papers=entry.max_papers,
            min_score=entry.min_score,
            quiet_day=entry.quiet_day,
        ),
        profile=profile_from_entry(entry, liked, disliked),
        given=entry.present or frozenset(ENTRY_KEYS),
    )


def save_entries(
    store: Store, entries: Sequence[SubscriberEntry], *, who: str, now: dt.datetime
) -> list[tuple[Subscriber, bool]]:
    """Create or update subscribers and their profiles, all or nothing.

    An entry updates only the keys it gave (``entry.present``), so a partial import does
    not wipe a profile. Unknown liked/disliked papers fail the whole call. Returns each
    subscriber and whether it was created.
    """
    with store.transaction():
        updates = [update_for(entry, store) for entry in entries]
        return store.save_subscribers(updates, who=who, now=now)


def entry_for(store: Store, subscriber: Subscriber, *, portable: bool = False) -> SubscriberEntry:
    """A subscriber and profile in the import/export form; ``portable`` gives liked and
    disliked papers as :func:`portable_paper_refs` (for an export read by another
    instance), else as stored paper ids."""
    profile = store.profile(subscriber.id)
    liked, disliked = profile.liked, profile.disliked
    if portable:
        liked, disliked = portable_paper_refs(store, liked), portable_paper_refs(store, disliked)
    return SubscriberEntry(
        email=subscriber.email,
        name=subscriber.name,
        keywords=profile.keywords,
        exclude=profile.exclude,
        liked=liked,
        disliked=disliked,
        description=profile.description,
        frequency=subscriber.frequency,
        timezone=subscriber.timezone,
        max_papers=subscriber.max_papers,
        min_score=subscriber.min_score,
        quiet_day=subscriber.quiet_day,
        status=subscriber.status,
        authors=profile.authors,
        categories=profile.categories,
        exclude_categories=profile.exclude_categories,
    )


def change_profile(
    store: Store, email: str, changes: ProfileChanges, *, who: str, now: dt.datetime
) -> Subscriber:
    """Merge ``changes`` into a subscriber's profile and save it (a new profile version).

    Raises :class:`~digest.errors.NotFoundError` for an unknown email and
    :class:`SubscriberError` for a bad term or an added paper not in the store.
    """
    subscriber = store.subscriber(email)
    entry = entry_for(store, subscriber)
    removed_ids = {i for r in changes.remove if (i := store.resolve_paper_ref(r)) is not None}
    new_entry = apply_profile_changes(entry, changes, removed_ids=removed_ids)
    save_entries(store, [new_entry], who=who, now=now)
    return subscriber


# Who changed a status, as recorded ("web:subscriber", "web:admin", "cli:NAME"), in words.
_CHANGED_BY = {
    "web:subscriber": "their own choice via the unsubscribe link",
    "web:admin": "by an admin in the web UI",
}


def unsubscribe_choice(store: Store, subscriber: Subscriber) -> str | None:
    """Why resuming ``subscriber`` needs confirming, in one sentence ("ada@example.org
    unsubscribed on 2026-11-02 (their own choice via the unsubscribe link)"); None unless
    they are unsubscribed."""
    change = store.status_change(subscriber.id)
    if change.status != "unsubscribed":
        return None
    when = f" on {change.changed_at[:10]}" if change.changed_at else ""
    by = change.changed_by
    if by is None:
        whose = "who made that choice is not recorded"
    elif by in _CHANGED_BY:
        whose = _CHANGED_BY[by]
    elif by.startswith("cli"):
        whose = f"by {by} on the command line"
    else:
        whose = f"by {by}"
    return f"{subscriber.email} unsubscribed{when} ({whose})"


def resume_subscriber(
    store: Store, email: str, *, force: bool, who: str, now: dt.datetime
) -> tuple[Subscriber, bool]:
    """Make a paused or bounced subscriber active again; returns them and whether the
    status changed. Someone who unsubscribed is resumed only with ``force``: an unsubscribe
    is a person's choice, not to be undone by a mistyped command
    (:class:`SubscriberError` says whose choice it would override)."""
    subscriber = store.subscriber(email)
    choice = unsubscribe_choice(store, subscriber)
    if choice and not force:
        raise SubscriberError(f"{choice}; resume with --force to override it")
    changed = store.set_status_by_id(subscriber.id, "active", now=now, by=who)
    return subscriber, changed
