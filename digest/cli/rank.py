"""``digest rank``: what the ranker would send a subscriber, with scores and reasons."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ..text import clip, plural
from .app import ISO_DATE, AppContext, as_date, cli, emit_json, pass_app


@cli.command("rank")
@click.argument("email")
@click.option("--limit", type=click.IntRange(min=1), help="Default: the subscriber's max_papers.")
@click.option("--all", "show_all", is_flag=True, help="Include papers below the threshold.")
@click.option(
    "--date",
    "on_date",
    type=ISO_DATE,
    metavar="YYYY-MM-DD",
    help="Rank as on this day (lookback window).",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def rank_command(
    app: AppContext,
    email: str,
    limit: int | None,
    show_all: bool,
    on_date: dt.date | None,
    as_json: bool,
) -> None:
    """Show what the ranker would send a subscriber: unseen papers, scores, reasons.

    \b
    Examples:
      digest rank ada@example.org
      digest rank ada@example.org --all --limit 50 --json
    """
    from ..compose import compose  # imports scikit-learn: only when ranking

    sub = app.store.subscriber(email)
    if show_all and limit is None:
        limit = 1_000_000
    ranking = compose(
        app.store,
        app.config,
        [sub],
        app.today(as_date(on_date)),
        limit=limit,
        include_below_threshold=show_all,
        progress=app.progress(as_json),
    ).ranking
    rows: list[dict[str, Any]] = [
        {
            "id": paper.id,
            "title": paper.title,
            "score": round(pick.score, 4),
            "reasons": list(pick.reasons),
            "first_seen": paper.first_seen,
        }
        for paper, pick in ranking.papers_for(sub.id)
    ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        app.note(
            f"nothing to send {sub.email}: {plural(len(ranking.candidates), 'candidate paper')} "
            f"in the last {plural(app.config.ranking.lookback_days, 'day')}, "
            "none unseen and above the threshold"
        )
    for n, row in enumerate(rows, start=1):
        click.echo(f"{n:>3}. {row['score']:.3f}  {clip(row['title'], 80)}")
        click.echo(f"            {row['id']} · {' · '.join(row['reasons'])}")
