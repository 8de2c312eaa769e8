"""``digest fetch``: collect the day's listings from the configured sources into the inbox."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from .app import ISO_DATE, AppContext, as_date, cli, emit_json, pass_app, print_error

if TYPE_CHECKING:
    from ..fetch.collect import FetchResult


def run_fetch(
    app: AppContext, *, on_date: dt.date | None, only: str | None, as_json: bool
) -> list[FetchResult]:
    """Fetch every configured source (or ``only``) for the day; the results."""
    from ..fetch.collect import fetch_sources  # loads httpx: only when fetching

    return fetch_sources(
        app.config,
        day=app.today(as_date(on_date)),
        now=app.now(),
        only=only,
        progress=app.progress(as_json),
    )


def failure_notes(results: Sequence[FetchResult]) -> tuple[str, ...]:
    """The failed sources, as notes for the run report."""
    return tuple(f"fetch failed: {r.message}" for r in results if r.failed)


def print_fetch_results(results: Sequence[FetchResult]) -> None:
    """One line per source: what was saved, or why nothing was; failures on stderr."""
    for r in results:
        if r.status == "saved":
            click.echo(f"{r.source}: saved {r.path} ({r.size:,} bytes)")
        elif r.status == "not-modified":
            click.echo(f"{r.source}: not modified since the last fetch (304); nothing saved")
        elif r.status == "unchanged":
            click.echo(f"{r.source}: the same listing as the last fetch; nothing saved")
        else:
            print_error(r.message)


@cli.command("fetch")
@click.option("--source", "only", metavar="NAME", help="Only the source of this name.")
@click.option(
    "--date",
    "on_date",
    type=ISO_DATE,
    metavar="YYYY-MM-DD",
    help="The day to fetch (daily-papers sources ask for it; default: today).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one object per source as JSON.")
@pass_app
def fetch_command(
    app: AppContext, only: str | None, on_date: dt.date | None, as_json: bool
) -> None:
    """Save the day's listing of each [[sources]] entry into the inbox.

    Each answer becomes INBOX/DAY.NAME.json or .xml; `digest ingest --inbox` (or
    `digest run`) then reads it. A listing not changed since the last fetch saves
    nothing. A source that fails prints one line and the others go on; the exit
    status is then 1.

    \b
    Examples:
      digest fetch
      digest fetch --source arxiv-cs-cl
      digest fetch --date 2026-11-30 --json
    """
    results = run_fetch(app, on_date=on_date, only=only, as_json=as_json)
    if as_json:
        emit_json([asdict(r) for r in results])
    else:
        print_fetch_results(results)
    if any(r.failed for r in results):
        sys.exit(1)
