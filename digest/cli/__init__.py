"""The ``digest`` command line: a thin click layer.

Each command parses its options, opens what it needs, calls one library function and
prints. Library errors (:class:`~digest.errors.DigestError`) become one line on stderr and
exit code 1 (:mod:`digest.cli.app`).

The group and what commands share live in :mod:`~digest.cli.app`; each module in
``COMMAND_MODULES`` registers one command group on it when imported. A new command is a
new module plus one line here (and a row in the README's Commands table).
"""

from __future__ import annotations

from . import (
    fetch,
    ingest,
    instance,
    papers,
    preview,
    profile,
    rank,
    run,
    schedule,
    serve,
    subscribers,
)
from .app import cli, main

# Importing a module registers its commands on ``cli``; this is the list of them.
COMMAND_MODULES = (
    instance,  # init, demo
    fetch,  # fetch
    ingest,  # ingest
    papers,  # papers list|search|show
    subscribers,  # subscribers add|list|show|edit|pause|resume|remove|import|export
    profile,  # profile show|set|edit|history|restore
    rank,  # rank
    run,  # run, runs, status
    schedule,  # schedule
    preview,  # preview
    serve,  # serve
)

__all__ = ["COMMAND_MODULES", "cli", "main"]
