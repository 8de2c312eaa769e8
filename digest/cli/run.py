"""``digest run``, ``digest runs`` and ``digest status``: the daily job and its record."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import click

from ..config import MAX_WORKERS
from ..transports import TRANSPORTS, make_transport
from .app import ISO_DATE, AppContext, as_date, cli, emit_json, pass_app, print_table
from .fetch import failure_notes, run_fetch


def _print_report(report: Any) -> None:
    head = "dry run" if report.dry_run else f"run {report.run_id}"
    click.echo(f"{head} · {report.digest_date} · {report.status} · {report.duration_seconds:.1f} s")
    click.echo(f"  listings ingested: {report.listings_ingested}")
    click.echo(f"  new papers:        {report.new_papers} (first seen on {report.digest_date})")
    click.echo(f"  subscribers due:   {report.subscribers_due}")
    verb = "would send" if report.dry_run else "digests sent"
    click.echo(f"  {verb + ':':<18} {report.sent}")
    click.echo(f"  skipped:           {report.skipped} (nothing above their threshold)")
    click.echo(f"  unsubscribed:      {report.unsubscribed} (or paused during the run; not sent)")
    click.echo(f"  removed:           {report.removed} (purged during the run; not sent)")
    click.echo(f"  already done:      {report.already_done}")
    click.echo(f"  left pending:      {report.pending} (a delivery error; the next run retries)")
    for failure in report.failures:
        if failure.retry:
            click.echo(f"    {failure.email}: {failure.reason}")
    click.echo(f"  failed:            {report.failed}")
    for failure in report.failures:
        if not failure.retry:
            click.echo(f"    {failure.email}: {failure.reason}")
    for note in report.notes:
        click.echo(f"  note: {note}")


@cli.command("run")
@click.option(
    "--date",
    "on_date",
    type=ISO_DATE,
    metavar="YYYY-MM-DD",
    help="Behave as on this day (default: today).",
)
@click.option("--dry-run", is_flag=True, help="Rank and render, but send and record nothing.")
@click.option("--only", "only", metavar="EMAIL", help="Only this subscriber.")
@click.option("--transport", type=click.Choice(list(TRANSPORTS)), help="Override the config.")
@click.option(
    "--workers",
    type=click.IntRange(min=0, max=MAX_WORKERS),
    help="Render processes (default: delivery.workers; 0 = one per core).",
)
@click.option("--fetch", "fetch", is_flag=True, help="Fetch the [[sources]] into the inbox first.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def run_command(
    app: AppContext,
    on_date: dt.date | None,
    dry_run: bool,
    only: str | None,
    transport: str | None,
    workers: int | None,
    fetch: bool,
    as_json: bool,
) -> None:
    """Ingest the inbox, then rank, render, deliver and record every due digest.

    Each digest is sent once: a rerun of the same date sends nothing more. SIGTERM or
    Ctrl-C finishes the current message and stops; the next run picks up the rest.

    \b
    Examples:
      digest run
      digest run --date 2026-11-22 --dry-run
      digest run --only ada@example.org --transport smtp
      digest run --workers 4
      digest run --fetch
    """
    from ..render import make_renderer
    from ..run import RunContext, render_workers, run_digests
    from ..schedule import StopFlag

    fetched = run_fetch(app, on_date=on_date, only=None, as_json=as_json) if fetch else []
    stop = StopFlag()
    ctx = RunContext(
        transport=make_transport(app.config, transport),
        renderer=make_renderer(app.config),
        now=app.now,
        should_stop=stop,
        progress=app.progress(as_json),
        workers=render_workers(app.config.delivery.workers if workers is None else workers),
        notes=failure_notes(fetched),
    )
    with _stop_on_signals(stop):
        report = run_digests(
            app.store, app.config, ctx, date_override=as_date(on_date), dry_run=dry_run, only=only
        )
    if as_json:
        emit_json({**asdict(report), **({"fetch": [asdict(r) for r in fetched]} if fetch else {})})
    else:
        _print_report(report)
    if report.status in ("failed", "interrupted") or any(r.failed for r in fetched):
        sys.exit(1)


@contextlib.contextmanager
def _stop_on_signals(stop: Any) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (the run ends after the current message)."""

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@cli.command("runs")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def runs_command(app: AppContext, limit: int, as_json: bool) -> None:
    """List recent runs with their counts.

    SKIPPED: nothing above the threshold; LEFT: unsubscribed, paused or purged during the
    run (not sent); PENDING: a delivery error left the digest for the next run. A run
    whose process is gone (killed) reads as interrupted, with the digests it sent.

    \b
    Example:
      digest runs --limit 5
    """
    from ..run import recorded_runs

    rows = recorded_runs(app.store, app.config.store.database, limit=limit)
    if as_json:
        emit_json([asdict(r) for r in rows])
        return
    if not rows:
        app.note("no runs yet; try `digest run`")
        return
    print_table(
        (
            "RUN",
            "STARTED",
            "DATE",
            "STATUS",
            "DUE",
            "SENT",
            "SKIPPED",
            "LEFT",
            "PENDING",
            "FAILED",
            "NEW PAPERS",
        ),
        [
            (
                r.id,
                r.started_at[:19],
                r.digest_date,
                r.status,
                r.subscribers_due,
                r.sent,
                r.skipped,
                r.unsubscribed + r.removed,
                r.pending,
                r.failed,
                r.new_papers,
            )
            for r in rows
        ],
    )


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def status_command(app: AppContext, as_json: bool) -> None:
    """The last run, the next scheduled one, and each subscriber's last digest.

    \b
    Example:
      digest status
    """
    from ..run import recorded_runs
    from ..schedule import build_trigger, next_fire_time

    runs = recorded_runs(app.store, app.config.store.database, limit=1)
    upcoming = next_fire_time(build_trigger(app.config.schedule), app.now())
    last_dates = app.store.last_digest_dates()
    subs = app.store.subscribers()
    data: dict[str, Any] = {
        "last_run": asdict(runs[0]) if runs else None,
        "next_run": upcoming.isoformat() if upcoming else None,
        "subscribers": [
            {"email": s.email, "status": s.status, "last_digest": last_dates.get(s.id)}
            for s in subs
        ],
    }
    if as_json:
        emit_json(data)
        return
    if runs:
        r = runs[0]
        others = [
            f"{r.unsubscribed} unsubscribed during the run" if r.unsubscribed else "",
            f"{r.removed} removed during the run" if r.removed else "",
            f"{r.pending} left pending (retried next run)" if r.pending else "",
        ]
        click.echo(
            f"last run:  {r.started_at[:19]} for {r.digest_date}: {r.status}, "
            f"{r.sent} sent, {r.skipped} skipped, "
            + "".join(f"{o}, " for o in others if o)
            + f"{r.failed} failed"
        )
        for note in r.notes:
            click.echo(f"           {note}")
    else:
        click.echo("last run:  none yet")
    click.echo(f"next run:  {data['next_run'] or 'never'} ({app.config.schedule.cron})")
    if data["subscribers"]:
        click.echo()
        print_table(
            ("SUBSCRIBER", "STATUS", "LAST DIGEST"),
            [(s["email"], s["status"], s["last_digest"] or "-") for s in data["subscribers"]],
        )
