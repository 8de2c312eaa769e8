"""``digest schedule``: the daily run on a cron schedule (APScheduler 3.x).

One job on a ``CronTrigger`` from config, ``max_instances=1`` (never two runs at once),
``coalesce`` (a backlog of missed fires runs once) and a misfire grace time. At start, if
the latest scheduled time has passed with no successful run since (the machine was off),
the job runs at once. When ``[[sources]]`` are configured, each run first fetches the
day's listings into the inbox (:func:`fetch_first`). SIGTERM and SIGINT let the current
message finish, then exit.

:func:`run_on_schedule` is the whole of ``digest schedule``: it wires the scheduler to
:func:`scheduled_run` (one run of :func:`digest.run.run_digests`, logged) and
:func:`missed_run` (no successful run since a scheduled time).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from functools import partial
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from .config import Config, ScheduleConfig
from .errors import ConfigError, DigestError
from .render import make_renderer
from .store import Store
from .transports import make_transport

log = logging.getLogger(__name__)
# The report of each scheduled run is logged under "digest", as `digest schedule` always has.
report_log = logging.getLogger("digest")

_FIELDS5 = ("minute", "hour", "day", "month", "day_of_week")
_FIELDS6 = ("second", *_FIELDS5)


class WallClockCronTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler is untyped
    """A cron trigger that reads its fields as the local wall clock, across DST changes.

    APScheduler 3.x's ``CronTrigger`` steps through time with fixed UTC offsets, so around a
    DST change it can skip a local day: ``0 0 * * *`` in America/Los_Angeles fires on
    2026-03-08 and next on 2026-03-10. This trigger lets a ``CronTrigger`` in UTC (which has
    no DST) find the next matching wall-clock time, then places that wall time in the real
    zone: every local day the cron names fires exactly once. A wall time that does not
    exist (in the spring-forward gap) fires at the same instant the clock shows one hour
    later; one that happens twice (fall back) fires at its first occurrence only.
    """

    def __init__(self, fields: dict[str, str], timezone: ZoneInfo) -> None:
        self.timezone = timezone
        self._wall = CronTrigger(**fields, timezone=dt.UTC)

    def _to_wall(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.timezone).replace(tzinfo=dt.UTC, fold=0)

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        previous = None if previous_fire_time is None else self._to_wall(previous_fire_time)
        wall: dt.datetime | None = self._wall.get_next_fire_time(previous, self._to_wall(now))
        # In the hour that happens twice, a wall time's first occurrence can lie before
        # ``now``: that one has passed, so the next matching wall time is due instead.
        while wall is not None and wall.replace(tzinfo=self.timezone) < now:
            wall = self._wall.get_next_fire_time(wall, wall + dt.timedelta(microseconds=1))
        return None if wall is None else wall.replace(tzinfo=self.timezone)

    def __str__(self) -> str:
        return f"wall-clock {self._wall} in {self.timezone.key}"


def build_trigger(schedule: ScheduleConfig) -> WallClockCronTrigger:
    """The trigger for ``schedule.cron``: five cron fields, or six with seconds first.

    Raises :class:`ConfigError` naming ``schedule.cron`` when the fields are not valid cron.
    """
    parts = schedule.cron.split()
    names = _FIELDS6 if len(parts) == 6 else _FIELDS5
    if len(parts) not in (5, 6):
        raise ConfigError(f"schedule.cron is {schedule.cron!r}; expected five cron fields")
    try:
        return WallClockCronTrigger(
            dict(zip(names, parts, strict=True)), ZoneInfo(schedule.timezone)
        )
    except ValueError as exc:
        raise ConfigError(f"schedule.cron is {schedule.cron!r}: {exc}") from exc


def next_fire_time(trigger: BaseTrigger, now: dt.datetime) -> dt.datetime | None:
    """When the trigger fires next after ``now``."""
    fire: object = trigger.get_next_fire_time(None, now)
    return fire if isinstance(fire, dt.datetime) else None


def previous_fire_time(trigger: BaseTrigger, now: dt.datetime) -> dt.datetime | None:
    """The latest scheduled time at or before ``now`` (within the last 8 days), if any."""
    for window in (dt.timedelta(minutes=2), dt.timedelta(days=1), dt.timedelta(days=8)):
        latest: dt.datetime | None = None
        fire: dt.datetime | None = trigger.get_next_fire_time(None, now - window)
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
        if latest is not None:
            return latest
    return None


class StopFlag:
    """Set by SIGTERM/SIGINT; the run checks it between messages."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


