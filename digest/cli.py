"""The ``digest`` command line: a thin click layer.

Each command parses its options, opens what it needs, calls one library function and
prints. Library errors (:class:`DigestError`) become one line on stderr and exit code 1.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

from . import __version__
from .config import CONFIG_ENV, DEFAULT_CONFIG_PATH, Config, load_config
from .errors import DigestError, NotFoundError, SubscriberError
from .ingest import IngestResult, ingest_inbox, ingest_paths
from .profiles import (
    entries_to_csv,
    entries_to_toml,
    entry_from_mapping,
    entry_to_mapping,
    entry_to_toml,
    parse_subscribers_csv,
    parse_subscribers_toml,
)
from .records import SUBSCRIBER_STATUSES, Subscriber
from .sources import FORMATS
from .store import Store
from .subscriptions import entry_for, save_entries
from .text import clip
from .transports import TRANSPORTS, make_transport

log = logging.getLogger("digest")


class AppContext:
    """What the global options give every command; config and store open lazily."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self._config: Config | None = None
        self._store: Store | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.config.store.database)
        return self._store

    def now(self) -> dt.datetime:
        """The current time in the configured timezone."""
        return dt.datetime.now(ZoneInfo(self.config.schedule.timezone))

    def today(self, override: dt.date | None = None) -> dt.date:
        return override or self.now().date()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class DigestGroup(click.Group):
    """Turns library errors into one line and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


pass_app = click.make_pass_decorator(AppContext)

ISO_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar=CONFIG_ENV,
    default=DEFAULT_CONFIG_PATH,
    show_default=True,
    help=f"Config file (or set {CONFIG_ENV}).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, verbose: int) -> None:
    """digest: a personal research-paper newsletter.

    \b
    Start here:
      digest demo                      # sample data, a simulated week, emails in an outbox
      digest init mydigest             # a real instance: config, database, inbox
      digest --config mydigest/config.toml ingest listings/*.txt
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s"
    )
    app = AppContext(config_path)
    ctx.obj = app
    ctx.call_on_close(app.close)


# --- init -----------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
def init(directory: Path) -> None:
    """Create config.toml, the database and the inbox folders in DIRECTORY.

    \b
    Example:
      digest init mydigest && cd mydigest && digest ingest ~/Downloads/papers.txt
    """
    from .instance import init_instance

    config_path = init_instance(directory)
    click.echo(f"created {config_path}")
    click.echo("next: drop listing files into the inbox folder and run `digest ingest --inbox`")
    if directory.resolve() != Path.cwd():
        click.echo(f"      (from {directory}, or pass --config {config_path})")


# --- ingest ---------------------------------------------------------------------------------


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
    on_date: dt.datetime | None,
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
    today = app.today(_date(on_date))
    now = app.now()
    results: list[IngestResult] = []
    if inbox:
        inbox_dir = app.config.ingest.inbox
        if not inbox_dir.is_dir():
            raise click.ClickException(
                f"{inbox_dir}: inbox folder does not exist; run `digest init` or fix ingest.inbox"
            )
        results += ingest_inbox(app.store, inbox_dir, today=today, now=now, fmt=fmt)
    if paths:
        results += ingest_paths(app.store, paths, today=today, now=now, fmt=fmt)
    _print_ingest_results(results, as_json)
    if any(r.failed for r in results):
        sys.exit(1)


def _print_ingest_results(results: list[IngestResult], as_json: bool) -> None:
    if as_json:
        _emit_json([asdict(r) for r in results])
        return
    if not results:
        click.echo("nothing to ingest")
    for r in results:
        if r.status == "ingested":
            click.echo(
                f"{r.path}: {r.format}, {r.found} listings, {r.new} new papers, "
                f"{r.updated} updated, {r.duplicates} duplicates"
                + (f" (dated {r.listing_date})" if r.listing_date else "")
            )
        elif r.status == "skipped":
            click.echo(f"{r.path}: skipped, {r.message}")
        else:
            click.echo(f"error: {r.message}", err=True)


# --- papers ---------------------------------------------------------------------------------


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
def papers_list(
    app: AppContext, since: dt.datetime | None, limit: int | None, as_json: bool
) -> None:
    """List papers, newest first.

    \b
    Example:
      digest papers list --since 2026-11-20
    """
    day = _date(since)
    found = app.store.papers(since=day, limit=limit)
    if as_json:
        _emit_json([_paper_dict(p) for p in found])
        return
    for p in found:
        click.echo(f"{p.first_seen}  {p.id:<22}  {clip(p.title, 90)}")
    click.echo(f"{len(found)} papers", err=True)


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
        _emit_json([_paper_dict(p) for p in found])
        return
    for p in found:
        click.echo(f"{p.id:<22}  {clip(p.title, 100)}")
    if not found:
        click.echo(f"no paper matches {query!r}", err=True)


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
        _emit_json(data)
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


# --- subscribers ----------------------------------------------------------------------------


def _who() -> str:
    """Who made a change, for the profile history."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _subscriber_dict(app: AppContext, sub: Subscriber) -> dict[str, Any]:
    data = asdict(sub)
    entry = entry_for(app.store, sub)
    data["keywords"] = [str(k) for k in entry.keywords]
    data["exclude"] = list(entry.exclude)
    data["liked"] = list(entry.liked)
    data["disliked"] = list(entry.disliked)
    data["description"] = entry.description
    return data


@cli.group()
def subscribers() -> None:
    """Add, list, edit, pause, remove, import and export subscribers."""


_SUBSCRIBER_OPTIONS = [
    click.option("--name", help="Display name used in the To: header."),
    click.option("--frequency", help='"daily" or "weekly:mon" … "weekly:sun".'),
    click.option("--timezone", help='IANA timezone, e.g. "Europe/Paris".'),
    click.option("--max-papers", type=int, help="Papers per digest (1–100)."),
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
@pass_app
def subscribers_add(app: AppContext, /, email: str, **options: Any) -> None:
    """Add a subscriber.

    \b
    Example:
      digest subscribers add ada@example.org --name Ada \\
          --keyword "code generation" --keyword "program synthesis^2" --exclude vision
    """
    entry = entry_from_mapping({"email": email, **_given(**options)}, where="add")
    try:
        app.store.subscriber(entry.email)
    except NotFoundError:
        pass
    else:
        raise click.ClickException(
            f"{entry.email} is already a subscriber; use `digest subscribers edit` to change it"
        )
    ((sub, _),) = save_entries(app.store, [entry], who=_who(), now=app.now())
    click.echo(f"added {sub.email} (id {sub.id})")


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
        _emit_json([asdict(s) for s in found])
        return
    for s in found:
        click.echo(f"{s.email:<32} {s.status:<13} {s.frequency:<11} {s.max_papers:>3}  {s.name}")
    click.echo(f"{len(found)} subscribers", err=True)


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
        _emit_json(_subscriber_dict(app, sub))
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
    click.echo(f"updated {updated.email}")


def _set_status(app: AppContext, email: str, status: str) -> None:
    sub = app.store.subscriber(email)
    changed = app.store.set_status_by_id(sub.id, status, now=app.now())
    click.echo(f"{sub.email} is {status}" + ("" if changed else " (no change)"))


@subscribers.command("pause")
@click.argument("email")
@pass_app
def subscribers_pause(app: AppContext, email: str) -> None:
    """Stop sending to a subscriber for now: `digest subscribers pause ada@example.org`."""
    _set_status(app, email, "paused")


@subscribers.command("resume")
@click.argument("email")
@pass_app
def subscribers_resume(app: AppContext, email: str) -> None:
    """Send to a paused or bounced subscriber again: `digest subscribers resume EMAIL`."""
    _set_status(app, email, "active")


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
    sub = app.store.remove_subscriber(email, purge=purge, now=app.now())
    click.echo(f"{'purged' if purge else 'unsubscribed'} {sub.email}")


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
    text = file.read_text(encoding="utf-8")
    fmt = _format_for(file, fmt)
    parse = parse_subscribers_csv if fmt == "csv" else parse_subscribers_toml
    entries = parse(text, source=str(file))
    results = save_entries(app.store, entries, who=_who(), now=app.now())
    created = sum(1 for _, was_created in results if was_created)
    click.echo(
        f"imported {len(results)} subscribers ({created} new, {len(results) - created} updated)"
    )


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
    entries = [entry_for(app.store, s) for s in app.store.subscribers()]
    fmt = _format_for(output, fmt)
    text = entries_to_csv(entries) if fmt == "csv" else entries_to_toml(entries)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(entries)} subscribers to {output}")


# --- profile --------------------------------------------------------------------------------


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
    if as_json:
        _emit_json(
            {
                "email": sub.email,
                "keywords": [{"text": k.text, "weight": k.weight} for k in prof.keywords],
                "exclude": list(prof.exclude),
                "liked": list(prof.liked),
                "disliked": list(prof.disliked),
                "description": prof.description,
            }
        )
        return
    titles = app.store.papers_by_id([*prof.liked, *prof.disliked])
    click.echo(f"keywords:    {', '.join(str(k) for k in prof.keywords) or '-'}")
    click.echo(f"exclude:     {', '.join(prof.exclude) or '-'}")
    for label, ids in (("liked", prof.liked), ("disliked", prof.disliked)):
        if not ids:
            click.echo(f"{label + ':':<12} -")
        for paper_id in ids:
            title = titles[paper_id].title if paper_id in titles else "(not in the store)"
            click.echo(f"{label + ':':<12} {paper_id}  {clip(title, 70)}")
    click.echo(f"description: {prof.description or '-'}")


@profile.command("set")
@click.argument("email")
@click.option("--keyword", "keywords", multiple=True, help='Add a keyword ("rag^2" = weight 2).')
@click.option("--exclude", multiple=True, help="Add an excluded term.")
@click.option("--like", multiple=True, help="Add a liked paper (id or exact title).")
@click.option("--dislike", multiple=True, help="Add a disliked paper (id or exact title).")
@click.option("--remove", multiple=True, help="Remove a keyword, excluded term or paper.")
@click.option("--description", help="Replace the description.")
@pass_app
def profile_set(
    app: AppContext,
    email: str,
    keywords: tuple[str, ...],
    exclude: tuple[str, ...],
    like: tuple[str, ...],
    dislike: tuple[str, ...],
    remove: tuple[str, ...],
    description: str | None,
) -> None:
    """Add to or change a profile from the command line.

    \b
    Examples:
      digest profile set ada@example.org --keyword "program synthesis^2" --exclude vision
      digest profile set ada@example.org --like 2305.07922 --remove "medical imaging"
    """
    sub = app.store.subscriber(email)
    entry = entry_for(app.store, sub)
    gone = {r.casefold() for r in remove}
    removed_ids = {app.store.resolve_paper_ref(r) for r in remove} - {None}
    data = {
        "email": sub.email,
        "keywords": [str(k) for k in entry.keywords if k.text.casefold() not in gone]
        + list(keywords),
        "exclude": [t for t in entry.exclude if t.casefold() not in gone] + list(exclude),
        "liked": [p for p in entry.liked if p not in removed_ids] + list(like),
        "disliked": [p for p in entry.disliked if p not in removed_ids] + list(dislike),
        "description": entry.description if description is None else description,
    }
    new_entry = entry_from_mapping(data, where="profile set")
    ((_, _),) = save_entries(app.store, [new_entry], who=_who(), now=app.now())
    click.echo(f"profile of {sub.email} saved")


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
        edited = click.edit(text, extension=".toml", require_save=True)
        if edited is None:
            click.echo("no change")
            return
        try:
            entries = parse_subscribers_toml(edited, source="profile")
            if len(entries) != 1 or entries[0].email != sub.email:
                raise SubscriberError(
                    f'profile: keep exactly one [[subscribers]] table with email = "{sub.email}"'
                )
            save_entries(app.store, entries, who=_who(), now=app.now())
        except DigestError as exc:
            click.echo(f"Error: {exc}", err=True)
            if not click.confirm("Edit again?", default=True):
                raise click.ClickException("profile not saved") from exc
            text = _with_error_comment(edited, str(exc))
            continue
        click.echo(f"profile of {sub.email} saved")
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
        _emit_json(
            [
                {
                    "version": c.id,
                    "changed_at": c.changed_at,
                    "changed_by": c.changed_by,
                    "change": c.change,
                }
                for c in changes
            ]
        )
        return
    for c in changes:
        click.echo(f"{c.id:>5}  {c.changed_at}  {c.changed_by:<14} {c.change}")


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
    app.store.restore_profile(sub.id, version, who=_who(), now=app.now())
    click.echo(f"profile of {sub.email} restored to version {version}")


# --- rank -----------------------------------------------------------------------------------


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
    on_date: dt.datetime | None,
    as_json: bool,
) -> None:
    """Show what the ranker would send a subscriber: unseen papers, scores, reasons.

    \b
    Examples:
      digest rank ada@example.org
      digest rank ada@example.org --all --limit 50 --json
    """
    from .compose import compose  # imports scikit-learn: only when ranking

    sub = app.store.subscriber(email)
    if show_all and limit is None:
        limit = 1_000_000
    ranking = compose(
        app.store,
        app.config,
        [sub],
        app.today(_date(on_date)),
        limit=limit,
        include_below_threshold=show_all,
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
        _emit_json(rows)
        return
    if not rows:
        click.echo(
            f"nothing to send {sub.email}: {len(ranking.candidates)} candidate papers in the "
            f"last {app.config.ranking.lookback_days} days, none unseen and above the threshold",
            err=True,
        )
    for n, row in enumerate(rows, start=1):
        click.echo(f"{n:>3}. {row['score']:.3f}  {clip(row['title'], 80)}")
        click.echo(f"            {row['id']} · {' · '.join(row['reasons'])}")


# --- run, runs, status, schedule -------------------------------------------------------------


def _print_report(report: Any) -> None:
    head = "dry run" if report.dry_run else f"run {report.run_id}"
    click.echo(f"{head} · {report.digest_date} · {report.status} · {report.duration_seconds:.1f} s")
    click.echo(f"  listings ingested: {report.listings_ingested} ({report.new_papers} new papers)")
    click.echo(f"  subscribers due:   {report.subscribers_due}")
    verb = "would send" if report.dry_run else "digests sent"
    click.echo(f"  {verb + ':':<18} {report.sent}")
    click.echo(f"  skipped:           {report.skipped} (nothing above their threshold)")
    click.echo(f"  already done:      {report.already_done}")
    click.echo(f"  failed:            {report.failed}")
    for failure in report.failures:
        click.echo(f"    {failure['email']}: {failure['reason']}")
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
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_app
def run_command(
    app: AppContext,
    on_date: dt.datetime | None,
    dry_run: bool,
    only: str | None,
    transport: str | None,
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
    """
    from .render import make_renderer
    from .run import RunContext, run_digests
    from .schedule import StopFlag

    stop = StopFlag()
    ctx = RunContext(
        transport=make_transport(app.config, transport),
        renderer=make_renderer(app.config),
        now=app.now,
        should_stop=stop,
    )
    with _stop_on_signals(stop):
        report = run_digests(
            app.store, app.config, ctx, date_override=_date(on_date), dry_run=dry_run, only=only
        )
    if as_json:
        _emit_json(asdict(report))
    else:
        _print_report(report)
    if report.status in ("failed", "interrupted"):
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

    \b
    Example:
      digest runs --limit 5
    """
    rows = app.store.runs(limit=limit)
    if as_json:
        _emit_json([asdict(r) for r in rows])
        return
    if not rows:
        click.echo("no runs yet; try `digest run`", err=True)
    for r in rows:
        click.echo(
            f"{r.id:>4}  {r.started_at[:19]}  {r.digest_date}  {r.status:<11} "
            f"due {r.subscribers_due:>4}  sent {r.sent:>4}  skipped {r.skipped:>4}  "
            f"failed {r.failed:>3}  new papers {r.new_papers:>4}"
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
    from .schedule import build_trigger, next_fire_time

    runs = app.store.runs(limit=1)
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
        _emit_json(data)
        return
    if runs:
        r = runs[0]
        click.echo(
            f"last run:  {r.started_at[:19]} for {r.digest_date}: {r.status}, "
            f"{r.sent} sent, {r.skipped} skipped, {r.failed} failed"
        )
        for note in r.notes:
            click.echo(f"           {note}")
    else:
        click.echo("last run:  none yet")
    click.echo(f"next run:  {data['next_run'] or 'never'} ({app.config.schedule.cron})")
    for s in data["subscribers"]:
        click.echo(f"  {s['email']:<32} {s['status']:<13} last digest {s['last_digest'] or '-'}")


@cli.command("schedule")
@pass_app
def schedule_command(app: AppContext) -> None:
    """Run `digest run` on the configured cron schedule until stopped.

    Catches up at start if the last scheduled run was missed. SIGTERM/SIGINT finish the
    current message and exit.

    \b
    Example:
      digest schedule        # with [schedule] cron = "0 7 * * mon-fri"
    """
    from .render import make_renderer
    from .run import RunContext, run_digests
    from .schedule import StopFlag, run_scheduler
    from .store import Store

    config = app.config
    make_renderer(config)  # fail now, not at 7 am, if the secret or templates are wrong
    stop = StopFlag()
    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger("digest").setLevel(logging.INFO)

    def job() -> None:
        store = Store.open(config.store.database)  # one connection per thread
        try:
            ctx = RunContext(
                transport=make_transport(config),
                renderer=make_renderer(config),
                now=app.now,
                should_stop=stop,
                trigger="schedule",
            )
            report = run_digests(store, config, ctx)
            log.info(
                "run %s for %s: %s, %d sent, %d skipped, %d failed",
                report.run_id,
                report.digest_date,
                report.status,
                report.sent,
                report.skipped,
                report.failed,
            )
            for note in report.notes:
                log.info("run %s: %s", report.run_id, note)
        except DigestError as exc:
            log.error("run failed: %s", exc)
        finally:
            store.close()

    def missed(fire_time: dt.datetime) -> bool:
        return app.store.last_successful_run_since(fire_time) is None

    run_scheduler(config.schedule, job, missed_run=missed, stop=stop)


# --- preview --------------------------------------------------------------------------------


@cli.command("preview")
@click.argument("email", required=False)
@click.option("--sample", is_flag=True, help="A built-in example subscriber instead of EMAIL.")
@click.option(
    "--date", "on_date", type=ISO_DATE, metavar="YYYY-MM-DD", help="Preview the digest of this day."
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write the HTML.")
@click.option("--text", "show_text", is_flag=True, help="Print the plain-text part.")
@click.option("--eml", type=click.Path(path_type=Path, dir_okay=False), help="Write the message.")
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML in a browser.")
@pass_app
def preview_command(
    app: AppContext,
    email: str | None,
    sample: bool,
    on_date: dt.datetime | None,
    out: Path | None,
    show_text: bool,
    eml: Path | None,
    open_browser: bool,
) -> None:
    """Render a subscriber's next digest without sending or recording anything.

    \b
    Examples:
      digest preview ada@example.org --text
      digest preview ada@example.org --out /tmp/ada.html --open
      digest preview --sample --eml /tmp/sample.eml
    """
    from .preview import preview_digest

    if bool(email) == sample:
        raise click.UsageError("give a subscriber's EMAIL, or --sample")
    result = preview_digest(
        app.store, app.config, email=email, today=app.today(_date(on_date)), now=app.now()
    )
    if result.message is None:
        click.echo(f"no email for {result.email} on this day: {result.quiet_reason}")
    if out is not None:
        out.write_text(result.html, encoding="utf-8")
        click.echo(f"wrote {out}")
    if eml is not None and result.message is not None:
        eml.write_bytes(result.message.as_bytes())
        click.echo(f"wrote {eml}")
    if show_text:
        click.echo(result.text, nl=False)
    if open_browser:
        import tempfile
        import webbrowser

        target = out
        if target is None:
            with tempfile.NamedTemporaryFile(
                "w", suffix=".html", delete=False, encoding="utf-8"
            ) as handle:
                handle.write(result.html)
            target = Path(handle.name)
        webbrowser.open(target.resolve().as_uri())
    if not (out or eml or show_text or open_browser):
        click.echo(f"subject: {result.subject}")
        for n, (paper, pick) in enumerate(result.picks, start=1):
            click.echo(f"{n:>3}. {clip(paper.title, 80)}  [{' · '.join(pick.reasons)}]")
        click.echo("(use --out FILE.html, --text, --eml FILE or --open to see the email)")


# --- serve ----------------------------------------------------------------------------------


@cli.command("serve")
@click.option("--host", help="Address to listen on (default: config web.host).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port to listen on (default: config web.port)."
)
@pass_app
def serve_command(app: AppContext, host: str | None, port: int | None) -> None:
    """Serve the admin UI and the links in the emails (unsubscribe, preferences, feedback).

    Needs the link secret (DIGEST_SECRET) and the admin password (DIGEST_ADMIN_PASSWORD, or
    a hash from `python -m digest.web.auth`) in the environment. Point email.base_url at
    the address people reach it under.

    \b
    Example:
      DIGEST_ADMIN_PASSWORD=... digest serve --port 8000   # then open /admin
    """
    from .web import serve

    config = app.config
    serve(
        config,
        host=host or config.web.host,
        port=port or config.web.port,
        now=app.now,
        echo=click.echo,
    )


# --- demo -----------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("digest-demo"),
    show_default=True,
    help="Folder for the demo instance.",
)
def demo(directory: Path) -> None:
    """Run digest on its bundled sample listings; no network, no other service.

    \b
    Example:
      digest demo --dir /tmp/digest-demo

    An earlier demo in the same folder is replaced, so every run starts clean.
    """
    from .demo import run_demo

    run_demo(directory, echo=click.echo)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="digest")
    except DigestError as exc:  # raised outside a command, e.g. while closing
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    sys.exit(0)
