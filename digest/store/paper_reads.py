"""Every query about papers (lists, lookups, search, the day's counts): the read side of
:class:`digest.store.papers.PaperStore`, which adds the ingest.

May import: the standard library, :mod:`digest.errors`, :mod:`digest.records`,
:mod:`digest.sources` (identity helpers) and the store's ``db``, ``schema`` and
``paper_rows`` modules.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..errors import NotFoundError, StoreError
from ..records import Paper, paper_text
from ..sources import arxiv_id_from, normalize_title
from .db import StoreBase, day_text, in_chunks
from .paper_rows import select_papers
from .schema import VISIBLE


class PaperReads(StoreBase):
    """Queries about published papers."""

    # --- papers ---------------------------------------------------------------------------

    def paper_count(self) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM papers p WHERE {VISIBLE}").fetchone()[0])

    def corpus_fingerprint(self) -> str:
        """Changes whenever a paper is added, renamed or edited (``max(updated_at)`` is a
        change marker here, not a time: its text is not compared with anything)."""
        row = self.db.execute(
            "SELECT count(*), coalesce(max(rowid), 0), coalesce(max(updated_at), '') "
            f"FROM papers p WHERE {VISIBLE}"
        ).fetchone()
        return f"{row[0]}:{row[1]}:{row[2]}"

    def iter_paper_texts(self) -> Iterator[str]:
        """Title and abstract of every paper, for fitting the ranker's vocabulary."""
        for title, abstract in self.db.execute(
            f"SELECT title, abstract FROM papers p WHERE {VISIBLE} ORDER BY rowid"
        ):
            yield paper_text(title, abstract)

    def papers(
        self,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
        limit: int | None = None,
        new_only: bool = False,
    ) -> list[Paper]:
        """Papers first seen in [since, until] (both optional), newest first; never the
        reference papers of a library import (see :meth:`store_reference_papers`);
        ``new_only``: leave out old papers (first seen as a replacement), which are never
        candidates."""
        clauses, args = ["p.reference = 0"] + (["p.is_new = 1"] if new_only else []), []
        if since:
            clauses.append("p.first_seen >= ?")  # YYYY-MM-DD compares as text correctly
            args.append(day_text(since))
        if until:
            clauses.append("p.first_seen <= ?")
            args.append(day_text(until))
        where = f"WHERE {' AND '.join(clauses)}"
        suffix = f" LIMIT {int(limit)}" if limit else ""
        return self._papers(f"{where} ORDER BY p.first_seen DESC, p.rowid{suffix}", args)

    def paper_page(self, *, offset: int, limit: int) -> list[Paper]:
        """One page of papers, newest first (the order of :meth:`papers`)."""
        return self._papers(
            "ORDER BY p.first_seen DESC, p.rowid LIMIT ? OFFSET ?", [int(limit), int(offset)]
        )

    def papers_first_seen_on(self, day: dt.date, *, offset: int, limit: int) -> list[Paper]:
        """One page of the new papers first seen on ``day`` (not old papers first seen as
        replacements): most upvoted first (unknown last)."""
        return self._papers(
            # Never a library's reference papers: that day's page is public.
            "WHERE p.first_seen = ? AND p.reference = 0 AND p.is_new = 1 "
            "ORDER BY p.upvotes IS NULL, p.upvotes DESC, p.rowid "
            "LIMIT ? OFFSET ?",
            [day.isoformat(), int(limit), int(offset)],
        )

    def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]:
        """The visible papers with these ids, by the id asked for: an id a paper had
        before (``paper_aliases``: a listing's own id replaced by its arXiv id, a folded
        title-only paper's id, as emailed links and profiles may still name it) gives the
        paper under its id now."""
        wanted = set(ids)
        result: dict[str, Paper] = {}
        for chunk, marks in in_chunks(sorted(wanted)):
            for paper in self._papers(f"WHERE p.id IN ({marks})", chunk):
                result[paper.id] = paper
        renamed: dict[str, str] = {}
        for chunk, marks in in_chunks(sorted(wanted - result.keys())):
            renamed.update(
                self.db.execute(
                    f"SELECT old_id, paper_id FROM paper_aliases WHERE old_id IN ({marks})",
                    chunk,
                ).fetchall()
            )
        if renamed:
            current = self.papers_by_id(set(renamed.values()) - result.keys()).values()
            now = {p.id: p for p in current}
            now.update(result)
            result.update({old: now[new] for old, new in renamed.items() if new in now})
        return result

    def paper(self, paper_id: str) -> Paper:
        """One paper by id (a versioned arXiv id such as ``2305.07922v2`` also works)."""
        candidates = [paper_id, arxiv_id_from(paper_id) or paper_id]
        for candidate in candidates:
            found = self.papers_by_id([candidate])
            if found:
                return found[candidate]
        raise NotFoundError(f"no paper with id {paper_id!r}; try `digest papers search`")

    def paper_by_title(self, title: str) -> Paper | None:
        """The paper seen under a title whose normalized form equals that of ``title``;
        ``None`` when no paper or several (different arXiv ids) have it."""
        rows = self._papers(
            "WHERE p.id IN (SELECT paper_id FROM paper_titles WHERE title_key = ?)",
            [normalize_title(title)],
        )
        return rows[0] if len(rows) == 1 else None

    def paper_exists(self, paper_id: str) -> bool:
        row = self.db.execute(
            f"SELECT 1 FROM papers p WHERE id = ? AND {VISIBLE}", [paper_id]
        ).fetchone()
        return row is not None

    def resolve_paper_ref(self, ref: str) -> str | None:
        """A paper id for ``ref``: a stored id (versioned arXiv ids too), an id the paper
        had before (its id now is returned) or an exact title."""
        ref = ref.strip()
        for candidate in (ref, arxiv_id_from(ref)):
            if candidate and self.paper_exists(candidate):
                return candidate
        found = self.papers_by_id([ref]).get(ref)  # an id the paper had before
        if found is not None:
            return found.id
        paper = self.paper_by_title(ref)
        return paper.id if paper else None

    def search_papers(self, query: str, *, limit: int = 20) -> list[Paper]:
        """Full-text search over title and abstract, best match first."""
        words = [w for w in query.replace('"', " ").split() if w]
        if not words:
            return []
        # Quote every word so user input cannot be read as FTS5 syntax.
        match = " ".join(f'"{w}"' for w in words)
        try:
            return self._papers(
                "JOIN papers_fts f ON f.rowid = p.rowid WHERE papers_fts MATCH ? "
                f"ORDER BY f.rank LIMIT {int(limit)}",
                [match],
            )
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot search for {query!r}: {exc}") from exc

    def new_paper_count(self, day: dt.date) -> int:
        """New papers (not old ones first seen as replacements) first seen on ``day``."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM papers p WHERE first_seen = ? AND reference = 0 "
                f"AND is_new = 1 AND {VISIBLE}",
                [day_text(day)],
            ).fetchone()[0]
        )

    def trending(self, day: dt.date, *, limit: int) -> list[Paper]:
        """The day's new papers with the most upvotes (not personalised)."""
        if limit <= 0:
            return []
        return self._papers(
            "WHERE p.first_seen = ? AND p.reference = 0 AND p.is_new = 1 "
            "AND p.upvotes IS NOT NULL AND p.upvotes > 0 "
            f"ORDER BY p.upvotes DESC, p.rowid LIMIT {int(limit)}",
            [day_text(day)],
        )

    def _papers(self, clause: str, args: Sequence[Any]) -> list[Paper]:
        return select_papers(self.db, clause, args)
