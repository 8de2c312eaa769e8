"""The ``digest`` group and what every command shares.

Owns :class:`AppContext` (config and store, opened lazily), :class:`DigestGroup` (a library
:class:`~digest.errors.DigestError` becomes one line on stderr and exit code 1, never a
traceback), the global options, the shared option types and printing helpers
(``ISO_DATE``, :func:`as_date`, :func:`emit_json`, :func:`changed_by`) and :func:`main`.
Commands live in the sibling modules, one per command group.
"""

from __future__ import annotations

import calendar
import datetime as dt
import getpass
import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

from .. import __version__
from ..config import CONFIG_ENV, DEFAULT_CONFIG_PATH, Config, load_config
from ..errors import DigestError
from ..files import CWD_GONE, FileRefused, read_regular_file, working_folder
from ..progress import NO_PROGRESS, Progress
from ..store import Store
from ..text import MONTH_NAMES
from .progress import RichProgress, stderr_is_terminal


class AppContext:
    """What the global options give every command; config and store open lazily."""

    def __init__(self, config_path: Path, *, quiet: bool = False, verbose: int = 0) -> None:
        self.config_path = config_path
        self.quiet = quiet
        self.verbose = verbose
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

    def progress(self, as_json: bool = False) -> Progress:
        """A progress bar on stderr for long work when a person watches: a terminal,
        without --quiet or --json. Under cron (not a terminal) nothing."""
        if self.quiet or as_json or not stderr_is_terminal():
            return NO_PROGRESS
        return RichProgress()

    def note(self, message: str) -> None:
        """A remark for the person at the terminal (counts, hints) on stderr; --quiet
        silences it. Data goes to stdout with click.echo; errors always print."""
        if not self.quiet:
            click.echo(message, err=True)

    def done(self, message: str) -> None:
        """What a command did ("added …", "wrote …") on stdout; --quiet silences it, as it
        does every remark, so that under --quiet only data and errors are printed."""
        if not self.quiet:
            click.echo(message)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class DigestGroup(click.Group):
    """Turns library errors into one line and a non-zero exit, never a traceback; so too
    a file not found because the working folder was deleted (a relative path)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            raise click.ClickException(str(exc)) from exc
        except FileNotFoundError as exc:
            # A relative path (or Path.cwd()) once the working folder was deleted: every
            # command that touches one fails so, and says why in one line.
            if working_folder() is not None:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{CWD_GONE}") from exc
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


pass_app = click.make_pass_decorator(AppContext)


class IsoDate(click.ParamType):  # type: ignore[type-arg]
    """A day written YYYY-MM-DD; says which part is wrong ("2026-11-31": November has 30)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        match = _ISO_DAY.fullmatch(text)
        if not match:
            self.fail(f"{text!r} is not a date; write it YYYY-MM-DD, e.g. 2026-11-20", param, ctx)
        year, month, day = (int(part) for part in match.groups())
        if not 1 <= month <= 12:
            self.fail(f"{text!r} is not a date: there is no month {month}", param, ctx)
        if not FIRST_DAY.year <= year <= LAST_DAY.year:
            self._out_of_range(text, param, ctx)
        days = calendar.monthrange(year, month)[1]
        if not 1 <= day <= days:
            self.fail(
                f"{text!r} is not a date: {MONTH_NAMES[month - 1]} {year} has {days} days",
                param,
                ctx,
            )
        if dt.date(year, month, day) > LAST_DAY:
            self._out_of_range(text, param, ctx)
        return dt.date(year, month, day)

    def _out_of_range(self, text: str, param: click.Parameter | None, ctx: Any) -> NoReturn:
        self.fail(
            f"{text!r} is out of range; give a day from {FIRST_DAY} to {LAST_DAY}", param, ctx
        )


# The days a --date may name: date arithmetic (a lookback window, a week's start) must stay
# inside what datetime can hold, and no listing predates the Unix epoch.
FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(9999, 12, 30)

_ISO_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")

# Every --date and --since option: a day, checked as above.
ISO_DATE = IsoDate()


def as_date(value: dt.date | None) -> dt.date | None:
    """The day of an ``ISO_DATE`` option (a ``datetime`` counts as its day), or None."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value


# Far above any subscriber file (100,000 subscribers as TOML are about 30 MB).
MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024


def read_text_file(path: Path) -> str:
    """A file a person gave on the command line, as text: UTF-8 (a leading BOM is dropped),
    else a :class:`click.ClickException` of one line naming the file and what to do. Only
    a regular file of at most :data:`MAX_TEXT_FILE_BYTES` is read, and read bounded
    (:func:`digest.files.read_regular_file`): a pipe or ``/dev/zero`` is refused."""
    try:
        data = read_regular_file(path, limit=MAX_TEXT_FILE_BYTES, what="subscriber list")
        return data.decode("utf-8-sig")
    except FileRefused as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8 and retry"
        ) from exc
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read the file ({exc.strerror})") from exc


def print_error(message: str) -> None:
    """Report a problem the way click does for every other error: ``Error: …`` on stderr."""
    click.echo(f"Error: {message}", err=True)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON (the ``--json`` output of every command)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows under a header row, columns padded to fit; numbers align right.

    Every tabular listing goes through here, so each has a header and the same look."""
    cells = [[str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip()

    click.echo(line(headers))
    for row in cells:
        click.echo(line(row))


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
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option(
    "-q", "--quiet", is_flag=True, help="Only data and errors: no progress, remarks or logs."
)
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, verbose: int, quiet: bool) -> None:
    """digest: a personal research-paper newsletter.

    \b
    Start here:
      digest demo                      # sample data, a simulated week, emails in an outbox
      digest init mydigest             # a real instance: config, database, inbox
      digest --config mydigest/config.toml ingest listings/*.txt
    """
    if quiet and verbose:
        raise click.UsageError("give --quiet or --verbose, not both")
    level = logging.ERROR if quiet else max(logging.WARNING - 10 * verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    app = AppContext(config_path, quiet=quiet, verbose=verbose)
    ctx.obj = app
    ctx.call_on_close(app.close)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console-script entry point."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="digest")
    except DigestError as exc:  # raised outside a command, e.g. while closing
        print_error(str(exc))
        sys.exit(1)
    sys.exit(0)
