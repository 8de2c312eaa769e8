"""``digest papers list|search|show``: browse the stored papers."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import click

from ..text import clip, plural
from .app import ISO_DATE, AppContext, as_date, cli, emit_json, pass_app, print_table


@cli.group()
def papers() -> None:
    """Browse the stored papers."""


def _paper_dict(paper: Any) -> dict[str, Any]:
    data = asdict(paper)
    data["authors"] = list(paper.authors)
    return data


@papers.command("list")
@click.option(
    "--since",
    type=ISO_DATE,
    metavar="YYYY-MM-DD",
    help="Only papers first seen on or after this day.",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def papers_list(app: AppContext, since: dt.date | None, limit: int | None, as_json: bool) -> None:
    """List papers, newest first.

    \b
    Example:
      digest papers list --since 2026-11-20
    """
    day = as_date(since)
    found = app.store.papers(since=day, limit=limit)
    if as_json:
        emit_json([_paper_dict(p) for p in found])
        return
    if found:
        print_table(
            ("FIRST SEEN", "ID", "TITLE"), [(p.first_seen, p.id, clip(p.title, 90)) for p in found]
        )
    app.note(plural(len(found), "paper"))


@papers.command("search")
@click.argument("query")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def papers_search(app: AppContext, query: str, limit: int, as_json: bool) -> None:
    """Full-text search over titles and abstracts.

    \b
    Example:
      digest papers search "program synthesis"
    """
    found = app.store.search_papers(query, limit=limit)
    if as_json:
        emit_json([_paper_dict(p) for p in found])
        return
    for p in found:
        click.echo(f"{p.id:<22}  {clip(p.title, 100)}")
    if not found:
        app.note(f"no paper matches {query!r}")


@papers.command("show")
@click.argument("paper_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def papers_show(app: AppContext, paper_id: str, as_json: bool) -> None:
    """Show one paper and the listings it came in.

    \b
    Example:
      digest papers show 2305.07922
    """
    paper = app.store.paper(paper_id)
    listings = app.store.paper_listings(paper.id)
    if as_json:
        data = _paper_dict(paper)
        data["listings"] = [asdict(listing) for listing in listings]
        emit_json(data)
        return
    click.echo(paper.title)
    click.echo(f"id:         {paper.id}")
    if paper.authors:
        click.echo(f"authors:    {', '.join(paper.authors)}")
    if paper.url:
        click.echo(f"url:        {paper.url}")
    if paper.published:
        click.echo(f"published:  {paper.published}")
    if paper.upvotes is not None:
        click.echo(f"upvotes:    {paper.upvotes}")
    click.echo(f"first seen: {paper.first_seen}")
    for listing in listings:
        click.echo(f"listed in:  {listing.path} ({listing.listing_date})")
    click.echo("")
    click.echo(paper.abstract)
