"""``digest profile show|set|edit|history|restore``: a subscriber's interest profile."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import DigestError, SubscriberError
from ..libraries import import_library, read_library
from ..profiles import (
    ProfileChanges,
    entry_to_toml,
    liked_and_disliked,
    parse_subscribers_toml,
)
from ..subscriptions import change_profile, entry_for, save_entries
from ..text import clip, plural
from .app import AppContext, changed_by, cli, emit_json, pass_app, print_error


@cli.group()
def profile() -> None:
    """Show, edit and restore a subscriber's interest profile."""


@profile.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def profile_show(app: AppContext, email: str, as_json: bool) -> None:
    """Show the interest profile, with liked papers' titles.

    \b
    Example:
      digest profile show ada@example.org
    """
    sub = app.store.subscriber(email)
    prof = app.store.profile(sub.id)
    # What the ranker uses: the profile's likes and dislikes plus "more"/"less" clicks.
    liked, disliked = liked_and_disliked(prof, app.store.feedback_votes([sub.id])[sub.id])
    if as_json:
        emit_json(
            {
                "email": sub.email,
                "keywords": [{"text": k.text, "weight": k.weight} for k in prof.keywords],
                "exclude": list(prof.exclude),
                "liked": list(prof.liked),
                "disliked": list(prof.disliked),
                "liked_from_feedback": [p for p in liked if p not in prof.liked],
                "disliked_from_feedback": [p for p in disliked if p not in prof.disliked],
                "description": prof.description,
                "authors": list(prof.authors),
                "categories": list(prof.categories),
                "exclude_categories": list(prof.exclude_categories),
            }
        )
        return
    titles = app.store.papers_by_id([*liked, *disliked, *prof.liked, *prof.disliked])
    click.echo(f"keywords:    {', '.join(str(k) for k in prof.keywords) or '-'}")
    click.echo(f"exclude:     {', '.join(prof.exclude) or '-'}")
    click.echo(f"authors:     {'; '.join(prof.authors) or '-'}")
    click.echo(f"categories:  {', '.join(prof.categories) or '-'}")
    click.echo(f"excluded categories: {', '.join(prof.exclude_categories) or '-'}")
    for label, ids, own in (("liked", liked, prof.liked), ("disliked", disliked, prof.disliked)):
        if not ids:
            click.echo(f"{label + ':':<12} -")
        for paper_id in ids:
            title = titles[paper_id].title if paper_id in titles else "(not in the store)"
            mark = "" if paper_id in own else " (from feedback)"
            click.echo(f"{label + ':':<12} {paper_id}  {clip(title, 70)}{mark}")
    click.echo(f"description: {prof.description or '-'}")


@profile.command("set")
@click.argument("email")
@click.option("--keyword", "keywords", multiple=True, help='Add a keyword ("rag^2" = weight 2).')
@click.option("--exclude", multiple=True, help="Add an excluded term.")
@click.option("--like", multiple=True, help="Add a liked paper (id or exact title).")
@click.option("--dislike", multiple=True, help="Add a disliked paper (id or exact title).")
@click.option("--author", "authors", multiple=True, help='Follow an author ("Yann LeCun").')
@click.option("--category", "categories", multiple=True, help="Follow an arXiv category (cs.CL).")
@click.option(
    "--exclude-category", "exclude_categories", multiple=True, help="Never send this category."
)
@click.option(
    "--remove", multiple=True, help="Remove a keyword, excluded term, author, category or paper."
)
@click.option("--description", help="Replace the description.")
@pass_app
def profile_set(
    app: AppContext,
    email: str,
    keywords: tuple[str, ...],
    exclude: tuple[str, ...],
    like: tuple[str, ...],
    dislike: tuple[str, ...],
    authors: tuple[str, ...],
    categories: tuple[str, ...],
    exclude_categories: tuple[str, ...],
    remove: tuple[str, ...],
    description: str | None,
) -> None:
    """Add to or change a profile from the command line.

    \b
    Examples:
      digest profile set ada@example.org --keyword "program synthesis^2" --exclude vision
      digest profile set ada@example.org --like 2305.07922 --remove "medical imaging"
      digest profile set ada@example.org --author "Yann LeCun" --category cs.CL \\
          --exclude-category cs.CV
    """
    changes = ProfileChanges(
        keywords=keywords,
        exclude=exclude,
        like=like,
        dislike=dislike,
        remove=remove,
        description=description,
        authors=authors,
        categories=categories,
        exclude_categories=exclude_categories,
    )
    sub = change_profile(app.store, email, changes, who=changed_by(), now=app.now())
    app.done(f"profile of {sub.email} saved")


