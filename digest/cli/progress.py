"""The CLI's :class:`~digest.progress.Progress`: a rich progress bar on stderr.

Shown only when stderr is a terminal and neither ``--quiet`` nor ``--json`` was given
(:meth:`digest.cli.app.AppContext.progress`); under cron nothing is printed. The bar is
transient: it disappears when the work is done, leaving the command's own output.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import (
    Progress as RichBar,
)

from ..progress import Advance


def stderr_is_terminal() -> bool:
    """Whether a person watches stderr (not cron, not a pipe)."""
    return sys.stderr.isatty()


class RichProgress:
    """One rich display for the whole command; each step is a row while it runs."""

    def __init__(self) -> None:
        self._display: RichBar | None = None
        self._open = 0

    @contextlib.contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        display = self._start()
        task = display.add_task(description, total=total)
        display.refresh()  # drawn at once, not at the next tick: a step may be short

        def advance(amount: int = 1, *, description: str | None = None) -> None:
            if description is None:
                display.advance(task, amount)
            else:  # a new item (file, subscriber): worth drawing now
                display.update(task, advance=amount, description=description, refresh=True)

        try:
            yield advance
        finally:
            display.remove_task(task)
            self._open -= 1
            if not self._open:
                display.stop()
                self._display = None

    def _start(self) -> RichBar:
        self._open += 1
        if self._display is None:
            console = Console(file=sys.stderr, force_terminal=True)
            self._display = RichBar(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._display.start()
        return self._display
