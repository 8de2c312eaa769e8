"""``digest schedule``: the daily run on the configured cron until SIGTERM."""

from __future__ import annotations

import logging

from .app import AppContext, cli, pass_app


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
    from ..schedule import run_on_schedule

    # Only the CLI configures logging: a scheduler prints what each run did.
    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger("digest").setLevel(logging.INFO)
    run_on_schedule(app.config, now=app.now)
