"""The outbox messages that render workers stage (write ahead under temporary names) go
into place only after their digest's claim is committed, and never otherwise.

- With workers the outbox's files (.eml and .html) are byte for byte what the run's own
  process writes without staging.
- Each staged message becomes an .eml only once its claim is committed (seen from another
  connection at the moment of the hand-off); a digest whose claim fails (another run took
  it, the subscriber left before the claim) or whose subscriber left between the claim and
  the hand-off gets no .eml and leaves no temporary file.
- A stop in the middle of a batch leaves no staged file and no .eml for the digests it
  gave back; the next run sends each of them once.
- ``kill -9`` in the middle of a batch (its claims committed, nothing handed over yet)
  leaves only dot-named temporary files; a second run gives each subscriber exactly one
  .eml and removes them at its start (their owner is gone); a later use of the outbox
  removes other temporary files once they are a day old.
- The stored "view in browser" page is compressed from the renderer's own HTML bytes:
  they are ``html_body(message)`` byte for byte, in the quoted-printable case too.
"""

from __future__ import annotations

import datetime as dt
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

import digest.run
from digest.config import Config, load_config
from digest.records import DigestContent, Keyword, Paper, Pick, Profile, Subscriber
from digest.render import make_renderer
from digest.run import RunContext, RunReport, run_digests
from digest.store import Store
from digest.transports import OutboxTransport, OutgoingMessage, Receipt
from digest.transports.outbox import html_body, stored_page
from tests.run_helpers import TEST_SECRET, set_config
from tests.test_run_workers import DAY, NOW, SUBSCRIBERS, build

WORKERS = 2


