"""``digest demo``: a complete instance on the bundled sample listings, offline."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

from .config import load_config
from .errors import DigestError
from .ingest import ingest_paths
from .instance import init_instance
from .resources import examples_dir
from .store import Store

MARKER = ".digest-demo"


def prepare_demo_dir(directory: Path) -> None:
    """Make ``directory`` empty and marked as a demo; never touch a folder that is not one."""
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            raise DigestError(
                f"{directory}: folder exists and is not a digest demo; "
                "pass --dir with a new or empty folder"
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by `digest demo`; safe to delete\n", encoding="utf-8")


def run_demo(directory: Path, *, echo: Callable[[str], None]) -> None:
    """Create a fresh demo instance in ``directory`` and ingest the bundled listings."""
    prepare_demo_dir(directory)
    config_path = init_instance(directory)
    config = load_config(config_path)
    store = Store.open(config.store.database)
    try:
        samples = sorted(examples_dir().iterdir())
        now = dt.datetime.now(dt.UTC)
        results = ingest_paths(store, samples, today=now.date(), now=now)
        for r in results:
            if r.failed:
                echo(f"error: {r.message}")
            else:
                echo(f"{Path(r.path).name:<28} {r.format:<18} {r.found:>3} listings {r.new:>3} new")
        echo(f"{store.paper_count()} papers in {config.store.database}")
        echo(f"try: digest --config {config_path} papers list")
    finally:
        store.close()
