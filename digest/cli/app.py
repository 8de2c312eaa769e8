"""The ``digest`` group and what every command shares.

Owns :class:`AppContext` (config and store, opened lazily), :class:`DigestGroup` (a library
:class:`~digest.errors.DigestError` becomes one line on stderr and exit code 1, never a
traceback), the global options, the shared option types and printing helpers
(``ISO_DATE``, :func:`as_date`, :func:`emit_json`, :func:`changed_by`) and :func:`main`.
Commands live in the sibling modules, one per command group.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

from .. import __version__
from ..config import CONFIG_ENV, DEFAULT_CONFIG_PATH, Config, load_config
from ..errors import DigestError
from ..store import Store


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


def as_date(value: dt.datetime | None) -> dt.date | None:
    """The day of an ``ISO_DATE`` option, or None when it was not given."""
    return value.date() if value else None


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON (the ``--json`` output of every command)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def changed_by() -> str:
    """Who made a change, for the profile history."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


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


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="digest")
    except DigestError as exc:  # raised outside a command, e.g. while closing
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    sys.exit(0)
