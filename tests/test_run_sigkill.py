"""kill -9 at any point of a run, then a rerun: every digest goes out exactly once.

Issue 11: 0 duplicates and 0 lost papers across at least 10 kill points, with an
unsubscribe arriving mid-run honoured. Each case copies one prepared instance (three
subscribers, the shared listings), runs :data:`RUN_SCRIPT` in a child process that kills
itself with SIGKILL at one point of the state machine, reruns with the same script (no
kill) and compares everything handed to the transport, the outbox and the ``sends`` table
with a clean run's.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from email import policy
from email.utils import parseaddr
from pathlib import Path

import pytest
import sqlite_utils

from digest.config import load_config
from digest.render import make_renderer
from digest.run import RunContext, RunLock, run_digests
from digest.store import Store
from digest.transports import OutboxTransport, OutgoingMessage, Receipt
from tests.run_helpers import TEST_SECRET, invoke, picked_titles, setup_instance
from tests.shared_data import shared_path

DAY = "2026-11-16"
MOMENT = dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC)  # RUN_SCRIPT's clock

RUN_SCRIPT = """
import datetime as dt, os, signal, sys, time
from pathlib import Path

import digest.run
from digest.config import load_config
from digest.render import Renderer, make_renderer
from digest.run import RunContext, RunLock, run_digests
from digest.store import Store
from digest.transports import make_transport

config_path, day = Path(sys.argv[1]), dt.date.fromisoformat(sys.argv[2])
point, target, leaving = sys.argv[3], int(sys.argv[4]), sys.argv[5]
config = load_config(config_path)
moment = dt.datetime.combine(day, dt.time(7), tzinfo=dt.UTC)
handoffs = config_path.parent / "handoffs"  # every message the transport accepted
handoffs.mkdir(exist_ok=True)
reached = {}


def at(event):
    reached[event] = reached.get(event, 0) + 1
    if (event, reached[event]) == (point, target):
        os.kill(os.getpid(), signal.SIGKILL)


def around(owner, name, before, after):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        at(before)
        result = original(*args, **kwargs)
        at(after)
        return result

    setattr(owner, name, wrapper)


around(Store, "start_run", "before-start-run", "after-start-run")
around(Store, "open_digest", "before-open", "after-open")
around(digest.run, "compose", "before-compose", "after-compose")
around(Renderer, "render_digest", "render", "after-render")
around(Store, "claim_digest", "before-claim", "after-claim")
around(Store, "mark_digest_sent", "before-mark-sent", "after-mark-sent")
# Called inside mark_digest_sent's transaction, after the digest's UPDATE, before COMMIT.
around(Store, "record_sends", "mid-mark-sent", "after-record-sends")
outbox = make_transport(config, "outbox")


class HandOffTransport:
    name = "outbox"

    def send(self, message):
        at("before-send")
        receipt = outbox.send(message)
        (handoffs / f"{time.time_ns()}.eml").write_bytes(message.data)
        if leaving and len(list(handoffs.glob("*.eml"))) == 1:
            other = Store.open(config.store.database)  # as `digest serve` would
            other.set_status_by_id(other.subscriber(leaving).id, "unsubscribed", now=moment)
            other.close()
        at("after-send")
        return receipt

    def close(self):
        pass


store = Store.open(config.store.database)
ctx = RunContext(transport=HandOffTransport(), renderer=make_renderer(config), now=lambda: moment)
run_digests(store, config, ctx, date_override=day)
"""

# Each (point, n): the n-th time the run reaches that point it is killed. Between a
# hand-off and the commit of "sent" the message goes out again on the rerun (the same
# Message-ID and papers; the README's one documented window); nowhere else.
KILL_POINTS = [
    ("after-start-run", 1),  # a run recorded as running, nothing opened
    ("after-open", 2),  # some digests pending, others not yet opened
    ("after-compose", 1),  # all ranked, nothing rendered
    ("render", 2),  # while rendering the second digest
    ("before-claim", 1),
    ("after-claim", 1),  # claimed (rendered, picks recorded), not handed over
    ("after-claim", 3),
    ("before-send", 1),
    ("after-send", 1),  # handed over, not marked sent
    ("before-send", 2),
    ("after-send", 3),
    ("mid-mark-sent", 2),  # inside the transaction that marks it sent, before COMMIT
    ("after-mark-sent", 1),  # between one digest's mark-sent and the next digest
    ("after-mark-sent", 3),  # everything sent, the run not finished
]
RESENT_WINDOW = {"after-send", "mid-mark-sent"}


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance with three subscribers and the shared listings, before any run."""
    listings = sorted(shared_path("listings").glob("*.txt"))
    assert len(listings) == 3
    root = tmp_path_factory.mktemp("sigkill") / "prepared"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIGEST_SECRET", TEST_SECRET)
        config = setup_instance(root)
        for path in listings:
            assert invoke(config, "ingest", "--date", DAY, str(path)).exit_code == 0
    return root


