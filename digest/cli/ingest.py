"""``digest ingest``: listing files and the inbox folder into the store."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import click

from ..ingest import IngestResult, ingest_inbox, ingest_paths
from ..sources import FORMATS
from ..text import plural
from .app import ISO_DATE, AppContext, as_date, cli, emit_json, pass_app, print_error


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--inbox", is_flag=True, help="Ingest the configured inbox folder.")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), help="Skip format detection.")
@click.option(
    "--date",
    "on_date",
    type=ISO_DATE,
    metavar="YYYY-MM-DD",
    help="Ingest as on this day (first_seen; listing date when the file has none).",
)
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@pass_app
def ingest(
    app: AppContext,
    paths: Sequence[Path],
    inbox: bool,
    fmt: str | None,
    on_date: dt.date | None,
    as_json: bool,
) -> None:
    """Ingest listing files (daily-papers text or JSON, JSON Lines, arXiv Atom/RSS).

    \b
    Examples:
      digest ingest listings/*.txt
      digest ingest --inbox
      digest ingest --format records --date 2026-11-20 export.jsonl
    """
    if not paths and not inbox:
        raise click.UsageError("give files or folders to ingest, or --inbox")
    today = app.today(as_date(on_date))
    now = app.now()
    results: list[IngestResult] = []
    progress = app.progress(as_json)
    if inbox:
        inbox_dir = app.config.ingest.inbox
        if not inbox_dir.is_dir():
            raise click.ClickException(
                f"{inbox_dir}: inbox folder does not exist; run `digest init` or fix ingest.inbox"
            )
        results += ingest_inbox(
            app.store,
            inbox_dir,
            today=today,
            now=now,
            fmt=fmt,
            progress=progress,
            cross_lists=app.config.ingest.cross_lists,
        )
    if paths:
        results += ingest_paths(
            app.store,
            paths,
            today=today,
            now=now,
            fmt=fmt,
            progress=progress,
            cross_lists=app.config.ingest.cross_lists,
        )
    _print_ingest_results(results, as_json)
    if any(r.failed for r in results):
        sys.exit(1)


def _print_ingest_results(results: list[IngestResult], as_json: bool) -> None:
    if as_json:
        emit_json([asdict(r) for r in results])
        return
    if not results:
        click.echo("nothing to ingest")
    for r in results:
        if r.status == "ingested":
            click.echo(
                f"{r.path}: {r.format}, {plural(r.found, 'listing')}, "
                f"{plural(r.new - r.old_papers, 'new paper')}, "
                + (
                    f"{plural(r.old_papers, 'old paper')} (kept for reference, never sent), "
                    if r.old_papers
                    else ""
                )
                + f"{r.updated} updated, "
                f"{plural(r.duplicates, 'duplicate')}"
                + (
                    f", {plural(r.ambiguous, 'ambiguous title')}, not attached"
                    if r.ambiguous
                    else ""
                )
                + (f" (dated {r.listing_date})" if r.listing_date else "")
            )
            if r.note:
                click.echo(f"  note: {r.note}")
        elif r.status == "skipped":
            click.echo(f"{r.path}: skipped, {r.message}")
        else:
            print_error(r.message)
