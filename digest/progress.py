"""Progress of long work, as a port: library code reports it, only the CLI shows it.

An ingest, the ranking model's fit and a run's sending take :class:`Progress` and call
``with progress.step("what", total=N) as advance: … advance()``; they never print.
:data:`NO_PROGRESS` (the default everywhere) ignores it all; the CLI passes a rich progress
bar on a terminal (:mod:`digest.cli.progress`) and :data:`NO_PROGRESS` under cron, with
``--json`` or ``--quiet``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol


class Advance(Protocol):
    """Moves a step on by ``amount``, optionally saying what it is doing now."""

    def __call__(self, amount: int = 1, *, description: str | None = None) -> None: ...


class Progress(Protocol):
    """Where long work reports how far it got."""

    def step(
        self, description: str, total: int | None = None
    ) -> contextlib.AbstractContextManager[Advance]:
        """A piece of work of ``total`` units (None: unknown), until the block ends."""
        ...


def _ignore(amount: int = 1, *, description: str | None = None) -> None:
    return None


class NoProgress:
    """Reports nowhere: for library callers, tests, cron and ``--json``."""

    @contextlib.contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        yield _ignore


NO_PROGRESS: Progress = NoProgress()