@pytest.fixture(scope="module")
def clean(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same instance after one run that nobody killed."""
    root = tmp_path_factory.mktemp("clean") / "inst"
    shutil.copytree(prepared, root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIGEST_SECRET", TEST_SECRET)
        assert rerun(root).status == "ok"
    return root


class HandOffs(OutboxTransport):
    """The outbox, keeping a copy of every message it accepts (as RUN_SCRIPT's does)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root / "outbox")
        self.log = root / "handoffs"
        self.log.mkdir(exist_ok=True)

    def send(self, message: OutgoingMessage) -> Receipt:
        receipt = super().send(message)
        (self.log / f"{time.time_ns()}.eml").write_bytes(message.data)
        return receipt


def rerun(root: Path):  # type: ignore[no-untyped-def]
    """A run of the instance at ``root`` in this process, nobody killing it; its report."""
    config = load_config(root / "config.toml")
    store = Store.open(config.store.database)
    try:
        ctx = RunContext(
            transport=HandOffs(root), renderer=make_renderer(config), now=lambda: MOMENT
        )
        return run_digests(store, config, ctx, date_override=MOMENT.date())
    finally:
        store.close()


def run(root: Path, point: str, target: int, leaving: str = "") -> subprocess.CompletedProcess[str]:
    script = root / "run.py"
    script.write_text(RUN_SCRIPT, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script), str(root / "config.toml"), DAY, point, str(target), leaving],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=120,
    )


