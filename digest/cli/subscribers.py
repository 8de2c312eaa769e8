"""``digest subscribers …``: add, list, show, edit, pause, resume, remove, import, export."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from ..errors import NotFoundError, SubscriberError
from ..files import write_private_file
from ..libraries import save_entries_with_libraries
from ..profiles import (
    entries_to_csv,
    entries_to_toml,
    entry_from_mapping,
    entry_to_mapping,
    entry_to_toml,
    parse_subscribers_csv,
    parse_subscribers_toml,
)
from ..records import SUBSCRIBER_STATUSES, Subscriber
from ..subscriptions import entry_for, resume_subscriber, save_entries
from ..text import plural
from .app import (
    AppContext,
    changed_by,
    cli,
    emit_json,
    pass_app,
    print_error,
    print_table,
    read_text_file,
)


def _subscriber_dict(app: AppContext, sub: Subscriber) -> dict[str, Any]:
    data = asdict(sub)
    entry = entry_for(app.store, sub)
    data["keywords"] = [str(k) for k in entry.keywords]
    data["exclude"] = list(entry.exclude)
    data["liked"] = list(entry.liked)
    data["disliked"] = list(entry.disliked)
    data["description"] = entry.description
    data["authors"] = list(entry.authors)
    data["categories"] = list(entry.categories)
    data["exclude_categories"] = list(entry.exclude_categories)
    return data


@cli.group()
def subscribers() -> None:
    """Add, list, edit, pause, remove, import and export subscribers."""


_SUBSCRIBER_OPTIONS = [
    click.option("--name", help="Display name used in the To: header."),
    click.option("--frequency", help='"daily" or "weekly:mon" … "weekly:sun".'),
    click.option("--timezone", help='IANA timezone, e.g. "Europe/Paris".'),
    click.option("--max-papers", type=int, help="Papers per digest (1–50)."),
    click.option("--min-score", type=float, help="Own relevance threshold (default: config)."),
    click.option("--quiet-day", type=click.Choice(["skip", "note"]), help="Email on quiet days?"),
]


def _subscriber_options(func: Any) -> Any:
    for option in reversed(_SUBSCRIBER_OPTIONS):
        func = option(func)
    return func


def _given(**values: Any) -> dict[str, Any]:
    """The options a person actually passed (click gives tuples for repeatable ones)."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in values.items()
        if v is not None and v != ()
    }


@subscribers.command("add")
@click.argument("email")
@_subscriber_options
@click.option("--keyword", "keywords", multiple=True, help='Interest keyword; "rag^2" = weight 2.')
@click.option("--exclude", multiple=True, help="Never send papers matching this term.")
@click.option("--description", help="A sentence about their interests.")
@click.option("--author", "authors", multiple=True, help='Follow an author ("Yann LeCun").')
@click.option("--category", "categories", multiple=True, help="Follow an arXiv category (cs.CL).")
@click.option(
    "--exclude-category", "exclude_categories", multiple=True, help="Never send this category."
)
@pass_app
def subscribers_add(app: AppContext, /, email: str, **options: Any) -> None:
    """Add a subscriber.

    \b
    Example:
      digest subscribers add ada@example.org --name Ada \\
          --keyword "code generation" --keyword "program synthesis^2" --exclude vision \\
          --author "Yann LeCun" --category cs.CL --exclude-category cs.CV
    """
    for key in ("categories", "exclude_categories"):
        if any(not c.strip() for c in options.get(key) or ()):
            raise SubscriberError(f"add ({email}): a category is empty; write one such as cs.CL")
    entry = entry_from_mapping({"email": email, **_given(**options)}, where="add")
    try:
        app.store.subscriber(entry.email)
    except NotFoundError:
        pass
    else:
        raise click.ClickException(
            f"{entry.email} is already a subscriber; use `digest subscribers edit` to change it"
        )
    ((sub, _),) = save_entries(app.store, [entry], who=changed_by(), now=app.now())
    app.done(f"added {sub.email} (id {sub.id})")


@subscribers.command("list")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), help="Only this status.")
@click.option("--search", help="Only emails or names containing this text.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def subscribers_list(
    app: AppContext, status: str | None, search: str | None, as_json: bool
) -> None:
    """List subscribers.

    \b
    Example:
      digest subscribers list --status active
    """
    found = app.store.subscribers(status=status, search=search)
    if as_json:
        emit_json([asdict(s) for s in found])
        return
    if found:
        print_table(
            ("EMAIL", "STATUS", "FREQUENCY", "MAX PAPERS", "NAME"),
            [(s.email, s.status, s.frequency, s.max_papers, s.name) for s in found],
        )
    app.note(plural(len(found), "subscriber"))


@subscribers.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def subscribers_show(app: AppContext, email: str, as_json: bool) -> None:
    """Show a subscriber and their profile.

    \b
    Example:
      digest subscribers show ada@example.org
    """
    sub = app.store.subscriber(email)
    if as_json:
        emit_json(_subscriber_dict(app, sub))
        return
    click.echo(entry_to_toml(entry_for(app.store, sub)), nl=False)


