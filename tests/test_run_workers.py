"""Issue 16: the daily run renders in worker processes and commits the outbox in batches,
with the same results and the same guarantees as one digest at a time.

- Rendering in two workers gives the same outbox, ``sends`` and digest rows as in-process.
- The "view in browser" pages the workers compress are byte for byte the ones the run's
  own process stores, and each is the HTML part of the message sent.
- An unsubscribe that lands after a batch was claimed, before that subscriber's hand-off,
  still wins (the run reads the subscriber again just before each hand-off).
- ``kill -9`` in the middle of a batched, pooled run, then a rerun: every digest goes out
  once, no paper is lost or recorded twice, and the render workers do not outlive the run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import sqlite_utils

from digest.config import Config, load_config
from digest.records import Keyword, Profile
from digest.render import make_renderer
from digest.run import RunContext, run_digests
from digest.store import Store
from digest.store.subscribers import SubscriberSettings, SubscriberUpdate
from digest.transports import OutboxTransport, OutgoingMessage, Receipt
from digest.transports.outbox import html_body
from tests.run_helpers import TEST_SECRET, invoke

DAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC)
SUBSCRIBERS = 70  # above the in-process threshold (32), more than one chunk per worker
TOPICS = ["program synthesis", "code generation", "retrieval", "speech", "vision", "graphs"]


def build(instance: Config, tmp_path: Path) -> Config:
    listing = tmp_path / "papers.jsonl"
    records = [
        {
            "id": f"2611.{n:05d}",
            "title": f"{TOPICS[n % 6].title()} and {TOPICS[(n + 1) % 6]}: study {n} — Ünïcode",
            "abstract": f"We study {TOPICS[n % 6]} with {TOPICS[(n + 2) % 6]}. It works.",
        }
        for n in range(30)
    ]
    listing.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    result = invoke(instance.path, "ingest", "--date", DAY.isoformat(), str(listing))
    assert result.exit_code == 0, result.output
    store = Store.open(instance.store.database)
    try:
        store.save_subscribers(
            [
                SubscriberUpdate(
                    f"s{n:03d}@example.org",
                    SubscriberSettings(max_papers=1 + n % 5),
                    Profile(keywords=(Keyword(TOPICS[n % 6]), Keyword(TOPICS[(n + 3) % 6]))),
                )
                for n in range(SUBSCRIBERS)
            ],
            who="test",
            now=NOW,
        )
    finally:
        store.close()
    return load_config(instance.path)


def run(config: Config, workers: int, transport: OutboxTransport | None = None) -> None:
    store = Store.open(config.store.database)
    try:
        ctx = RunContext(
            transport=transport or OutboxTransport(config.delivery.outbox),
            renderer=make_renderer(config),
            now=lambda: NOW,
            workers=workers,
        )
        report = run_digests(store, config, ctx, date_override=DAY)
        assert report.status == "ok", report
    finally:
        store.close()


def outbox(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "outbox").glob("*/*.eml"))}


def table(root: Path, sql: str) -> list[tuple[object, ...]]:
    return sorted(sqlite_utils.Database(root / "digest.db").execute(sql).fetchall())


SENDS = "SELECT subscriber_id, paper_id, digest_id FROM sends"
DIGESTS = "SELECT subscriber_id, status, picks, message_id, attempts, error FROM digests"


@pytest.fixture
def prepared(instance: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    return build(instance, tmp_path)


def test_two_workers_give_what_one_process_gives(prepared: Config, tmp_path: Path) -> None:
    root = prepared.path.parent
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    run(prepared, workers=1)
    run(load_config(copy / "config.toml"), workers=2)
    assert len(outbox(root)) == SUBSCRIBERS
    assert outbox(copy) == outbox(root)
    assert table(copy, SENDS) == table(root, SENDS)
    assert table(copy, DIGESTS) == table(root, DIGESTS)
    assert {row[1] for row in table(root, DIGESTS)} == {"sent"}


PAGES = (
    "SELECT s.email, p.html FROM digest_pages p JOIN digests d ON d.id = p.digest_id "
    "JOIN subscribers s ON s.id = d.subscriber_id"
)


def test_pages_compressed_in_workers_are_the_ones_stored_in_process(
    prepared: Config, tmp_path: Path
) -> None:
    root = prepared.path.parent
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    run(prepared, workers=1)
    run(load_config(copy / "config.toml"), workers=2)
    pages = table(copy, PAGES)
    assert len(pages) == SUBSCRIBERS
    assert pages == table(root, PAGES)
    sent = {path.name: path.read_bytes() for path in (copy / "outbox").glob("*/*.eml")}
    for email, compressed in pages:
        assert isinstance(email, str) and isinstance(compressed, bytes)
        message = sent[email.replace("@", "_at_") + ".eml"]
        assert zlib.decompress(compressed) == html_body(message)


class Unsubscribing(OutboxTransport):
    """On the first message, people later in the batch unsubscribe (another connection)."""

    def __init__(self, config: Config, leaving: list[str]) -> None:
        super().__init__(config.delivery.outbox)
        self.database, self.leaving = config.store.database, leaving
        self.recipients: list[str] = []

    def send(self, message: OutgoingMessage) -> Receipt:
        if not self.recipients:
            other = Store.open(self.database)
            try:
                for email in self.leaving:
                    other.set_status_by_id(other.subscriber(email).id, "unsubscribed", now=NOW)
            finally:
                other.close()
        self.recipients.append(message.recipient)
        return super().send(message)


def test_an_unsubscribe_after_the_batch_claim_still_wins(prepared: Config) -> None:
    leaving = [f"s{n:03d}@example.org" for n in (1, 5, 40, 69)]
    transport = Unsubscribing(prepared, leaving)
    run(prepared, workers=2, transport=transport)
    assert not set(leaving) & set(transport.recipients)
    assert len(transport.recipients) == SUBSCRIBERS - len(leaving)
    store = Store.open(prepared.store.database)
    try:
        for email in leaving:
            sub = store.subscriber(email)
            row = store.digest_row(sub.id, DAY)
            assert row is not None
            assert (row.status, row.error, row.claimed_by) == ("skipped", "unsubscribed", None)
            assert store.sent_paper_ids([sub.id])[sub.id] == set()
    finally:
        store.close()


KILL_SCRIPT = """
import datetime as dt, os, signal, sys
from pathlib import Path
from digest.config import load_config
from digest.render import make_renderer
from digest.run import RunContext, run_digests
from digest.store import Store
from digest.transports import OutboxTransport

