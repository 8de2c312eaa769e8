"""The run lock names its holder, even when a second run starts in the same instant."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

import pytest

from digest.errors import RunLockedError
from digest.run import RunLock


def test_a_run_starting_in_the_same_instant_names_the_holder(tmp_path: Path) -> None:
    database = tmp_path / "digest.db"
    lock_path = database.with_name(database.name + ".run.lock")
    # The holder has taken the lock but not yet written who it is (the instant the flaky
    # "(another process)" came from); it writes its line 0.1 s later.
    holder = lock_path.open("a+", encoding="utf-8")
    fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def write_later() -> None:
        time.sleep(0.1)
        holder.write("pid 4242, started 2026-11-30 08:00:00 UTC")
        holder.flush()

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        with pytest.raises(RunLockedError) as info, RunLock(database):
            pass
    finally:
        writer.join()
        holder.close()
    assert str(info.value) == (
        "a digest run is already in progress (pid 4242, started 2026-11-30 08:00:00 UTC); "
        "wait for it to finish"
    )


def test_the_lock_says_whether_a_run_is_in_progress_and_a_probe_never_stops_a_run(
    tmp_path: Path,
) -> None:
    """`digest status` probes the lock (a shared lock, dropped at once) to tell a live run
    from one whose process is gone; a run starting during a probe waits for it."""
    database = tmp_path / "digest.db"
    assert RunLock.held(database) is False  # no lock file yet: no run ever started
    with RunLock(database):
        assert RunLock.held(database) is True
    assert RunLock.held(database) is False

    lock_path = database.with_name(database.name + ".run.lock")
    probe = lock_path.open("r", encoding="utf-8")
    fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe, caught mid-way
    letting_go = threading.Timer(0.1, probe.close)
    letting_go.start()
    try:
        with RunLock(database):
            assert probe.closed
    finally:
        letting_go.join()
