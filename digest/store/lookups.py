"""The ingest's lookups: which stored papers a chunk of records may be (by id, by any
title, by an id the paper had before, by an id renamed or a fold deferred earlier in the
same ingest). Reads only, on
whichever connection the ingest gives (its read connection, see :mod:`.indexer`).

May import: the standard library and the store's ``db`` module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .db import in_chunks

# The folds an ingest deferred to its publish: (stored paper's id, new paper's id).
STAGED_FOLDS = (
    "SELECT s.id, p.id FROM staged_folds f JOIN papers s ON s.rowid = f.stray_rowid "
    "JOIN papers p ON p.rowid = f.paper_rowid"
)


@dataclass(frozen=True)
class Matches:
    """What :func:`papers_matching` found."""

    published: list[dict[str, Any]]
    staged: list[dict[str, Any]]  # this listing's own rows (created in an earlier chunk)
    aliases: list[tuple[str, str]]  # (old id, id now) of ids renamed in this ingest
    titles: list[tuple[str, str]]  # (paper id, title key) of the found rows' titles
    folds: list[tuple[str, str]]  # (stored paper's id, new paper's id): see Merge._absorb


def papers_matching(
    conn: sqlite3.Connection,
    ids: set[str],
    keys: set[str],
    *,
    renamed: bool = True,
    folded: bool = False,
) -> Matches:
    """Stored rows with one of ``ids``, or seen under a title of one of ``keys`` (or
    renamed from one of ``ids`` earlier in this ingest, or going into one of those when
    the ingest is published): see :class:`Matches`. Index lookups only; ``renamed=False``
    (no id was renamed in this ingest) skips the renamed ids', ``folded=False`` (no fold
    was deferred) the deferred folds'."""
    found: dict[str, dict[str, Any]] = {}
    aliases: list[tuple[str, str]] = []
    titles: list[tuple[str, str]] = []
    folds: list[tuple[str, str]] = []
    for chunk, marks in in_chunks(sorted(keys)):
        titles += conn.execute(
            f"SELECT paper_id, title_key FROM paper_titles WHERE title_key IN ({marks})",
            chunk,
        ).fetchall()
    # A reference paper an earlier chunk listed counts as this listing's, like its own.
    staged = (
        "(p.rowid IN (SELECT paper_rowid FROM staged_papers) OR p.rowid IN "
        "(SELECT paper_rowid FROM staged_references)) AS _staged"
    )

    def fetch(wanted: Iterable[str]) -> None:
        for chunk, marks in in_chunks(sorted(set(wanted) - found.keys())):
            for row in dict_rows(
                conn, f"SELECT p.*, {staged} FROM papers p WHERE id IN ({marks})", chunk
            ):
                found[row["id"]] = row

    fetch(ids | {paper_id for paper_id, _ in titles})
    # Ids that named a paper before (a listing's own id replaced by an arXiv id, a folded
    # paper's), when there are any, and ids renamed earlier in this ingest.
    (any_alias,) = conn.execute("SELECT EXISTS (SELECT 1 FROM paper_aliases)").fetchone()
    alias_tables = [
        "paper_aliases a JOIN papers p ON p.id = a.paper_id" if any_alias else "",
        "staged_aliases a JOIN papers p ON p.rowid = a.paper_rowid" if renamed else "",
    ]
    for source in filter(None, alias_tables):
        for chunk, marks in in_chunks(sorted(ids)):
            for row in dict_rows(
                conn,
                f"SELECT a.old_id AS _old_id, p.*, {staged} FROM {source} "
                f"WHERE a.old_id IN ({marks})",
                chunk,
            ):
                aliases.append((row.pop("_old_id"), row["id"]))
                found[row["id"]] = row
    for chunk, marks in in_chunks(sorted(found) if folded else []):
        folds += conn.execute(f"{STAGED_FOLDS} WHERE s.id IN ({marks})", chunk).fetchall()
    fetch(paper_id for _, paper_id in folds)
    published: list[dict[str, Any]] = []
    staged_rows: list[dict[str, Any]] = []
    for row in found.values():
        if row.pop("_staged"):
            row["reference"] = 0
            staged_rows.append(row)
        else:
            published.append(row)
    return Matches(published, staged_rows, aliases, titles, folds)


def dict_rows(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> Iterator[dict[str, Any]]:
    """The rows of a query as dicts keyed by column name."""
    cursor = conn.execute(sql, args)
    columns = [d[0] for d in cursor.description]
    for values in cursor:
        yield dict(zip(columns, values, strict=True))
