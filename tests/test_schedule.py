"""`digest schedule` as a real process: it fires, runs, catches up, and stops on SIGTERM."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from digest.config import ScheduleConfig, load_config
from digest.schedule import build_trigger, previous_fire_time
from tests.run_helpers import TEST_SECRET, set_config, setup_instance
from tests.shared_data import shared_path


def start_scheduler(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DIGEST_SECRET": TEST_SECRET}
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config), "schedule"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_runs(database: Path, count: int, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if database.exists():
            db = sqlite_utils.Database(database)
            if "runs" in db.table_names():
                rows = [r for r in db["runs"].rows if r["status"] != "running"]
                if len(rows) >= count:
                    return rows
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} finished runs after {timeout} s")


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_fast_cron_fires_runs_and_exits_on_sigterm(tmp_path):
    config = setup_instance(tmp_path / "inst")
    set_config(config, "schedule", "cron", '"*/2 * * * * *"')  # every 2 seconds
    proc = start_scheduler(config)
    try:
        runs = wait_for_runs(tmp_path / "inst" / "digest.db", 2)
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert {r["trigger"] for r in runs} == {"schedule"}
    assert {r["status"] for r in runs} == {"ok"}
    assert "received SIGTERM: finishing the current message, then exiting" in err
    assert "scheduler stopped" in err


def test_missed_run_is_caught_up_at_start(tmp_path):
    config = setup_instance(tmp_path / "inst")
    # Daily at 00:00 UTC: that time has passed today and no run happened.
    set_config(config, "schedule", "cron", '"0 0 * * *"')
    proc = start_scheduler(config)
    try:
        runs = wait_for_runs(tmp_path / "inst" / "digest.db", 1, timeout=30)
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert len(runs) == 1 and runs[0]["status"] == "ok"
    assert "did not happen; running now" in err


def test_no_catch_up_after_a_successful_run(tmp_path):
    config_path = setup_instance(tmp_path / "inst")
    set_config(config_path, "schedule", "cron", '"0 0 * * *"')
    config = load_config(config_path)
    import datetime as dt

    previous = previous_fire_time(build_trigger(config.schedule), dt.datetime.now(dt.UTC))
    assert previous is not None
    db = sqlite_utils.Database(config.store.database)
    db["runs"].insert(
        {
            "started_at": (previous + dt.timedelta(minutes=1)).isoformat(timespec="seconds"),
            "digest_date": previous.date().isoformat(),
            "status": "ok",
            "transport": "outbox",
        }
    )
    proc = start_scheduler(config_path)
    time.sleep(4)
    code, err = stop(proc)
    assert code == 0, err
    assert "did not happen" not in err
    assert db["runs"].count == 1


# --- every local day fires once, across DST changes -------------------------------------------


def fires_between(cron: str, zone: str, start: dt.date, end: dt.date) -> list[dt.datetime]:
    """Every fire time of the trigger from local midnight of ``start`` to that of ``end``."""
    tz = ZoneInfo(zone)
    trigger = build_trigger(ScheduleConfig(cron=cron, timezone=zone))
    stop_at = dt.datetime.combine(end, dt.time(), tz)
    fires: list[dt.datetime] = []
    fire = trigger.get_next_fire_time(None, dt.datetime.combine(start, dt.time(), tz))
    while fire is not None and fire < stop_at and len(fires) <= 800:  # bounded if it loops
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
    return fires


def test_midnight_cron_across_dst_fires_every_local_day_once():
    schedule_table = tomllib.loads(shared_path("cases", "schedule-midnight-dst.toml").read_text())
    schedule = ScheduleConfig(**schedule_table["schedule"])
    for start in (dt.date(2026, 3, 1), dt.date(2026, 10, 25)):  # spring forward, fall back
        end = start + dt.timedelta(days=14)
        fires = fires_between(schedule.cron, schedule.timezone, start, end)
        local_days = [f.astimezone(ZoneInfo(schedule.timezone)).date() for f in fires]
        assert local_days == [start + dt.timedelta(days=n) for n in range(14)]
        assert all(f.astimezone(ZoneInfo(schedule.timezone)).hour == 0 for f in fires)


@pytest.mark.parametrize(
    "zone", ["America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "America/Santiago"]
)
@pytest.mark.parametrize("cron", ["0 0 * * *", "30 1 * * *", "30 2 * * *", "59 23 * * *"])
def test_daily_cron_fires_once_per_local_day_all_year(zone: str, cron: str) -> None:
    start, end = dt.date(2026, 1, 1), dt.date(2027, 1, 1)
    fires = fires_between(cron, zone, start, end)
    local_days = [f.astimezone(ZoneInfo(zone)).date() for f in fires]
    assert local_days == [start + dt.timedelta(days=n) for n in range((end - start).days)]
    assert fires == sorted(fires)


def test_weekday_cron_fires_on_its_local_weekdays_across_dst():
    fires = fires_between(
        "0 7 * * mon-fri", "America/Los_Angeles", dt.date(2026, 3, 2), dt.date(2026, 3, 16)
    )
    local = [f.astimezone(ZoneInfo("America/Los_Angeles")) for f in fires]
    assert [f.hour for f in local] == [7] * 10
    assert [f.weekday() for f in local] == [0, 1, 2, 3, 4] * 2
