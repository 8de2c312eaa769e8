"""Rendering in worker processes: digest contents in, message bytes out, in order.

The daily run's parent process keeps the state machine and is the only writer to the
database; rendering (Jinja, MIME) is pure CPU and goes to :class:`RenderPool`'s workers,
one per core. Each worker builds its own :class:`~.renderer.Renderer` once, from the
pickled one (templates are recompiled there, not shipped). Work goes out in chunks of
contents (papers shared by several subscribers in a chunk are pickled once) and at most
``window`` chunks are in flight, so memory stays bounded whatever the number of
subscribers; results come back in the order the contents went in. A ``page`` function
given to the pool runs in the workers too, on each message's bytes and HTML part (the
run's stored "view in browser" page), so the parent only writes what comes back. A
``stage`` function given to :meth:`RenderPool.render` (the transport's stager, see
:mod:`digest.transports.base`) writes each message ahead from the worker: only its staged
file names come back, not its bytes. Staged files the caller never received (work in
flight when the pool closes, a chunk that failed) are removed by the pool; the ones it
yielded are the caller's to hand over or discard.

Workers start with the ``forkserver`` method: the parent holds an SQLite connection and
may run threads (a progress bar, BLAS), which ``fork`` would copy in an unknown state. A
worker ignores SIGINT (the parent decides when to stop) and exits by itself when the run's
process is gone, even after ``kill -9``.

May import what :mod:`digest.render` may.
"""

from __future__ import annotations

import dataclasses
import datetime
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection

from ..files import StagedFiles
from ..records import DigestContent
from .renderer import RenderedDigest, Renderer

CHUNK = 32  # contents per task: enough to amortise the pipe, small enough to keep order
WINDOW_PER_WORKER = 6  # chunks in flight per worker: more than a commit batch (run.BATCH)


# (data, html) → the stored page; see digest.transports.outbox.stored_page.
PageMaker = Callable[[bytes | None, bytes | None], bytes]
# (recipient, digest date, data, html) → the message's files written ahead; see
# digest.transports.base.Stager.
Stager = Callable[[str, datetime.date, bytes, bytes | None], StagedFiles]


@dataclass(frozen=True, slots=True)
class _Rendered:
    """What a worker sends back for one content: compact, no content objects."""

    data: bytes | None  # None for a quiet day skipped, or when staged
    message_id: str
    page: bytes | None  # page(data, html), when the pool has a page function
    shown: int  # how many of the content's picks the message shows (a prefix)
    trending_kept: bool
    staged: StagedFiles | None  # stage(...), when given one and it could write


class RenderPool:
    """``workers`` processes rendering with copies of ``renderer``, started at once; use
    as a context manager (the processes stop on exit). At most ``window`` chunks of
    ``chunk`` contents are in flight (default: WINDOW_PER_WORKER per worker).

    Raises whatever the renderer raises (:class:`~digest.errors.RenderError`) from
    :meth:`render`, and ``concurrent.futures.process.BrokenProcessPool`` if a worker dies.
    """

    def __init__(
        self,
        renderer: Renderer,
        workers: int,
        *,
        chunk: int = CHUNK,
        page: PageMaker | None = None,
        window: int | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be 1 or more, got {workers}")
        self.workers = workers
        self.chunk = chunk
        # Chunks in flight; a caller that stops to work between contents (the run ranks
        # its next slice) asks for more, so that the workers stay busy meanwhile.
        self.window = workers * WINDOW_PER_WORKER if window is None else max(1, window)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["digest.render"])
        # Only this process holds the writing end: the workers see EOF when it is gone.
        self._alive_r, self._alive_w = context.Pipe(duplex=False)
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(renderer, page, self._alive_r),
        )
        # Results the caller has not taken yet: the chunks in flight, and the rest of the
        # chunk being yielded (their staged files are removed if the pool closes first).
        self._pending: deque[tuple[list[DigestContent], Future[list[_Rendered]]]] = deque()
        self._current: deque[tuple[DigestContent, _Rendered]] = deque()
        # Each submit to a pool with no idle worker starts one: start them all now, so
        # they get ready (imports, templates) while the caller still ranks.
        for _ in range(workers):
            self._executor.submit(os.getpid)

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers; work not yet started is dropped, and the staged files of
        results not yielded are removed."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._alive_w.close()
        self._alive_r.close()
        untaken = [done for _, done in self._current]
        for _, future in self._pending:
            if not future.cancelled() and future.exception() is None:
                untaken += future.result()
        self._current.clear()
        self._pending.clear()
        _discard(untaken)

    def render(
        self,
        contents: Iterable[DigestContent],
        *,
        now: Callable[[], datetime.datetime],
        stage: Stager | None = None,
    ) -> Iterator[RenderedDigest]:
        """Each content rendered (as :meth:`Renderer.render_digest` would), in order;
        ``now`` is read once per chunk. With ``stage`` (picklable; sent with each chunk)
        each message is written ahead in the worker and comes back as its ``staged``
        files, without its bytes (unless ``stage`` raised ``OSError``).

        Reads ``contents`` lazily: at most ``window`` chunks are pickled and in flight.
        """
        pending, current = self._pending, self._current
        source = iter(contents)
        exhausted = False
        while True:
            while not exhausted and len(pending) < self.window:
                batch = _take(source, self.chunk)
                if not batch:
                    exhausted = True
                    break
                task = self._executor.submit(_render_chunk, batch, now(), stage)
                pending.append((batch, task))
            if not pending:
                return
            batch, future = pending[0]
            results = future.result()
            pending.popleft()
            current.extend(zip(batch, results, strict=True))
            while current:
                content, done = current.popleft()
                yield _rebuilt(content, done)


