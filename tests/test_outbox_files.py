"""The outbox's own files: what crashed runs leave, the folders' modes, and the names of
labelled messages.

- A run removes, at its start, the temporary files whose owner (the process that was to
  move them into place, named in the file name) is gone, however young; one whose owner
  is alive, of another machine or container, or not named stays until it is a day old.
  (They were kept for a day whatever their owner.)
- An outbox or date folder that others may enter (0777, 0755) is made 0700 when the
  outbox opens it; one another user owns is left as it is, with a warning in the log.
  (Only new folders were made private.)
- A sign-up email (``NAME+signup-N.eml``) and a digest never share a file, whatever the
  addresses. (``ada@example.org``'s sign-up email was ``ada_at_example.org.signup-1.eml``,
  the very name of ``ada@example.org.signup-1``'s digest, so one overwrote the other.)
"""

from __future__ import annotations

import datetime as dt
import email
import logging
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest

from digest.config import load_config
from digest.files import pid_scope, stage_file, tighten_private_dir
from digest.transports import OutboxTransport, OutgoingMessage
from digest.transports.outbox import OutboxStager, outbox_name, outbox_path
from digest.web import create_app
from tests.run_helpers import TEST_SECRET, invoke, set_config, setup_instance
from tests.test_recipient_names import TRICKY
from tests.test_web_signup import NOW, sign_up

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 11, 16)
MESSAGE = b"Subject: x\r\n\r\nx\r\n"
OLD = 25 * 3600  # seconds: past the one-day rule


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def staged_by_a_process_that_ended(path: Path) -> Path:
    """A temporary file for ``path`` that another process staged before it ended (as a
    killed run's is): its name, the process reaped."""
    code = (
        "import sys; from pathlib import Path; from digest.files import stage_file; "
        "print(stage_file(Path(sys.argv[1]), b'half'))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process, to own a staged file."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_stage_file_names_its_owner_and_scope(tmp_path: Path) -> None:
    path = tmp_path / "a_at_example.org.eml"
    mine = stage_file(path, b"x")
    theirs = stage_file(path, b"x", owner=4321)
    scope = pid_scope()
    assert len(scope) == 8  # this test runs where /proc tells the boot and namespace
    assert re.fullmatch(rf"\.a_at_example\.org\.eml\.{os.getpid()}-\d+\.{scope}\.tmp", mine.name)
    # A worker's file names the run that owns it, and the worker itself for uniqueness.
    pattern = rf"\.a_at_example\.org\.eml\.4321-{os.getpid()}_(\d+)\.{scope}\.tmp"
    match = re.fullmatch(pattern, theirs.name)
    assert match
    # The next name taken (left by a crashed process of the same pid): a random one, the
    # owner and scope still in it.
    taken = path.with_name(theirs.name.replace(f"_{match[1]}.", f"_{int(match[1]) + 1}."))
    taken.write_bytes(b"left")
    fallback = stage_file(path, b"x", owner=4321)
    assert fallback != taken and taken.read_bytes() == b"left"
    assert re.fullmatch(rf"\.a_at_example\.org\.eml\.4321-\w+\.{scope}\.tmp", fallback.name)


def test_a_run_removes_temporary_files_whose_owner_is_gone_whatever_their_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sleeper: subprocess.Popen[bytes]
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    config = setup_instance(tmp_path / "inst")
    outbox = load_config(config).delivery.outbox
    today, before = outbox / DAY.isoformat(), outbox / (DAY - dt.timedelta(days=3)).isoformat()
    today.mkdir(mode=0o700)
    before.mkdir(mode=0o700)
    dead = staged_by_a_process_that_ended(today / "a_at_example.org.eml")
    dead_before = staged_by_a_process_that_ended(before / "b_at_example.org.eml")
    dead_pid = int(dead.name.split(".eml.")[1].split("-")[0])
    alive = stage_file(today / "c_at_example.org.eml", b"half", owner=sleeper.pid)
    other_scope = "0" * 8 if pid_scope() != "0" * 8 else "1" * 8
    foreign = today / f".d_at_example.org.eml.{dead_pid}-0.{other_scope}.tmp"
    unnamed = today / ".e_at_example.org.eml.q1w2e3r4.tmp"  # no owner in the name
    unnamed_old = today / ".f_at_example.org.eml.q1w2e3r4.tmp"
    for path in (foreign, unnamed, unnamed_old):
        path.write_bytes(b"half")
    old = time.time() - OLD
    os.utime(unnamed_old, (old, old))
    everything = {dead, dead_before, alive, foreign, unnamed, unnamed_old}

    dry = invoke(config, "run", "--date", DAY.isoformat(), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert {p for p in everything if p.exists()} == everything  # a dry run removes nothing

    result = invoke(config, "run", "--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    # Gone: the two whose owner ended (young as they are) and the day-old one.
    assert {p for p in everything if p.exists()} == {alive, foreign, unnamed}

    sleeper.kill()
    sleeper.wait()
    result = invoke(config, "run", "--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    assert not alive.exists()  # its owner has ended since
    assert foreign.exists() and unnamed.exists()  # still younger than a day


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_loose_outbox_folders_are_made_private_when_the_outbox_opens_them(
    tmp_path: Path, umask_000: None
) -> None:
    outbox = tmp_path / "outbox"
    day = outbox / DAY.isoformat()
    day.mkdir(parents=True, mode=0o777)
    outbox.chmod(0o777)
    day.chmod(0o755)
    OutboxTransport(outbox).send(OutgoingMessage(MESSAGE, "d@example.org", "a@example.org", DAY))
    assert (mode(outbox), mode(day)) == (0o700, 0o700)
    assert mode(day / "a_at_example.org.eml") == 0o600

    # The render workers' stager, which opens the date folder first in a run.
    later = outbox / (DAY + dt.timedelta(days=1)).isoformat()
    later.mkdir(mode=0o777)
    outbox.chmod(0o777)
    staged = OutboxStager(outbox, False, os.getpid())(
        "a@example.org", DAY + dt.timedelta(days=1), MESSAGE, None
    )
    staged.discard()
    assert (mode(outbox), mode(later)) == (0o700, 0o700)


def test_a_loose_folder_another_user_owns_is_left_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if os.geteuid() == 0:
        theirs = tmp_path / "outbox"  # root makes a folder that "nobody" owns
        theirs.mkdir()
        theirs.chmod(0o777)
        os.chown(theirs, 65534, 65534)
    else:
        theirs = Path("/tmp")  # root's, 1777
    before = mode(theirs)
    with caplog.at_level(logging.WARNING, logger="digest.files"):
        if os.geteuid() == 0:
            transport = OutboxTransport(theirs)
            transport.send(OutgoingMessage(MESSAGE, "d@example.org", "a@example.org", DAY))
            assert mode(theirs / DAY.isoformat()) == 0o700  # its own folder is private
        else:
            tighten_private_dir(theirs)
    assert mode(theirs) == before
    assert [r.getMessage() for r in caplog.records] == [
        f"{theirs}: others may enter this folder (mode {before:04o}) and another user "
        f"(uid {theirs.stat().st_uid}) owns it, so digest leaves it as it is; make it "
        f"private (chmod go= {theirs})"
    ]


def test_labelled_and_digest_names_never_meet() -> None:
    addresses = [*TRICKY, "ada@example.org", "ada@example.org.signup-1", "ada@x.org+signup-1"]
    labels = ["signup-1", "signup-12", "+signup-1", "a~b"]
    digests = {outbox_path(Path("o"), a, DAY) for a in addresses}
    labelled = {outbox_path(Path("o"), a, DAY, label) for a in addresses for label in labels}
    assert len(digests) == len(addresses)
    assert len(labelled) == len(addresses) * len(labels)
    assert not digests & labelled
    assert all("+" not in outbox_name(a) for a in addresses)
    assert outbox_path(Path("o"), "ada@example.org", DAY, "signup-1").name == (
        "ada_at_example.org+signup-1.eml"
    )


def test_a_signup_email_and_a_digest_to_colliding_addresses_keep_their_own_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sign-up from ada@example.org and a digest to a subscriber stored (before addresses
    were checked) as ada@example.org.signup-N, on the same day: two files, both whole."""
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    config_path = setup_instance(tmp_path / "inst")
    ingest = invoke(
        config_path, "ingest", "--date", DAY.isoformat(), str(REPO / "examples/records.jsonl")
    )
    assert ingest.exit_code == 0, ingest.output
    set_config(config_path, "web", "signup", '"open"')
    config = load_config(config_path)
    app = create_app(config, secret=TEST_SECRET, admin_password="unused password", now=lambda: NOW)
    with TestClient(app) as client:
        answer = sign_up(client, email="ada@example.org", keywords="program synthesis")
    assert answer.status_code == 200
    database = config.store.database
    with sqlite3.connect(database) as conn:
        (attempt,) = conn.execute(
            "SELECT id FROM signup_attempts WHERE email = 'ada@example.org'"
        ).fetchone()
        colliding = f"ada@example.org.signup-{attempt}"
        conn.execute(
            "UPDATE subscribers SET email = ? WHERE email = 'grace@example.org'", [colliding]
        )
    conn.close()
    signups = list(config.delivery.outbox.rglob("*.eml"))
    assert len(signups) == 1
    signup_bytes = signups[0].read_bytes()

    run = invoke(config_path, "run", "--date", DAY.isoformat())
    assert run.exit_code == 0, run.output
    messages = {}
    for path in (config.delivery.outbox / DAY.isoformat()).glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        messages[message["To"].addresses[0].addr_spec] = path
    assert {"ada@example.org", colliding} <= set(messages), run.output
    assert messages["ada@example.org"].read_bytes() == signup_bytes  # not overwritten
    assert messages["ada@example.org"] != messages[colliding]
