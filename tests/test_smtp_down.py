"""Issue 11, item 6: an SMTP server that no message can get past stops the run after one
digest's retries, with every digest left pending for the next run."""

from __future__ import annotations

import datetime as dt
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from digest.instance import init_instance
from tests.run_helpers import TEST_SECRET, invoke, set_config
from tests.smtp_server import Handler, smtp_server

DAY = dt.date(2026, 11, 16)
SUBSCRIBERS = 20


@contextmanager
def greeting_server(greeting: bytes) -> Iterator[tuple[int, list[int]]]:
    """A raw TCP server on loopback that answers every connection with ``greeting`` and
    hangs up; yields its port and the list of connections it took."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    accepted: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            with conn:
                conn.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        listener.close()


def _instance(tmp_path: Path, port: int) -> Path:
    config = init_instance(tmp_path / "inst")
    for key, value in (("transport", '"smtp"'),):
        set_config(config, "delivery", key, value)
    for key, value in (
        ("host", '"127.0.0.1"'),
        ("port", str(port)),
        ("security", '"none"'),
        ("backoff_seconds", "0.01"),
        ("timeout", "5"),
    ):
        set_config(config, "smtp", key, value)
    listing = tmp_path / "papers.jsonl"
    listing.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"2611.{n:05d}",
                    "title": f"Program synthesis with code generation models {n}",
                    "abstract": "We study program synthesis and code generation.",
                }
            )
            for n in range(5)
        )
        + "\n",
        encoding="utf-8",
    )
    assert invoke(config, "ingest", "--date", DAY.isoformat(), str(listing)).exit_code == 0
    subscribers = tmp_path / "subs.toml"
    subscribers.write_text(
        "".join(
            f'[[subscribers]]\nemail = "s{n:02d}@example.org"\n'
            'keywords = ["program synthesis"]\nmax_papers = 3\n\n'
            for n in range(SUBSCRIBERS)
        ),
        encoding="utf-8",
    )
    assert invoke(config, "subscribers", "import", str(subscribers)).exit_code == 0
    return config


def _states(config: Path) -> tuple[list[str], int]:
    db = sqlite3.connect(config.parent / "digest.db")
    try:
        statuses = [r[0] for r in db.execute("SELECT status FROM digests ORDER BY id")]
        sends = db.execute("SELECT count(*) FROM sends").fetchone()[0]
    finally:
        db.close()
    return statuses, sends


@pytest.mark.parametrize(
    "greeting", [b"421 4.3.2 Service not available, closing channel\r\n", b""], ids=["421", "eof"]
)
def test_a_server_that_refuses_every_connection_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, greeting: bytes
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    with greeting_server(greeting) as (port, accepted):
        config = _instance(tmp_path, port)
        assert (config.parent / "digest.db").exists()
        started = time.monotonic()
        result = invoke(config, "run", "--date", DAY.isoformat())
        elapsed = time.monotonic() - started
    assert result.exit_code != 0
    assert "every digest stays pending for the next run" in result.output
    assert len(accepted) == 4  # one digest: the first attempt and 3 retries
    assert elapsed < 10, elapsed
    assert _states(config) == (["pending"] * SUBSCRIBERS, 0)

    handler = Handler()
    with smtp_server(handler) as good_port:
        set_config(config, "smtp", "port", str(good_port))
        result = invoke(config, "run", "--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    assert sorted(m.rcpt_tos[0] for m in handler.messages) == [
        f"s{n:02d}@example.org" for n in range(SUBSCRIBERS)
    ]
    statuses, sends = _states(config)
    assert statuses == ["sent"] * SUBSCRIBERS and sends == SUBSCRIBERS * 3


def test_connection_refused_stops_the_run_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        config = _instance(tmp_path, port)
        result = invoke(config, "run", "--date", DAY.isoformat())
    assert result.exit_code != 0
    assert "connection refused; check smtp.host and smtp.port" in result.output
    assert _states(config) == (["pending"] * SUBSCRIBERS, 0)
