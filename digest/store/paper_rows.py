"""Reading ``papers`` rows into :class:`~digest.records.Paper` records, published ones only.

May import: the standard library, ``sqlite_utils``, :mod:`digest.records` and the store's
``schema`` module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from ..records import Paper
from .schema import VISIBLE


def visible_only(clause: str) -> str:
    """``clause`` (``[JOIN …] [WHERE …] [ORDER BY …] [LIMIT …]`` over ``papers p``, its
    conditions joined by AND) restricted to published papers (see :data:`VISIBLE`)."""
    head, where, tail = clause.partition("WHERE ")
    if where:
        return f"{head}WHERE {VISIBLE} AND {tail}"
    head, order, tail = clause.partition("ORDER BY")
    return f"{head} WHERE {VISIBLE} {order}{tail}"


def select_papers(db: sqlite_utils.Database, clause: str, args: Sequence[Any]) -> list[Paper]:
    """Published papers of ``papers p`` filtered and ordered by ``clause`` (see
    :func:`visible_only`), with their latest listing date."""
    clause = visible_only(clause)
    sql = (
        "SELECT p.id, p.title, p.abstract, p.authors, p.url, p.published, p.upvotes, "
        "p.first_seen, p.categories, (SELECT max(l.listing_date) FROM paper_listings pl "
        "JOIN listings l ON l.id = pl.listing_id WHERE pl.paper_id = p.id) AS listing_date "
        f"FROM papers p {clause}"
    )
    return [
        Paper(
            id=row["id"],
            title=row["title"],
            abstract=row["abstract"],
            authors=tuple(json.loads(row["authors"])),
            url=row["url"],
            published=row["published"],
            upvotes=row["upvotes"],
            first_seen=row["first_seen"],
            listing_date=row["listing_date"],
            categories=tuple(json.loads(row["categories"])),
        )
        for row in db.query(sql, args)
    ]