@profile.command("edit")
@click.argument("email")
@pass_app
def profile_edit(app: AppContext, email: str) -> None:
    """Edit a subscriber and profile as TOML in $EDITOR; reopens on a mistake.

    \b
    Example:
      EDITOR=nano digest profile edit ada@example.org
    """
    sub = app.store.subscriber(email)
    text = entry_to_toml(entry_for(app.store, sub))
    while True:
        try:
            edited = click.edit(text, extension=".toml", require_save=True)
        except UnicodeDecodeError as exc:
            raise click.ClickException(
                f"profile of {sub.email}: the edited file is not UTF-8 text; "
                "nothing was saved, save it as UTF-8 next time"
            ) from exc
        if edited is None:
            app.done("no change")
            return
        try:
            entries = parse_subscribers_toml(edited, source="profile")
            if len(entries) != 1 or entries[0].email != sub.email:
                raise SubscriberError(
                    f'profile: keep exactly one [[subscribers]] table with email = "{sub.email}"'
                )
            save_entries(app.store, entries, who=changed_by(), now=app.now())
        except DigestError as exc:
            print_error(str(exc))
            if not click.confirm("Edit again?", default=True):
                raise click.ClickException("profile not saved") from exc
            text = _with_error_comment(edited, str(exc))
            continue
        app.done(f"profile of {sub.email} saved")
        return


def _with_error_comment(text: str, error: str) -> str:
    body = "\n".join(line for line in text.splitlines() if not line.startswith("# ERROR: "))
    return f"# ERROR: {error}\n{body}\n"


@profile.command("history")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def profile_history(app: AppContext, email: str, as_json: bool) -> None:
    """List every change to a profile, newest first (VERSION, when, who, what).

    \b
    Example:
      digest profile history ada@example.org
    """
    sub = app.store.subscriber(email)
    changes = app.store.profile_history(sub.id)
    if as_json:
        emit_json(
            [
                {
                    "version": c.version,
                    "changed_at": c.changed_at,
                    "changed_by": c.changed_by,
                    "change": c.change,
                }
                for c in changes
            ]
        )
        return
    if not changes:
        app.note(f"no profile changes recorded for {sub.email}")
        return
    click.echo(f"{'VERSION':>7}  {'CHANGED AT':<25} {'BY':<14} CHANGE")
    for c in changes:
        click.echo(f"{c.version:>7}  {c.changed_at:<25} {c.changed_by:<14} {c.change}")


@profile.command("restore")
@click.argument("email")
@click.argument("version", type=int)
@pass_app
def profile_restore(app: AppContext, email: str, version: int) -> None:
    """Make an earlier VERSION (from `digest profile history`) current again.

    \b
    Example:
      digest profile restore ada@example.org 3
    """
    sub = app.store.subscriber(email)
    app.store.restore_profile(sub.id, version, who=changed_by(), now=app.now())
    app.done(f"profile of {sub.email} restored to version {version}")


@profile.command("import-library")
@click.argument("email")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the counts and problems as JSON.")
@pass_app
def profile_import_library(app: AppContext, email: str, file: Path, as_json: bool) -> None:
    """Add the papers of a reference library to EMAIL's liked papers.

    FILE is a BibTeX (.bib) or RIS (.ris) export, CSL JSON (Zotero's "Export Library…"),
    or one arXiv id or DOI per line; the format is read from the content. Papers not in
    the store are kept as reference papers: they shape the ranking and are never sent.
    A bad entry is one line naming FILE:LINE (or its key); the others are imported, and
    the exit code is 1.

    \b
    Examples:
      digest profile import-library ada@example.org ~/zotero.bib
      digest profile import-library ada@example.org papers.txt
    """
    text = read_library(file)
    result = import_library(
        app.store,
        email,
        text,
        source=str(file),
        suffix=file.suffix,
        who=changed_by(),
        now=app.now(),
    )
    if as_json:
        emit_json(
            {
                "format": result.format,
                "liked": result.liked,
                "new": result.new,
                "stored": result.stored,
                "problems": list(result.problems),
            }
        )
    else:
        for problem in result.problems:
            print_error(problem)
        app.done(
            f"{file}: {result.format}, {plural(result.liked, 'paper')} liked "
            f"({result.new} new to the profile, {result.stored} stored as reference papers)"
            + (
                f"; {plural(len(result.problems), 'bad entry', 'bad entries')} left out"
                if result.problems
                else ""
            )
        )
    if result.problems:
        sys.exit(1)