def run_scheduler(
    schedule: ScheduleConfig,
    job: Callable[[], None],
    *,
    missed_run: Callable[[dt.datetime], bool],
    stop: StopFlag,
    install_signal_handlers: bool = True,
) -> None:
    """Run ``job`` on the schedule until SIGTERM/SIGINT.

    ``missed_run(fire_time)`` says whether the scheduled time ``fire_time`` passed without
    a successful run; if so the job runs once at start.
    """
    trigger = build_trigger(schedule)
    tz = ZoneInfo(schedule.timezone)
    executor = ThreadPoolExecutor(max_workers=1)
    scheduler = BlockingScheduler(timezone=tz, executors={"default": executor})
    scheduler.add_job(
        job,
        trigger,
        id="daily-run",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=schedule.misfire_grace_seconds,
    )
    now = dt.datetime.now(tz)
    previous = previous_fire_time(trigger, now)
    if previous is not None and missed_run(previous):
        log.warning("the run scheduled for %s did not happen; running now", previous.isoformat())
        scheduler.add_job(job, "date", run_date=now, id="catch-up", misfire_grace_time=None)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.warning(
            "received %s: finishing the current message, then exiting", signal.Signals(signum).name
        )
        stop.set()
        scheduler.shutdown(wait=False)

    if install_signal_handlers:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    log.info(
        "scheduled %r (%s); next run at %s",
        schedule.cron,
        schedule.timezone,
        next_fire_time(trigger, now),
    )
    scheduler.start()
    # shutdown(wait=False) returned at once; let a run in progress finish its message.
    executor.shutdown(wait=True)
    log.info("scheduler stopped")


def scheduled_run(config: Config, *, now: Callable[[], dt.datetime], stop: StopFlag) -> None:
    """One scheduled run, on the scheduler's worker thread: deliver every due digest.

    Opens its own store (one connection per thread), logs the report, and logs a
    :class:`DigestError` instead of raising it, so the next scheduled run still happens.
    """
    from .run import RunContext, render_workers, run_digests  # scikit-learn: only when run

    notes = fetch_first(config, now=now()) if config.sources else ()
    store = Store.open(config.store.database)
    try:
        ctx = RunContext(
            transport=make_transport(config),
            renderer=make_renderer(config),
            now=now,
            should_stop=stop,
            trigger="schedule",
            workers=render_workers(config.delivery.workers),
            notes=notes,
        )
        report = run_digests(store, config, ctx)
        report_log.info(
            "run %s for %s: %s, %d sent, %d skipped, %d failed",
            report.run_id,
            report.digest_date,
            report.status,
            report.sent,
            report.skipped,
            report.failed,
        )
        for note in report.notes:
            report_log.info("run %s: %s", report.run_id, note)
    except DigestError as exc:
        report_log.error("run failed: %s", exc)
    finally:
        store.close()


def fetch_first(config: Config, *, now: dt.datetime) -> tuple[str, ...]:
    """Fetch the day's listings of every ``[[sources]]`` entry into the inbox, logging
    one line per source. A failure is logged and returned as a note for the run report;
    the run goes on with what arrived."""
    from .fetch.collect import FetchResult, fetch_sources  # loads httpx: only when fetching

    def log_result(r: FetchResult) -> None:  # each source as soon as it is done
        if r.failed:
            report_log.error("fetch failed: %s", r.message)
        else:
            empty = " (an empty listing: a holiday?)" if r.empty else ""
            path = f" {r.path}" if r.path else ""
            report_log.info("fetch %s: %s%s%s", r.source, r.status, path, empty)

    try:
        results = fetch_sources(config, day=now.date(), now=now, on_result=log_result)
    except DigestError as exc:
        report_log.error("fetch failed: %s", exc)
        return (f"fetch failed: {exc}",)
    return tuple(f"fetch failed: {r.message}" for r in results if r.failed)


def missed_run(config: Config, fire_time: dt.datetime) -> bool:
    """Whether no run has succeeded since the scheduled time ``fire_time``."""
    store = Store.open(config.store.database)
    try:
        return store.last_successful_run_since(fire_time) is None
    finally:
        store.close()


def run_on_schedule(config: Config, *, now: Callable[[], dt.datetime]) -> None:
    """Deliver the digests on ``config.schedule`` until SIGTERM/SIGINT (``digest schedule``).

    Checks the renderer first, so a wrong secret or template fails at start, not at the
    first scheduled time; catches up at start when the latest scheduled run was missed.
    """
    make_renderer(config)
    stop = StopFlag()
    run_scheduler(
        config.schedule,
        partial(scheduled_run, config, now=now, stop=stop),
        missed_run=partial(missed_run, config),
        stop=stop,
    )
