"""``digest schedule``: the daily run on the configured cron until SIGTERM."""

from __future__ import annotations

import datetime as dt
import logging

from ..errors import DigestError
from ..transports import make_transport
from .app import AppContext, cli, pass_app

log = logging.getLogger("digest")


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
    from ..render import make_renderer
    from ..run import RunContext, run_digests
    from ..schedule import StopFlag, run_scheduler
    from ..store import Store

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