def _take(source: Iterator[DigestContent], count: int) -> list[DigestContent]:
    batch = []
    for content in source:
        batch.append(content)
        if len(batch) == count:
            break
    return batch


def _rebuilt(content: DigestContent, done: _Rendered) -> RenderedDigest:
    """The parent's RenderedDigest: the content as the message shows it (what did not fit
    under the size bound left out, as :meth:`Renderer.render_digest` returns it)."""
    if done.shown != len(content.picks) or not done.trending_kept:
        content = dataclasses.replace(
            content,
            picks=content.picks[: done.shown],
            trending=content.trending if done.trending_kept else (),
        )
    return RenderedDigest(content, done.data, done.message_id, done.page, staged=done.staged)


def _discard(results: Iterable[_Rendered]) -> None:
    for done in results:
        if done.staged is not None:
            done.staged.discard()


# --- in the worker --------------------------------------------------------------------------

# The worker's renderer, built once by the pool's initializer: a process pool hands state
# to its workers this way only.
_renderer: Renderer | None = None
_page: PageMaker | None = None


def _start_worker(renderer: Renderer, page: PageMaker | None, alive: Connection) -> None:
    global _renderer, _page
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent finishes and stops
    _renderer, _page = renderer, page
    threading.Thread(target=_exit_with, args=(alive,), daemon=True).start()


def _exit_with(alive: Connection) -> None:
    """Exit once the run's process is gone (even killed, even not yet reaped): nothing
    else would end a worker waiting for work, since it holds both ends of its task queue,
    and the forkserver lives as long as any worker does."""
    alive.poll(None)  # the run never writes: this returns at EOF, when it has gone
    os._exit(0)


def _render_chunk(
    contents: list[DigestContent], now: datetime.datetime, stage: Stager | None
) -> list[_Rendered]:
    if _renderer is None:  # pragma: no cover - set by the initializer
        raise RuntimeError("render worker started without a renderer")
    out: list[_Rendered] = []
    try:
        for content in contents:
            out.append(_render_one(_renderer, content, now, stage))
    except BaseException:
        _discard(out)  # the parent never sees this chunk's results
        raise
    return out


def _render_one(
    renderer: Renderer, content: DigestContent, now: datetime.datetime, stage: Stager | None
) -> _Rendered:
    result = renderer.render_digest(content, now=now)
    shown = result.content
    data, staged = result.data, None
    if data is not None and stage is not None:
        try:
            staged = stage(content.subscriber.email, content.digest_date, data, result.html)
        except OSError:
            staged = None  # the parent sends the bytes, and reports the outbox's error
    return _Rendered(
        None if staged is not None else data,
        result.message_id,
        None if _page is None or data is None else _page(data, result.html),
        len(shown.picks),
        bool(shown.trending) or not content.trending,
        staged,
    )