def handoffs(root: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every message handed to the transport, in order: (recipient, Message-ID, titles)."""
    found = []
    for eml in sorted((root / "handoffs").glob("*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        to = parseaddr(str(msg["To"]))[1]
        found.append((to, str(msg["Message-ID"]), tuple(picked_titles(eml))))
    return found


def outbox(root: Path) -> dict[str, tuple[str, list[str]]]:
    """outbox file → (Message-ID, picked titles)."""
    found = {}
    for eml in sorted((root / "outbox").glob("*/*.eml")):
        msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        found[f"{eml.parent.name}/{eml.name}"] = (str(msg["Message-ID"]), picked_titles(eml))
    return found


def sends(root: Path) -> list[tuple[str, str]]:
    """(subscriber email, paper id) for every row of ``sends``."""
    db = sqlite_utils.Database(root / "digest.db")
    rows = db.execute(
        "SELECT s.email, x.paper_id FROM sends x JOIN subscribers s ON s.id = x.subscriber_id"
    ).fetchall()
    return sorted((e, p) for e, p in rows)


def kill_then_rerun(prepared: Path, tmp_path: Path, point: str, n: int, leaving: str = "") -> Path:
    root = tmp_path / "inst"
    shutil.copytree(prepared, root)
    killed = run(root, point, n, leaving)
    assert killed.returncode == -9, f"not killed at {point} #{n}: {killed.stderr}"
    assert rerun(root).status == "ok"
    return root


@pytest.mark.parametrize(("point", "n"), KILL_POINTS, ids=[f"{p}-{n}" for p, n in KILL_POINTS])
def test_sigkill_then_rerun_sends_each_digest_once(prepared, clean, tmp_path, point, n):
    root = kill_then_rerun(prepared, tmp_path, point, n)
    expected = handoffs(clean)
    assert len(expected) == 3 and len({to for to, _, _ in expected}) == 3
    got = handoffs(root)
    # 0 duplicates: nobody was handed two different digests, and only a message in flight
    # when the process died (handed over, "sent" not committed) was handed over again.
    assert sorted(set(got)) == sorted(expected)
    repeats = len(got) - len(set(got))
    assert repeats == (1 if point in RESENT_WINDOW else 0), Counter(got)
    # 0 lost: every paper the clean run sent is recorded as sent, once, and nothing more.
    assert sends(root) == sends(clean)
    assert outbox(root) == outbox(clean)
    db = sqlite_utils.Database(root / "digest.db")
    assert [r["status"] for r in db["digests"].rows] == ["sent"] * 3
    assert [r["status"] for r in db["runs"].rows] == ["interrupted", "ok"]


# The second subscriber in the run's order unsubscribes just after the first hand-off:
# loaded by the run as active, gone before their own claim, with someone after them.
UNSUBSCRIBE_KILL_POINTS = [
    ("after-send", 1),  # the unsubscribe has just landed
    ("before-claim", 2),  # the leaver's own claim is next
    ("after-claim", 2),  # the leaver's claim was refused (their digest skipped)
    ("after-send", 2),  # the one after the leaver was handed over
    ("after-mark-sent", 2),
]


@pytest.mark.parametrize(
    ("point", "n"), UNSUBSCRIBE_KILL_POINTS, ids=[f"{p}-{n}" for p, n in UNSUBSCRIBE_KILL_POINTS]
)
def test_unsubscribe_mid_run_holds_across_a_sigkill(prepared, clean, tmp_path, point, n):
    expected = handoffs(clean)
    leaving = expected[1][0]
    root = kill_then_rerun(prepared, tmp_path, point, n, leaving=leaving)
    got = handoffs(root)
    assert leaving not in {to for to, _, _ in got}
    assert sorted(set(got)) == sorted(m for m in expected if m[0] != leaving)
    assert len(got) - len(set(got)) == (1 if point in RESENT_WINDOW else 0)
    # Every paper a clean run sends to someone still subscribed is sent once; none to them.
    assert sends(root) == [s for s in sends(clean) if s[0] != leaving]
    db = sqlite_utils.Database(root / "digest.db")
    statuses = {
        e: s
        for e, s in db.execute(
            "SELECT s.email, d.status FROM digests d JOIN subscribers s ON s.id = d.subscriber_id"
        ).fetchall()
    }
    assert statuses.pop(leaving) in {"pending", "skipped"}  # never claimed
    assert set(statuses.values()) == {"sent"}
    result = invoke(root / "config.toml", "subscribers", "show", leaving, "--json")
    assert '"unsubscribed"' in result.output


def test_a_killed_run_reads_as_interrupted_with_the_digests_it_sent(prepared, tmp_path):
    """Issue: `digest status` showed a run killed mid-way as "running, 0 sent" until the
    next run, which then recorded it as interrupted, "sent 0". The run lock says whether
    its process lives; the digests it marked sent are its count."""
    root = tmp_path / "inst"
    shutil.copytree(prepared, root)
    config = root / "config.toml"
    killed = run(root, "after-mark-sent", 2)  # two digests sent, the third not yet
    assert killed.returncode == -9, killed.stderr

    # While a run holds the lock (this process stands in for a live one), it is running.
    with RunLock(root / "digest.db"):
        (live,) = json.loads(invoke(config, "runs", "--json").output)
        assert (live["status"], live["sent"]) == ("running", 2)

    for command in (["status", "--json"], ["runs", "--json"]):
        data = json.loads(invoke(config, *command).output)
        row = data["last_run"] if command[0] == "status" else data[0]
        assert (row["status"], row["sent"]) == ("interrupted", 2)
        assert row["notes"][-1] == (
            "the process is gone (killed or crashed); the next run finishes its work"
        )
    assert ": interrupted, 2 sent, 0 skipped, 0 failed" in invoke(config, "status").output
    table_row = invoke(config, "runs").output.splitlines()[1].split()
    assert (table_row[3], table_row[5]) == ("interrupted", "2")  # STATUS, SENT

    assert rerun(root).sent == 1
    db = sqlite_utils.Database(root / "digest.db")
    assert [(r["status"], r["sent"]) for r in db["runs"].rows] == [("interrupted", 2), ("ok", 1)]