config = load_config(Path(sys.argv[1]))
kill_at = int(sys.argv[2])
moment = dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC)


class Killing(OutboxTransport):
    count = 0

    def send(self, message):
        receipt = super().send(message)
        Killing.count += 1
        if Killing.count == kill_at:
            workers = [
                p.parent.name for p in Path("/proc").glob("[0-9]*/stat")
                if p.read_text().rsplit(")", 1)[1].split()[1] in children()
            ]
            Path(sys.argv[3]).write_text(" ".join(workers))
            os.kill(os.getpid(), signal.SIGKILL)
        return receipt


def children():
    found = {str(os.getpid())}
    for _ in range(3):  # the forkserver, then its workers
        for p in Path("/proc").glob("[0-9]*/stat"):
            try:
                if p.read_text().rsplit(")", 1)[1].split()[1] in found:
                    found.add(p.parent.name)
            except OSError:
                pass
    return found


if __name__ == "__main__":
    store = Store.open(config.store.database)
    ctx = RunContext(
        transport=Killing(config.delivery.outbox),
        renderer=make_renderer(config),
        now=lambda: moment,
        workers=2,
    )
    run_digests(store, config, ctx, date_override=dt.date(2026, 11, 16))
"""


@pytest.mark.parametrize("kill_at", [1, 37, 250])
def test_sigkill_mid_batch_then_rerun_sends_each_digest_once(
    prepared: Config, tmp_path: Path, kill_at: int
) -> None:
    root = prepared.path.parent
    clean = tmp_path / "clean"
    shutil.copytree(root, clean)
    run(load_config(clean / "config.toml"), workers=1)
    script = tmp_path / "kill_run.py"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    pids = tmp_path / "pids.txt"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    killed = subprocess.run(
        [sys.executable, str(script), str(prepared.path), str(kill_at), str(pids)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if kill_at > SUBSCRIBERS:  # never reached: a whole run
        assert killed.returncode == 0, killed.stderr
    else:
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        workers = [int(p) for p in pids.read_text().split()]
        assert len(workers) >= 2  # the forkserver and its render workers
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "render workers outlived the killed run"
            time.sleep(0.1)
    run(prepared, workers=2)
    # Each digest went out once: the outbox holds the clean run's messages, byte for byte
    # (a message handed over again rewrote its own file), and every paper is recorded
    # as sent once, to the subscriber the clean run sent it to.
    assert outbox(root) == outbox(clean)
    sends = "SELECT subscriber_id, paper_id FROM sends"
    assert table(root, sends) == table(clean, sends)
    assert {row[1] for row in table(root, DIGESTS)} == {"sent"}
    statuses = table(root, "SELECT status FROM runs")
    assert statuses == ([("ok",)] * 2 if kill_at > SUBSCRIBERS else [("interrupted",), ("ok",)])


def test_digest_run_workers_option_and_config_key(prepared: Config) -> None:
    result = invoke(prepared.path, "run", "--date", DAY.isoformat(), "--workers", "2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["sent"], report["status"]) == (SUBSCRIBERS, "ok")
    assert len(outbox(prepared.path.parent)) == SUBSCRIBERS  # one file per message
    refused = invoke(prepared.path, "run", "--workers", "-1")
    assert refused.exit_code == 2 and "-1 is not in the range 0<=x<=64" in refused.output
    config = prepared.path.read_text(encoding="utf-8").replace("workers = 0 ", "workers = -2 ")
    prepared.path.write_text(config, encoding="utf-8")
    bad = invoke(prepared.path, "run")
    assert bad.exit_code != 0
    assert "delivery.workers is -2; expected 0 (one per core) to 64 render processes" in (
        bad.output
    )