@pytest.fixture
def prepared(instance: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    return build(instance, tmp_path)


def run(
    config: Config,
    transport: OutboxTransport | None = None,
    *,
    workers: int = WORKERS,
    should_stop: object = None,
) -> RunReport:
    store = Store.open(config.store.database)
    try:
        ctx = RunContext(
            transport=transport or OutboxTransport.from_config(config),
            renderer=make_renderer(config),
            now=lambda: NOW,
            workers=workers,
            should_stop=should_stop or (lambda: False),  # type: ignore[arg-type]
        )
        return run_digests(store, config, ctx, date_override=DAY)
    finally:
        store.close()


def files(outbox: Path) -> dict[str, bytes]:
    """Every file in the outbox (dot-named ones too), by path below it."""
    return {
        str(p.relative_to(outbox)): p.read_bytes() for p in sorted(outbox.rglob("*")) if p.is_file()
    }


def temporary(outbox: Path) -> list[str]:
    return [name for name in files(outbox) if Path(name).name.startswith(".")]


def statuses(config: Config) -> dict[str, tuple[str, str | None]]:
    """subscriber email → (digest status, error)."""
    db = sqlite_utils.Database(config.store.database)
    rows = db.execute(
        "SELECT s.email, d.status, d.error FROM digests d JOIN subscribers s "
        "ON s.id = d.subscriber_id"
    ).fetchall()
    return {email: (status, error) for email, status, error in rows}


def eml_owner(name: str) -> str:
    return Path(name).name.removesuffix(".eml").replace("_at_", "@")


def test_staged_outbox_files_are_byte_for_byte_the_unstaged_ones(
    prepared: Config, tmp_path: Path
) -> None:
    set_config(prepared.path, "delivery", "outbox_html", "true")
    root = prepared.path.parent
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    run(load_config(prepared.path), workers=1)  # in this process: nothing staged
    staged = Staging(load_config(copy / "config.toml"))
    report = run(load_config(copy / "config.toml"), staged)
    assert report.sent == SUBSCRIBERS and staged.staged == SUBSCRIBERS
    written = files(root / "outbox")
    assert len(written) == 2 * SUBSCRIBERS  # an .eml and an .html each, nothing else
    assert files(copy / "outbox") == written


class Staging(OutboxTransport):
    """The outbox, checking at each hand-off that the message was staged by a worker and
    that its digest's claim is committed (read on another connection)."""

    def __init__(self, config: Config, *, on_first: object = None) -> None:
        super().__init__(config.delivery.outbox, html_copy=config.delivery.outbox_html)
        self.database = config.store.database
        self.on_first = on_first
        self.staged = 0
        self.recipients: list[str] = []

    def send(self, message: OutgoingMessage) -> Receipt:
        if not self.recipients and callable(self.on_first):
            self.on_first()
        assert message.staged is not None and message.data == b""
        path = self.path_for(message.recipient, message.digest_date)
        assert not path.exists()
        for tmp, _ in message.staged.moves:  # private, dot-named, beside the message
            assert tmp.name.startswith(".") and tmp.parent == path.parent
            assert tmp.stat().st_mode & 0o777 == 0o600
        other = sqlite_utils.Database(self.database)
        try:
            status, claimed_by = other.execute(
                "SELECT d.status, d.claimed_by FROM digests d JOIN subscribers s "
                "ON s.id = d.subscriber_id WHERE s.email = ? AND d.digest_date = ?",
                [message.recipient, message.digest_date.isoformat()],
            ).fetchone()
        finally:
            other.conn.close()
        assert (status, claimed_by[:4]) == ("rendered", "run ")
        self.staged += 1
        self.recipients.append(message.recipient)
        return super().send(message)


def test_a_staged_message_becomes_an_eml_only_after_its_claim_is_committed(
    prepared: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digest.run, "BATCH", 10)  # so later batches claim after the events
    database = prepared.store.database
    leaving_before_claim = [f"s{n:03d}@example.org" for n in (30, 55)]
    leaving_after_claim = [f"s{n:03d}@example.org" for n in (3, 7)]  # in the first batch
    taken = "s042@example.org"

    def meanwhile() -> None:  # on another connection, as `digest serve` or a run would
        other = Store.open(database)
        try:
            for email in leaving_before_claim + leaving_after_claim:
                other.set_status_by_id(other.subscriber(email).id, "unsubscribed", now=NOW)
            # Another run claims one digest this run has opened but not claimed yet.
            other.db.execute(
                "UPDATE digests SET status = 'rendered', claimed_by = 'run 99 pid 1' "
                "WHERE subscriber_id = ?",
                [other.subscriber(taken).id],
            )
            other.db.conn.commit()
        finally:
            other.close()

    transport = Staging(prepared, on_first=meanwhile)
    report = run(prepared, transport)
    gone = set(leaving_before_claim + leaving_after_claim)
    assert not (gone | {taken}) & set(transport.recipients)
    assert transport.staged == len(transport.recipients) == SUBSCRIBERS - 5
    assert (report.sent, report.skipped, report.unsubscribed, report.already_done) == (
        SUBSCRIBERS - 5,
        0,
        4,
        1,
    )
    outbox = prepared.delivery.outbox
    assert temporary(outbox) == []  # every staged file was handed over or removed
    emls = {eml_owner(name) for name in files(outbox)}
    assert emls == set(transport.recipients)
    found = statuses(prepared)
    assert {email for email, (status, _) in found.items() if status == "sent"} == emls
    for email in gone:
        assert found[email] == ("skipped", "unsubscribed")
    assert found[taken][0] == "rendered"  # the other run's, untouched


# 200: the whole day is one batch, stopped between its hand-offs; 10: a later batch's
# messages are still in the render pool (staged, never received) when the run stops.
@pytest.mark.parametrize("batch", [200, 10])
def test_a_stop_mid_batch_leaves_no_staged_files_and_no_eml_for_released_digests(
    prepared: Config, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(digest.run, "BATCH", batch)
    transport = Staging(prepared)
    report = run(prepared, transport, should_stop=lambda: len(transport.recipients) >= 5)
    assert report.status == "interrupted" and report.sent == 5
    outbox = prepared.delivery.outbox
    assert temporary(outbox) == []
    emls = {eml_owner(name) for name in files(outbox)}
    assert emls == set(transport.recipients)
    found = statuses(prepared)
    assert {e for e, (s, _) in found.items() if s == "sent"} == emls
    assert {s for e, (s, _) in found.items() if e not in emls} == {"pending"}
    # The next run sends every other digest once.
    again = Staging(prepared)
    assert run(prepared, again).sent == SUBSCRIBERS - 5
    assert not set(again.recipients) & emls
    assert len(files(outbox)) == SUBSCRIBERS and temporary(outbox) == []


KILL_SCRIPT = """
import datetime as dt, os, signal, sys
from pathlib import Path

import digest.run
from digest.config import load_config
from digest.render import make_renderer
from digest.run import RunContext, run_digests
from digest.store import Store
from digest.transports import OutboxTransport

config = load_config(Path(sys.argv[1]))
digest.run.BATCH = 16
claims = Store.claim_digests


def claim_then_die(self, *args, **kwargs):
    outcomes = claims(self, *args, **kwargs)  # committed: the batch is claimed
    if len(outcomes) == 16 and Path(sys.argv[2]).exists():  # the second batch
        os.kill(os.getpid(), signal.SIGKILL)
    Path(sys.argv[2]).touch()
    return outcomes


Store.claim_digests = claim_then_die

if __name__ == "__main__":
    store = Store.open(config.store.database)
    ctx = RunContext(
        transport=OutboxTransport(config.delivery.outbox),
        renderer=make_renderer(config),
        now=lambda: dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC),
        workers=2,
    )
    run_digests(store, config, ctx, date_override=dt.date(2026, 11, 16))
"""


def test_sigkill_mid_batch_then_a_second_run_gives_each_subscriber_one_eml(
    prepared: Config, tmp_path: Path
) -> None:
    root = prepared.path.parent
    clean = tmp_path / "clean"
    shutil.copytree(root, clean)
    run(load_config(clean / "config.toml"), workers=1)
    script = tmp_path / "kill_run.py"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    killed = subprocess.run(
        [sys.executable, str(script), str(prepared.path), str(tmp_path / "first-batch")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    outbox = prepared.delivery.outbox
    left = files(outbox)
    emls = [name for name in left if name.endswith(".eml")]
    assert len(emls) == 16  # the first batch; the second was claimed, not handed over
    leftovers = temporary(outbox)
    assert leftovers  # the second batch's staged messages, at least
    assert all(Path(n).name.startswith(".") and n.endswith(".tmp") for n in leftovers)
    assert set(left) == set(emls) | set(leftovers)

    run(prepared)
    after = files(outbox)
    clean_emls = {n: b for n, b in files(clean / "outbox").items() if n.endswith(".eml")}
    assert {n: b for n, b in after.items() if n.endswith(".eml")} == clean_emls
    assert len(clean_emls) == SUBSCRIBERS  # one .eml per subscriber, the clean run's bytes
    # Their owner, the killed run, is gone: the next run removed them at its start,
    # young as they are (this assertion used to be that they were kept for a day).
    assert temporary(outbox) == []
    assert {s for s, _ in statuses(prepared).values()} == {"sent"}


def test_old_temporary_files_are_removed_from_the_week_before_only(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    day_old = time.time() - 25 * 3600
    made: list[tuple[Path, int, bool]] = []  # (file, days before DAY, older than a day)
    for back, old in ((0, True), (0, False), (3, True), (7, True), (8, True)):
        folder = outbox / (DAY - dt.timedelta(days=back)).isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".x_at_example.org.eml.{len(made)}-0.tmp"
        tmp.write_bytes(b"half")
        if old:
            os.utime(tmp, (day_old, day_old))
        made.append((tmp, back, old))
    kept = outbox / DAY.isoformat() / "kept.eml"  # not a temporary file, however old
    kept.write_bytes(b"x")
    os.utime(kept, (day_old, day_old))
    OutboxTransport(outbox).send(
        OutgoingMessage(b"Subject: x\r\n\r\nx\r\n", "d@example.org", "a@example.org", DAY)
    )
    remaining = {tmp for tmp, _, _ in made if tmp.exists()}
    # The fresh one and the one from 8 days before stay; the other old ones went.
    assert remaining == {tmp for tmp, back, old in made if not old or back == 8}
    assert kept.exists()


def _content(title: str, abstract: str) -> DigestContent:
    paper = Paper(
        id="2611.00001",
        title=title,
        abstract=abstract,
        authors=("A. Author", "B. Ç. Autor"),
        upvotes=3,
        first_seen="2026-11-16",
    )
    return DigestContent(
        subscriber=Subscriber(id=5, email="r@example.org", name="Rë Ader"),
        profile=Profile(keywords=(Keyword("retrieval"),)),
        picks=((paper, Pick(paper.id, 0.5, ("matches retrieval",))),),
        digest_date=DAY,
    )


@pytest.mark.parametrize(
    ("title", "abstract"),
    [
        ("Dense retrieval", "Plain words. " * 40),
        ("Ünïcode — “quotes” and emoji 🎉", "Ça marche: ñ, ø, 日本語 & <tags> = 3."),
        # The boundary inside the text makes the HTML part quoted-printable.
        ("Boundary --=_digest_alternative inside", "a=b " * 50 + " --=_digest_alternative"),
    ],
    ids=["ascii", "unicode", "quoted-printable"],
)
def test_stored_page_is_the_html_part_byte_for_byte(
    instance: Config, monkeypatch: pytest.MonkeyPatch, title: str, abstract: str
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    renderer = make_renderer(instance)
    result = renderer.render_digest(_content(title, abstract), now=NOW)
    assert result.data is not None and result.html is not None
    assert result.html == html_body(result.data)
    assert zlib.decompress(stored_page(result.data, result.html)) == html_body(result.data)
    assert stored_page(result.data, result.html) == stored_page(result.data)
    if "boundary" in title.lower():
        assert b"Content-Transfer-Encoding: quoted-printable" in result.data
