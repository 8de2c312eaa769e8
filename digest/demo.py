"""``digest demo``: a complete instance on the bundled sample listings, offline.

Creates config and store in a fresh folder, adds three sample subscribers with different
interests, then simulates one day per bundled listing: the listing lands in the inbox and
the daily run ingests it, ranks, renders and writes the emails to the outbox.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

from .config import Config, load_config
from .errors import DigestError
from .files import make_private_dir, write_atomically
from .instance import init_instance
from .profiles import SubscriberEntry
from .records import Keyword
from .render import Renderer, make_renderer
from .resources import examples_dir
from .run import RunContext, RunReport, run_digests
from .store import Store
from .subscriptions import save_entries
from .transports import OutboxTransport

MARKER = ".digest-demo"

SAMPLE_SUBSCRIBERS = (
    SubscriberEntry(
        email="ada@example.org",
        name="Ada Lovelace",
        keywords=(Keyword("code generation", 2.0), Keyword("program synthesis"), Keyword("code")),
        exclude=("vision",),
        description="Language models that write and understand code.",
    ),
    SubscriberEntry(
        email="grace@example.org",
        name="Grace Hopper",
        keywords=(Keyword("retrieval", 2.0), Keyword("search"), Keyword("question answering")),
        description="Search engines, dense retrieval and RAG.",
        quiet_day="note",
    ),
    SubscriberEntry(
        email="alan@example.org",
        name="Alan Turing",
        keywords=(Keyword("speech"), Keyword("vision"), Keyword("diffusion")),
        description="Speech and image models.",
        max_papers=5,
    ),
)


def prepare_demo_dir(directory: Path) -> None:
    """Make ``directory`` empty and marked as a demo; never touch a folder that is not one.
    A folder it creates is 0700 and the marker 0600, whatever the umask."""
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            raise DigestError(
                f"{directory}: folder exists and is not a digest demo; "
                "pass --dir with a new or empty folder"
            )
        shutil.rmtree(directory)
    make_private_dir(directory)  # 0700, like everything in it
    write_atomically(directory / MARKER, b"made by `digest demo`; safe to delete\n")


# One listing per simulated day. The feeds come first and the dated pages ("Nov 19" …)
# last, so the pages' own dates are not later than the days they arrive on. Papers recur
# across the files: the demo shows none is sent twice.
DEMO_ORDER = (
    "daily-papers-api.json",
    "arxiv-atom.xml",
    "arxiv-rss.xml",
    "records.jsonl",
    "daily-papers-page.txt",
    "day2-page.txt",
    "day3-page.txt",
)


def sample_listings() -> list[Path]:
    """The bundled listings in demo order (any others after them, by name)."""
    files = {
        p.name: p for p in examples_dir().iterdir() if p.is_file() and not p.name.startswith(".")
    }
    ordered = [files.pop(name) for name in DEMO_ORDER if name in files]
    return ordered + [files[name] for name in sorted(files)]


def run_demo(
    directory: Path, *, echo: Callable[[str], None], today: dt.date | None = None
) -> list[tuple[str, RunReport]]:
    """Build the demo in ``directory`` and simulate a day per sample listing.

    Returns (listing name, run report) per simulated day.
    """
    prepare_demo_dir(directory)
    config = load_config(_open_signup(init_instance(directory)))
    # `digest init` wrote the instance's secret file: `digest serve` on this instance
    # answers the emails' links with no environment variable to set.
    secret = config.link_secret()
    listings = sample_listings()
    last_day = today or dt.date.today()
    days = [last_day - dt.timedelta(days=len(listings) - 1 - n) for n in range(len(listings))]
    store = Store.open(config.store.database)
    try:
        start = dt.datetime.combine(days[0], dt.time(7), tzinfo=dt.UTC)
        save_entries(store, list(SAMPLE_SUBSCRIBERS), who="demo", now=start)
        renderer = make_renderer(config, secret=secret)
        reports = []
        echo(f"{'day':<12} {'listing':<24} {'new papers':>10} {'emails sent':>12}")
        for day, listing in zip(days, listings, strict=True):
            # A private copy (shutil.copy would keep the package file's 0644).
            write_atomically(config.ingest.inbox / listing.name, listing.read_bytes())
            report = _simulate_day(store, config, renderer, day)
            reports.append((listing.name, report))
            echo(
                f"{day.isoformat():<12} {listing.name:<24} {report.new_papers:>10} "
                f"{report.sent:>12}"
            )
        total = sum(r.sent for _, r in reports)
        echo(f"{total} emails in {config.delivery.outbox}")
        delivered = [path for _, r in reports for path in r.delivered]
        if delivered:
            # The fullest email shows the most; quiet-day notes are the smallest.
            fullest = max(delivered, key=lambda path: Path(path).stat().st_size)
            echo(f"open one in a browser: {Path(fullest).with_suffix('.html')}")
        echo(f"explore: digest --config {config.path} rank ada@example.org")
        echo(
            f"serve its links and admin: DIGEST_ADMIN_PASSWORD=demo "
            f"digest --config {config.path} serve"
        )
        return reports
    finally:
        store.close()


def _open_signup(config_path: Path) -> Path:
    """The demo takes sign-ups at /subscribe (``digest init`` writes ``signup = "closed"``)."""
    text = config_path.read_text(encoding="utf-8")
    opened = text.replace('signup = "closed"', 'signup = "open"', 1)
    write_atomically(config_path, opened.encode("utf-8"))  # stays 0600
    return config_path


def _simulate_day(store: Store, config: Config, renderer: Renderer, day: dt.date) -> RunReport:
    moment = dt.datetime.combine(day, dt.time(7), tzinfo=dt.UTC)
    ctx = RunContext(
        # The demo keeps each email's HTML beside it, to open in a browser.
        transport=OutboxTransport(config.delivery.outbox, html_copy=True),
        renderer=renderer,
        now=lambda: moment,
        trigger="demo",
    )
    return run_digests(store, config, ctx, date_override=day)
