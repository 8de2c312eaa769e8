"""The daily run: ingest the inbox, then compose, render, deliver and record each due digest.

Owns the run's state machine: :class:`RunLock` (one run at a time), which subscribers are
due (:func:`is_due`, :func:`digest_date_for`), and :func:`run_digests`, which moves each
digest ``pending → rendered → sent`` (or ``skipped``/``failed``) exactly once, resuming
after a crash. What a digest shows comes from :mod:`digest.compose`: the day's ranking is
prepared once (:func:`~digest.compose.prepare_day`) and its subscribers ranked slice by
slice, the render workers taking each slice while the next is ranked. The renderer and
the transport come in through :class:`RunContext`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from .compose import compose, prepare_day
from .config import Config
from .delivery import Batch, Renderings
from .errors import RunLockedError
from .ingest import inbox_files, ingest_inbox
from .progress import NO_PROGRESS, Progress
from .records import WEEKDAYS, DigestContent, Pick, Subscriber
from .render import RenderedDigest, Renderer
from .render.pool import CHUNK, WINDOW_PER_WORKER, RenderPool
from .store import DIGEST_PAGE_DAYS, DigestRow, RunFailure, RunResult, RunRow, Store
from .text import plural
from .transports import Transport
from .transports.outbox import stored_page

FINAL_STATUSES = ("sent", "skipped", "failed")
BATCH = 200  # digests per commit when the transport makes a repeat harmless (the outbox)
POOL_MIN_DIGESTS = 32  # fewer digests in a day render in-process: a pool takes ~1 s to start
# Subscribers ranked at a time: the render workers take one slice while this process ranks
# the next. On bench_run.py's day (10,000 subscribers, 2,000 candidates) ranking everyone
# at once took 3.7 s of CPU; slices of 2,000 3.75 s, of 1,000 3.8 s, of 500 4.5 s (each
# slice reads its profiles and builds its keyword matrices). A slice of 1,000 ranks in
# ~0.4 s, while the workers render the slice before it (the window in _renderings).
RANK_SLICE = 1000

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """What one run did; stored in ``runs`` and printed at the end."""

    digest_date: str
    started_at: str
    dry_run: bool = False
    run_id: int | None = None
    finished_at: str = ""
    status: str = "running"
    listings_ingested: int = 0
    new_papers: int = 0
    subscribers_due: int = 0
    sent: int = 0
    skipped: int = 0  # nothing above the threshold (a quiet day)
    failed: int = 0  # failed for good
    already_done: int = 0  # sent or skipped by an earlier run
    unsubscribed: int = 0  # unsubscribed (or paused, bounced) during the run: nothing sent
    removed: int = 0  # purged during the run: nothing sent
    pending: int = 0  # a delivery error left it pending: the next run retries it
    failures: list[RunFailure] = field(default_factory=list)  # the failed and pending ones
    notes: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    delivered: list[str] = field(default_factory=list)  # files written (outbox receipts)

    def fail(self, email: str, reason: str, *, retry: bool = False) -> None:
        """Count a digest that did not go out: ``retry``, left pending for the next run;
        else failed for good."""
        if retry:
            self.pending += 1
        else:
            self.failed += 1
        self.failures.append(RunFailure(email, reason, retry))


# How long a run waits for the run lock before saying another run holds it: long enough
# for a reader's probe (:meth:`RunLock.held`, which holds it for microseconds) to let go.
LOCK_WAIT = 1.0


class RunLock:
    """An exclusive lock beside the database: one run at a time, released even by kill -9."""

    def __init__(self, database: Path) -> None:
        self.path = lock_path(database)
        self._file: IO[str] | None = None

    def __enter__(self) -> RunLock:
        # Private whatever the umask, like the database beside it (it names a pid and a time).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        handle = os.fdopen(fd, "a+", encoding="utf-8")
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                holder = _lock_holder(handle)
                handle.close()
                raise RunLockedError(
                    f"a digest run is already in progress ({holder}); wait for it to finish"
                ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.truncate(0)
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @staticmethod
    def held(database: Path) -> bool:
        """Whether a run holds the run lock of ``database`` now, i.e. a run is in progress.

        A shared lock taken and dropped at once: the kernel releases a run's lock when its
        process ends, however it ends (kill -9 too), so a free lock means no run is alive.
        Never creates the lock file; a run that starts during the probe waits for it
        (:data:`LOCK_WAIT`).
        """
        try:
            fd = os.open(lock_path(database), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False  # no run ever started here
        except OSError:
            return True  # another user's lock file: cannot tell, so take the record's word
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # drops the probe's lock, if taken
        return False


def lock_path(database: Path) -> Path:
    """The run lock file beside ``database`` (``DATABASE.run.lock``)."""
    return database.with_name(database.name + ".run.lock")


def recorded_runs(store: Store, database: Path, *, limit: int = 20) -> list[RunRow]:
    """The latest ``limit`` runs of ``database`` (``store``'s file), newest first, as people
    should read them: a run still recorded as ``running`` whose process is gone (no run
    holds the run lock) reads as ``interrupted``, and a running run's ``sent`` is what its
    digests say (see :meth:`Store.runs`). Reads only."""
    return store.runs(limit=limit, in_progress=RunLock.held(database))


def _lock_holder(handle: IO[str]) -> str:
    """Who holds the run lock, as its holder wrote it ("pid N, started …").

    The holder writes that line just after taking the lock, so a run that starts in the same
    instant may find the file still empty: it looks again for up to half a second.
    """
    for _ in range(10):
        handle.seek(0)
        holder = handle.read().strip()
        if holder:
            return holder
        time.sleep(0.05)
    return "another process"


def is_due(subscriber: Subscriber, day: dt.date) -> bool:
    """Daily subscribers are due every day; weekly ones on their weekday."""
    if subscriber.frequency == "daily":
        return True
    return subscriber.frequency == f"weekly:{WEEKDAYS[day.weekday()]}"


def digest_date_for(subscriber: Subscriber, now: dt.datetime, override: dt.date | None) -> dt.date:
    """The subscriber's date: ``override`` (``--date``) or today in their timezone."""
    if override is not None:
        return override
    return now.astimezone(ZoneInfo(subscriber.timezone)).date()


@dataclass(frozen=True)
class RunContext:
    """What a run needs from outside: the clock, the transport, the renderer, a stop flag."""

    transport: Transport
    renderer: Renderer
    now: Callable[[], dt.datetime]
    should_stop: Callable[[], bool] = lambda: False
    trigger: str = "cli"
    progress: Progress = NO_PROGRESS  # the CLI's progress bar on a terminal
    workers: int = 1  # render processes (see render_workers); 1 renders in this process
    notes: tuple[str, ...] = ()  # said before the run began (a source that failed to fetch)


def render_workers(requested: int) -> int:
    """Render processes for ``delivery.workers`` / ``--workers``: 0 means one per core."""
    if requested > 0:
        return requested
    return max(1, len(os.sched_getaffinity(0)))


def run_digests(
    store: Store,
    config: Config,
    ctx: RunContext,
    *,
    date_override: dt.date | None = None,
    dry_run: bool = False,
    only: str | None = None,
    ingest: bool = True,
) -> RunReport:
    """The daily run: ingest the inbox, then for every active subscriber due today rank,
    render, deliver and record, each digest exactly once. Returns the run report."""
    if only:
        # A typo is the caller's mistake, not a failed run: check before the run is recorded.
        store.subscriber(only)
    started = ctx.now()
    run_day = date_override or started.date()
    report = RunReport(
        digest_date=run_day.isoformat(),
        started_at=started.isoformat(timespec="seconds"),
        dry_run=dry_run,
        notes=list(ctx.notes),
    )
    with RunLock(config.store.database):
        if not dry_run:
            store.mark_stale_runs(now=started)
            report.run_id = store.start_run(
                digest_date=run_day,
                trigger=ctx.trigger,
                transport=ctx.transport.name,
                dry_run=dry_run,
                now=started,
                pid=os.getpid(),
            )
        try:
            if not dry_run:
                _remove_abandoned(ctx, run_day)
            _ingest_inbox(store, config, ctx, report, run_day, dry_run=dry_run, enabled=ingest)
            _deliver_due(store, config, ctx, report, date_override, dry_run=dry_run, only=only)
            if not dry_run:
                _tidy(store, started)
        except BaseException as exc:
            report.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            report.notes.append(f"the run stopped: {exc}")
            _finish(store, ctx, report, started)
            raise
        finally:
            ctx.transport.close()
        # One definition of "new papers", the one the emails use: first seen on the day.
        report.new_papers = store.new_paper_count(run_day)
        if report.status == "running":
            undelivered = report.failed or report.pending
            report.status = "dry-run" if dry_run else ("failed" if undelivered else "ok")
        _finish(store, ctx, report, started)
    return report


def _remove_abandoned(ctx: RunContext, run_day: dt.date) -> None:
    """Let the transport remove what crashed runs left (the outbox's temporary files whose
    owner is gone), if it offers ``remove_abandoned``: at the start of the run, under the
    run lock and before this run stages anything."""
    remove = getattr(ctx.transport, "remove_abandoned", None)
    if remove is not None:
        removed = remove(run_day)
        if removed:
            log.info("removed %s left by runs that ended", plural(removed, "temporary file"))


def _tidy(store: Store, now: dt.datetime) -> None:
    """Drop what is kept for a while only: digest pages past their retention, expired
    sign-ups and the sign-up limits' old attempts."""
    store.prune_digest_pages(now - dt.timedelta(days=DIGEST_PAGE_DAYS))
    store.purge_signups(now, attempts_before=now - dt.timedelta(days=2))


def _finish(store: Store, ctx: RunContext, report: RunReport, started: dt.datetime) -> None:
    finished = ctx.now()
    report.finished_at = finished.isoformat(timespec="seconds")
    report.duration_seconds = round((finished - started).total_seconds(), 3)
    if report.run_id is not None:
        store.finish_run(
            report.run_id,
            RunResult(
                finished_at=finished,
                status=report.status,
                listings_ingested=report.listings_ingested,
                new_papers=report.new_papers,
                subscribers_due=report.subscribers_due,
                sent=report.sent,
                skipped=report.skipped,
                failed=report.failed,
                already_done=report.already_done,
                failures=tuple(report.failures),
                notes=tuple(report.notes),
                duration_seconds=report.duration_seconds,
                unsubscribed=report.unsubscribed,
                removed=report.removed,
                pending=report.pending,
            ),
        )


def _ingest_inbox(
    store: Store,
    config: Config,
    ctx: RunContext,
    report: RunReport,
    run_day: dt.date,
    *,
    dry_run: bool,
    enabled: bool,
) -> None:
    inbox = config.ingest.inbox
    if not enabled or not inbox.is_dir():
        return
    waiting = inbox_files(inbox)
    if dry_run:
        if waiting:
            report.notes.append(
                f"{plural(len(waiting), 'file')} {'waits' if len(waiting) == 1 else 'wait'} "
                "in the inbox (not ingested: dry run)"
            )
        return
    for result in ingest_inbox(
        store,
        inbox,
        today=run_day,
        now=ctx.now(),
        progress=ctx.progress,
        cross_lists=config.ingest.cross_lists,
    ):
        if result.status == "ingested":
            report.listings_ingested += 1
            if result.note:
                report.notes.append(result.note)
        elif result.failed:
            report.notes.append(f"listing failed: {result.message}")


def _deliver_due(
    store: Store,
    config: Config,
    ctx: RunContext,
    report: RunReport,
    date_override: dt.date | None,
    *,
    dry_run: bool,
    only: str | None,
) -> None:
    now = ctx.now()
    if only:
        subscribers = [store.subscriber(only)]
        if subscribers[0].status != "active":
            report.notes.append(f"{subscribers[0].email} is {subscribers[0].status}; nothing sent")
            return
    else:
        subscribers = store.subscribers(status="active")
    if not subscribers:
        report.notes.append("no active subscribers; add one with `digest subscribers add`")
        return
    by_date: dict[dt.date, list[Subscriber]] = {}
    not_due = 0
    for sub in subscribers:
        if not sub.email.isascii():  # stored before addresses were checked for it
            report.fail(
                sub.email,
                "digest can only send to plain ASCII addresses; remove the subscriber "
                "(`digest subscribers remove`) and add a plain ASCII address",
            )
            continue
        day = digest_date_for(sub, now, date_override)
        if is_due(sub, day):
            by_date.setdefault(day, []).append(sub)
        else:
            not_due += 1
    report.subscribers_due = sum(len(subs) for subs in by_date.values())
    if not_due:
        report.notes.append(
            f"{plural(not_due, 'weekly subscriber')} {'is' if not_due == 1 else 'are'} "
            "not due on this day"
        )
    for day, due in sorted(by_date.items()):
        if not _deliver_day(store, config, ctx, report, day, due, dry_run=dry_run):
            break
    if report.subscribers_due and report.already_done == report.subscribers_due:
        report.notes.append(
            f"every digest for {report.digest_date} was already sent or skipped; nothing to do"
        )


def _deliver_day(
    store: Store,
    config: Config,
    ctx: RunContext,
    report: RunReport,
    day: dt.date,
    due: list[Subscriber],
    *,
    dry_run: bool,
) -> bool:
    """Deliver one date's digests; False when the run must stop (transport down, SIGTERM)."""
    opened = ctx.now()
    digests: dict[int, DigestRow | None] = {}
    open_subs: list[Subscriber] = []
    rendered: dict[int, tuple[Pick, ...]] = {}  # picks recorded before a crash: sent as they are
    rows = (
        [store.digest_row(sub.id, day) for sub in due]
        if dry_run
        else store.open_digests([sub.id for sub in due], day, now=opened)
    )
    for sub, row in zip(due, rows, strict=True):
        if row is None and not dry_run:
            report.removed += 1  # purged since the run loaded them
            continue
        if row is not None and row.status in FINAL_STATUSES:
            report.already_done += 1
            continue
        digests[sub.id] = row
        open_subs.append(sub)
        if row is not None and row.status == "rendered":
            rendered[sub.id] = row.picks
    if not digests:
        return True
    # The render workers start while this process prepares the day's ranking; then they
    # render each slice of digests while this process ranks the next one.
    with _renderings(ctx, len(open_subs)) as render:
        prepared = prepare_day(
            store, config, day, ranking=len(rendered) < len(open_subs), progress=ctx.progress
        )
        candidates = len(prepared.candidates)
        # Ranked a slice at a time, as the renderer asks for more digests.
        slices = (
            compose(
                store,
                config,
                open_subs[at : at + RANK_SLICE],
                day,
                resume=rendered,
                prepared=prepared,
            )
            for at in range(0, len(open_subs), RANK_SLICE)
        )
        # A batch of claims, hand-offs and marks per commit where a repeat is harmless; else
        # one digest at a time, which bounds the SMTP duplicate window to one message.
        size = BATCH if getattr(ctx.transport, "idempotent_redelivery", False) else 1
        claim = f"run {report.run_id} pid {os.getpid()}"
        batch = Batch(store, config, ctx, report, day, claim, render.waiting)
        verb = "rendering" if dry_run else "sending"
        contents = (
            _content(content, digests[content.subscriber.id])
            for composed in slices
            for content in composed.contents()  # in the order of open_subs
        )
        with ctx.progress.step(f"{verb} digests for {day}", total=len(open_subs)) as advance:
            results = render(contents, stage=not dry_run)
            items: list[tuple[Subscriber, DigestRow | None, RenderedDigest]] = []
            for sub in open_subs:
                if ctx.should_stop():
                    return batch.stop()
                # An SMTP server that retries keeps the bar on this subscriber, still spinning.
                advance(0, description=f"{verb} {sub.email}")
                items.append((sub, digests[sub.id], next(results)))
                if len(items) == size:
                    if not batch.deliver(items, candidates=candidates, dry_run=dry_run):
                        return False
                    advance(len(items))
                    items = []
            if items and not batch.deliver(items, candidates=candidates, dry_run=dry_run):
                return False
            advance(len(items))
    return True


def _content(content: DigestContent, row: DigestRow | None) -> DigestContent:
    """A stored digest's content: its email links to its own page ("view in browser")."""
    return content if row is None else dataclasses.replace(content, digest_id=row.id)


@contextlib.contextmanager
def _renderings(ctx: RunContext, count: int) -> Iterator[Renderings]:
    """How this day's digests are rendered: in ``ctx.workers`` processes for a large day,
    else here, one at a time as the loop asks (so a stop renders nothing more)."""
    if ctx.workers > 1 and count >= POOL_MIN_DIGESTS:
        # In flight: a slice's digests and a worker's usual share, so the workers have a
        # slice to render while this process ranks the next.
        window = ctx.workers * WINDOW_PER_WORKER + math.ceil(min(count, RANK_SLICE) / CHUNK)
        with RenderPool(ctx.renderer, ctx.workers, page=stored_page, window=window) as pool:
            render = Renderings(ctx, pool)
            try:
                yield render
            finally:
                for staged in render.waiting:
                    staged.discard()
        return
    yield Renderings(ctx, None)
