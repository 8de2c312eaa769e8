"""Handing rendered digests over: claims, hand-offs and marks, one digest or one batch at
a time, in the order the run's state machine documents (see :mod:`digest.run`).

:class:`Batch` takes the rendered digests the run's loop collects and, for each, records a
quiet day as skipped, or claims the digest (committed), hands the message to the
transport and marks it sent. With a transport that makes a repeat harmless (the outbox)
it works a batch at a time with the store's bulk statements; otherwise (SMTP) one digest
at a time, one commit per claim and per mark, which bounds the SMTP duplicate window to
one message. :class:`Renderings` is how the run renders a day's digests (in-process or
in a :class:`~digest.render.pool.RenderPool`), and keeps the messages the render workers
staged on disk until they are handed over or removed.

Same tier as :mod:`digest.run` (whose report and context it fills, named for types only).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .config import Config
from .errors import DeliveryError, PermanentDeliveryError, TransportError
from .files import StagedFiles
from .records import DigestContent, Subscriber
from .render import RenderedDigest
from .render.pool import RenderPool
from .store import DigestClaim, DigestRow, SentDigest, Store
from .text import plural
from .transports import OutgoingMessage
from .transports.outbox import stored_page

if TYPE_CHECKING:
    import datetime as dt

    from .run import RunContext, RunReport


class Renderings:
    """How this day's digests are rendered (a callable: contents in, results out, in
    order), and the staged messages it gave out that were not handed over yet.

    Messages staged by the render workers (``stage=True`` and a transport with a
    ``stager()``) wait in :attr:`waiting` until :class:`Batch` hands them over or discards
    them; whatever still waits when the day's delivery ends (a stop, an error) is removed
    by :func:`digest.run._renderings`.
    """

    def __init__(self, ctx: RunContext, pool: RenderPool | None) -> None:
        self.ctx, self.pool = ctx, pool
        self.waiting: set[StagedFiles] = set()

    def __call__(
        self, contents: Iterable[DigestContent], *, stage: bool = False
    ) -> Iterator[RenderedDigest]:
        ctx = self.ctx
        if self.pool is None:
            return (ctx.renderer.render_digest(c, now=ctx.now()) for c in contents)
        stager = getattr(ctx.transport, "stager", None) if stage else None
        results = self.pool.render(contents, now=ctx.now, stage=stager() if stager else None)
        return self._tracked(results) if stager else results

    def _tracked(self, results: Iterator[RenderedDigest]) -> Iterator[RenderedDigest]:
        for result in results:
            if result.staged is not None:
                self.waiting.add(result.staged)
            yield result


# WAL pages between checkpoints while batches are committed (32 MiB; SQLite's default is
# 1,000): a batch of 200 digests writes ~1,000 pages, so the default checkpoints at nearly
# every commit, in the run's own process.
CHECKPOINT_PAGES = 8192

Item = tuple[Subscriber, DigestRow | None, RenderedDigest]
Claimed = tuple[Subscriber, DigestRow, RenderedDigest]


class Batch:
    """Records and hands over rendered digests, one batch at a time, in the documented
    order: each digest is claimed (committed) before its hand-off and marked sent after.

    With a transport that declares ``idempotent_redelivery`` (the outbox) a batch's skips,
    claims and pages are one commit of a few bulk statements and its marks another (see
    :mod:`digest.store.digest_batches`); just before each hand-off the run asks SQLite
    whether another connection committed anything since the claim and, if so, reads the
    batch's subscribers again, so an unsubscribe that landed after the claim still wins.
    Any other transport (SMTP) gets one digest at a time, one commit per claim and per mark.

    A message a render worker staged (``RenderedDigest.staged``) is handed over only after
    its claim is committed; on every other path its files are removed (``waiting``).
    """

    def __init__(
        self,
        store: Store,
        config: Config,
        ctx: RunContext,
        report: RunReport,
        day: dt.date,
        claim: str,
        waiting: set[StagedFiles] | None = None,
    ) -> None:
        self.store, self.config, self.ctx, self.report = store, config, ctx, report
        self.day, self.claim = day, claim
        self.bulk = bool(getattr(ctx.transport, "idempotent_redelivery", False))
        self.waiting = set() if waiting is None else waiting
        if self.bulk:
            store.checkpoint_every(CHECKPOINT_PAGES)

    def stop(self) -> bool:
        self.report.notes.append("stopped by a signal; the rest is left for the next run")
        self.report.status = "interrupted"
        return False

    def deliver(self, items: list[Item], *, candidates: int, dry_run: bool) -> bool:
        """Skip, claim, hand over and mark ``items``; False when the run must stop."""
        if self.bulk:
            return self._deliver_batch(items, candidates=candidates, dry_run=dry_run)
        for item in items:
            if not self._deliver_one(item, candidates=candidates, dry_run=dry_run):
                return False
        return True

    # --- one digest at a time (SMTP) -------------------------------------------------------

    def _deliver_one(self, item: Item, *, candidates: int, dry_run: bool) -> bool:
        store, ctx, report = self.store, self.ctx, self.report
        sub, row, result = item
        if result.skipped:
            report.skipped += 1
            if not dry_run and row is not None:
                store.mark_digest_skipped(row.id, reason=_quiet(candidates), now=ctx.now())
            return True
        if dry_run or row is None:
            report.sent += 1  # would be sent
            self._discard(result)
            return True
        if not self._claim(sub, row, result):
            self._discard(result)
            return True
        # The "view in browser" page shows the HTML part exactly as it goes out (a copy
        # sent again after a crash replaces it); it is shown once the digest is marked sent.
        store.save_compressed_digest_page(row.id, _page(result), now=ctx.now())
        outcome = self._hand_over(sub, row, result)
        if outcome is None:
            self._release([(sub, row, result)])
            return False
        if outcome:
            store.mark_digest_sent(
                row.id,
                subscriber_id=sub.id,
                paper_ids=[p.id for p, _ in result.content.picks],
                claimed_by=self.claim,
                now=ctx.now(),
            )
            report.sent += 1
        return True

    def _claim(self, sub: Subscriber, row: DigestRow, result: RenderedDigest) -> bool:
        store, report = self.store, self.report
        claimed = store.claim_digest(
            row.id,
            from_status=row.status,
            claimed_by=self.claim,
            previous_claim=row.claimed_by,
            picks=[p for _, p in result.content.picks],  # what fits in one email
            message_id=result.message_id,
            run_id=report.run_id or 0,
            now=self.ctx.now(),
        )
        if claimed:
            return True
        after = store.digest_row(sub.id, self.day)
        if after is None:
            report.removed += 1  # purged since the run loaded them
        elif after.status == "skipped":
            report.unsubscribed += 1  # unsubscribed (or paused) since the run loaded them
        else:
            report.already_done += 1  # another run took it
        return False

    # --- a batch at a time (the outbox) ------------------------------------------------------

    def _deliver_batch(self, items: list[Item], *, candidates: int, dry_run: bool) -> bool:
        claimed, version = self._claim_batch(items, candidates=candidates, dry_run=dry_run)
        if not claimed:
            return True
        store, ctx, report = self.store, self.ctx, self.report
        gone: set[int] = set()  # unsubscribed (or paused, bounced) since the claim
        sent: list[Claimed] = []
        try:
            for index, (sub, row, result) in enumerate(claimed):
                if index and ctx.should_stop():
                    self._release(claimed[index:], gone)
                    return self.stop()
                now_version = store.data_version()
                if now_version != version:  # someone else wrote: read the subscribers again
                    version = now_version
                    rest = [r.id for _, r, _ in claimed[index:] if r.id not in gone]
                    left = store.skip_claims_if_inactive(rest, claimed_by=self.claim, now=ctx.now())
                    for _, other, other_result in claimed[index:]:
                        if other.id in left:
                            self._discard(other_result)
                    gone |= left
                    removed = store.missing_digests(sorted(left)) if left else set()
                    report.removed += len(removed)  # purged since the claim
                    report.unsubscribed += len(left - removed)  # or paused, since the claim
                if row.id in gone:
                    continue
                outcome = self._hand_over(sub, row, result)
                if outcome is None:
                    self._release(claimed[index:], gone)
                    return False
                if outcome:
                    sent.append((sub, row, result))
        finally:
            self._mark_sent(sent)
        return True

    def _claim_batch(
        self, items: list[Item], *, candidates: int, dry_run: bool
    ) -> tuple[list[Claimed], int]:
        """Record the batch's quiet days as skipped, claim the rest and save their pages, in
        one commit; the claimed items, in order, and the database's data version as of that
        commit (read inside its transaction, where no other connection can commit: any
        commit by another after it, an unsubscribe included, changes the version)."""
        store, ctx, report = self.store, self.ctx, self.report
        skips: list[tuple[int, str]] = []
        wanted: list[Claimed] = []
        for sub, row, result in items:
            if result.skipped:
                report.skipped += 1
                if not dry_run and row is not None:
                    skips.append((row.id, _quiet(candidates)))
            elif dry_run or row is None:
                report.sent += 1  # would be sent
                self._discard(result)
            else:
                wanted.append((sub, row, result))
        if not skips and not wanted:
            return [], 0
        claims = [
            DigestClaim(
                row.id,
                row.status,
                row.claimed_by,
                tuple(p for _, p in result.content.picks),  # what fits in one email
                result.message_id,
            )
            for _, row, result in wanted
        ]
        with store.transaction():
            store.mark_digests_skipped(skips, now=ctx.now())
            outcomes = store.claim_digests(
                claims, claimed_by=self.claim, run_id=report.run_id or 0, now=ctx.now()
            )
            claimed = [item for item in wanted if outcomes[item[1].id] == "claimed"]
            # The "view in browser" pages, shown once each digest is marked sent.
            pages = [(row.id, _page(result)) for _, row, result in claimed]
            store.save_compressed_digest_pages(pages, now=ctx.now())
            version = store.data_version()
        for _, row, result in wanted:
            outcome = outcomes[row.id]
            if outcome == "claimed":
                continue
            self._discard(result)
            if outcome == "skipped":
                report.unsubscribed += 1  # unsubscribed (or paused) since the run loaded them
            elif outcome == "removed":
                report.removed += 1  # purged since the run loaded them
            else:
                report.already_done += 1  # another run took it
        return claimed, version

    def _mark_sent(self, sent: list[Claimed]) -> None:
        if not sent:
            return
        self.store.mark_digests_sent(
            [
                SentDigest(row.id, sub.id, tuple(p.id for p, _ in r.content.picks))
                for sub, row, r in sent
            ],
            claimed_by=self.claim,
            now=self.ctx.now(),
        )
        self.report.sent += len(sent)

    # --- both ---------------------------------------------------------------------------

    def _hand_over(self, sub: Subscriber, row: DigestRow, result: RenderedDigest) -> bool | None:
        """True when the transport took the message, False when it refused this one
        (recorded), None when nothing can go (the run stops)."""
        store, ctx, report = self.store, self.ctx, self.report
        outgoing = OutgoingMessage(
            result.data or b"",  # empty when staged: the transport has it on disk
            self.config.email.sender,
            sub.email,
            self.day,
            staged=result.staged,
        )
        try:
            receipt = ctx.transport.send(outgoing)
        except TransportError as exc:
            report.fail(sub.email, str(exc), retry=True)  # released by the caller: pending
            report.notes.append("delivery stopped: the transport failed; the rest stay pending")
            return None
        except DeliveryError as exc:
            self._discard(result)
            permanent = isinstance(exc, PermanentDeliveryError)
            bounced = store.mark_digest_failed(
                row.id,
                subscriber_id=sub.id,
                claimed_by=self.claim,
                reason=str(exc),
                permanent=permanent,
                max_hard_failures=self.config.smtp.max_hard_failures,
                now=ctx.now(),
            )
            # A transient refusal puts the digest back to pending: the next run retries it.
            report.fail(sub.email, str(exc), retry=not permanent)
            if bounced:
                report.notes.append(f"{sub.email} is now bounced after repeated hard failures")
            return False
        if result.staged is not None:
            self.waiting.discard(result.staged)  # in place now: nothing to remove
        if receipt.file is not None:
            report.delivered.append(str(receipt.file))
        return True

    def _release(self, rest: list[Claimed], gone: set[int] | None = None) -> None:
        """Give back claimed digests that were not handed over (they stay pending) and
        remove their staged files; ``gone`` ones were already skipped."""
        rest = [item for item in rest if gone is None or item[1].id not in gone]
        for _, _, result in rest:
            self._discard(result)
        if self.bulk:
            ids = [row.id for _, row, _ in rest]
            self.store.release_digests(ids, claimed_by=self.claim, now=self.ctx.now())
            return
        with self.store.transaction():
            for _, row, _ in rest:
                self.store.release_digest(row.id, claimed_by=self.claim, now=self.ctx.now())

    def _discard(self, result: RenderedDigest) -> None:
        """Remove a staged message that will not be handed over."""
        if result.staged is not None:
            result.staged.discard()
            self.waiting.discard(result.staged)


def _quiet(candidates: int) -> str:
    """Why a quiet day's digest was skipped."""
    return f"{plural(candidates, 'candidate paper')}, none above the threshold"


def _page(result: RenderedDigest) -> bytes:
    """The digest's stored page: made by a render worker, else here."""
    return stored_page(result.data, result.html) if result.page is None else result.page