@subscribers.command("edit")
@click.argument("email")
@_subscriber_options
@pass_app
def subscribers_edit(app: AppContext, /, email: str, **options: Any) -> None:
    """Change a subscriber's settings (the profile: `digest profile`).

    \b
    Example:
      digest subscribers edit ada@example.org --frequency weekly:fri --max-papers 5
    """
    sub = app.store.subscriber(email)
    given = _given(**options)
    if not given:
        raise click.UsageError("nothing to change; pass --name, --frequency, … (see --help)")
    current = entry_to_mapping(entry_for(app.store, sub))
    entry = entry_from_mapping({**current, **given}, where="edit")
    updated = app.store.update_subscriber(
        sub.email, now=app.now(), **{k: getattr(entry, k) for k in given}
    )
    app.done(f"updated {updated.email}")


def _set_status(app: AppContext, email: str, status: str) -> None:
    sub = app.store.subscriber(email)
    changed = app.store.set_status_by_id(sub.id, status, now=app.now(), by=changed_by())
    app.done(f"{sub.email} is {status}" + ("" if changed else " (no change)"))


@subscribers.command("pause")
@click.argument("email")
@pass_app
def subscribers_pause(app: AppContext, email: str) -> None:
    """Stop sending to a subscriber for now: `digest subscribers pause ada@example.org`."""
    _set_status(app, email, "paused")


@subscribers.command("resume")
@click.argument("email")
@click.option(
    "--force", is_flag=True, help="Also resume someone who unsubscribed (overrides their choice)."
)
@pass_app
def subscribers_resume(app: AppContext, email: str, force: bool) -> None:
    """Send to a paused or bounced subscriber again.

    Someone who unsubscribed chose to stop: resuming them needs --force.

    \b
    Examples:
      digest subscribers resume ada@example.org
      digest subscribers resume ada@example.org --force
    """
    sub, changed = resume_subscriber(app.store, email, force=force, who=changed_by(), now=app.now())
    app.done(f"{sub.email} is active" + ("" if changed else " (no change)"))


@subscribers.command("remove")
@click.argument("email")
@click.option("--purge", is_flag=True, help="Delete them with their history, sends and feedback.")
@click.option("--yes", is_flag=True, help="Do not ask before purging.")
@pass_app
def subscribers_remove(app: AppContext, email: str, purge: bool, yes: bool) -> None:
    """Unsubscribe someone, keeping their history; --purge deletes everything about them.

    \b
    Example:
      digest subscribers remove ada@example.org --purge --yes
    """
    if purge and not yes:
        click.confirm(f"Delete {email} and all their history?", abort=True)
    sub = app.store.remove_subscriber(email, purge=purge, now=app.now(), by=changed_by())
    app.done(f"{'purged' if purge else 'unsubscribed'} {sub.email}")


def _format_for(path: Path | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    if path is not None and path.suffix.lower() == ".csv":
        return "csv"
    return "toml"


@subscribers.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--format", "fmt", type=click.Choice(["toml", "csv"]), help="Default: from suffix.")
@pass_app
def subscribers_import(app: AppContext, file: Path, fmt: str | None) -> None:
    """Create or update subscribers from TOML or CSV; all or nothing.

    \b
    Example:
      digest subscribers import team.toml
    """
    text = read_text_file(file)
    fmt = _format_for(file, fmt)
    parse = parse_subscribers_csv if fmt == "csv" else parse_subscribers_toml
    entries = parse(text, source=str(file))
    # A TOML entry's library = "path" is imported too (relative to the TOML file).
    results, imports, stored = save_entries_with_libraries(
        app.store, entries, base=file.parent, who=changed_by(), now=app.now()
    )
    if stored:
        shown = ", ".join(repr(ref) for ref in stored[:5]) + (", …" if len(stored) > 5 else "")
        click.echo(
            f"{plural(len(stored), 'liked or disliked paper')} not in the store "
            f"stored as reference papers: {shown}"
        )
    created = sum(1 for _, was_created in results if was_created)
    problems = [p for result in imports for p in result.problems]
    for problem in problems:
        print_error(problem)
    liked = sum(result.liked for result in imports)
    app.done(
        f"imported {plural(len(results), 'subscriber')} "
        f"({created} new, {len(results) - created} updated)"
        + (f"; {plural(liked, 'library paper')} liked" if imports else "")
    )
    if problems:
        sys.exit(1)


@subscribers.command("export")
@click.option("--format", "fmt", type=click.Choice(["toml", "csv"]), help="Default: from suffix.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="File.")
@pass_app
def subscribers_export(app: AppContext, fmt: str | None, output: Path | None) -> None:
    """Write every subscriber and profile as TOML or CSV (re-importable).

    \b
    Example:
      digest subscribers export -o backup.toml
    """
    entries = [entry_for(app.store, s, portable=True) for s in app.store.subscribers()]
    fmt = _format_for(output, fmt)
    text = entries_to_csv(entries) if fmt == "csv" else entries_to_toml(entries)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_private_file(output, text.encode("utf-8"))  # every address: 0600 when new
        app.done(f"wrote {plural(len(entries), 'subscriber')} to {output}")
