"""Each sent digest's HTML, for its "view in browser" page (``/d/TOKEN``).

Table ``digest_pages``: one row per digest handed to the transport, holding the HTML part
exactly as it was sent (UTF-8, zlib-compressed: a 41 KB digest keeps in ~6 KB). A row goes
with its digest (``ON DELETE CASCADE``), so purging a subscriber removes their pages;
:meth:`DigestPageStore.prune_digest_pages` drops those older than the retention the run
keeps (:data:`KEEP_DAYS`).

May import: the standard library and :mod:`digest.store.db`.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from .db import StoreBase, stamp

KEEP_DAYS = 90  # how long a digest's page stays viewable
# zlib's fastest level: a 41 KB digest page compresses to 6,051 bytes in 163 us, against
# 5,099 bytes in 359 us at the default level 6 (2026-12-01): the run compresses one page
# per subscriber; pages written at another level read back the same.
COMPRESS_LEVEL = 1


def compress_page(html: bytes) -> bytes:
    """``html`` (UTF-8) as ``digest_pages`` keeps it: zlib-compressed at
    :data:`COMPRESS_LEVEL`. Pure CPU: the daily run calls it in its render workers and
    stores the result with :meth:`DigestPageStore.save_compressed_digest_page`."""
    return zlib.compress(html, COMPRESS_LEVEL)


@dataclass(frozen=True)
class DigestPage:
    """A stored digest page and whose digest it is."""

    digest_id: int
    subscriber_id: int
    status: str  # the digest's status: only a ``sent`` one is shown
    html: bytes  # UTF-8, exactly the HTML part of the message sent


class DigestPageStore(StoreBase):
    def save_digest_page(self, digest_id: int, html: bytes, *, now: dt.datetime) -> None:
        """Keep ``html`` (the HTML part as sent, UTF-8) as digest ``digest_id``'s page,
        replacing an earlier copy (a digest sent again after a crash)."""
        self.save_compressed_digest_page(digest_id, compress_page(html), now=now)

    def save_compressed_digest_page(
        self, digest_id: int, compressed: bytes, *, now: dt.datetime
    ) -> None:
        """As :meth:`save_digest_page`, given ``compress_page(html)`` already made."""
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO digest_pages (digest_id, html, stored_at) VALUES (?, ?, ?)",
                [digest_id, compressed, stamp(now)],
            )

    def save_compressed_digest_pages(
        self, pages: Sequence[tuple[int, bytes]], *, now: dt.datetime
    ) -> None:
        """:meth:`save_compressed_digest_page` for each (digest id, ``compress_page(html)``),
        in one transaction (the daily run saves a batch's pages with its claims)."""
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO digest_pages (digest_id, html, stored_at) VALUES (?, ?, ?)",
                [(digest_id, compressed, stamp(now)) for digest_id, compressed in pages],
            )

    def digest_page(self, digest_id: int) -> DigestPage | None:
        """Digest ``digest_id``'s stored page, or None (never stored, or pruned)."""
        row = self.db.execute(
            "SELECT d.id, d.subscriber_id, d.status, p.html FROM digests d "
            "JOIN digest_pages p ON p.digest_id = d.id WHERE d.id = ?",
            [digest_id],
        ).fetchone()
        if row is None:
            return None
        return DigestPage(row[0], row[1], row[2], zlib.decompress(row[3]))

    def digest_owner(self, digest_id: int) -> int | None:
        """The subscriber id of digest ``digest_id``, or None if there is no such digest."""
        row = self.db.execute(
            "SELECT subscriber_id FROM digests WHERE id = ?", [digest_id]
        ).fetchone()
        return None if row is None else int(row[0])

    def prune_digest_pages(self, before: dt.datetime) -> int:
        """Drop the pages stored before ``before``; how many."""
        with self.transaction():
            cursor = self.db.execute(
                "DELETE FROM digest_pages WHERE julianday(stored_at) < julianday(?)",
                [stamp(before)],
            )
        return cursor.rowcount
