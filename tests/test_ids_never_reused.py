"""Issue 11, item 1: a purged subscriber's id is never given to anyone else, so the links
in their old emails answer 410 and change nothing, whoever subscribed after them."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from digest.config import Config
from digest.store import Store
from digest.store.db import connect
from digest.store.schema import MIGRATIONS, migrate
from digest.store.subscribers import SubscriberSettings, SubscriberUpdate
from digest.tokens import LinkSigner
from digest.web import create_app
from tests.run_helpers import TEST_SECRET, invoke

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SECRET = TEST_SECRET
NOW = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)


def add(store: Store, email: str) -> int:
    [(sub, created)] = store.save_subscribers(
        [SubscriberUpdate(email, SubscriberSettings(name=email.split("@")[0]))], who="test", now=NOW
    )
    assert created
    return sub.id


def test_a_purged_subscribers_id_is_not_given_again(instance: Config) -> None:
    store = Store.open(instance.store.database)
    try:
        add(store, "a@example.org")
        newest = add(store, "b@example.org")
        store.remove_subscriber("b@example.org", purge=True, now=NOW)
        assert add(store, "c@example.org") > newest
    finally:
        store.close()


def _rows(db_path: Path) -> dict[str, list[dict[str, Any]]]:
    db = sqlite_utils.Database(db_path)
    return {
        table: list(db.query(f"SELECT * FROM {table} ORDER BY rowid"))
        for table in ("subscribers", "profiles", "profile_history", "feedback", "digests", "sends")
    }


def test_the_migration_keeps_every_row_and_key(tmp_path: Path) -> None:
    """A database made before the migration: every subscriber keeps its id and every row
    that points at one survives the table rebuild (no cascade)."""
    path = tmp_path / "old.db"
    db = connect(path, create=True)
    conn = db.conn
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, migration in MIGRATIONS:
        if name.startswith("006"):
            break
        conn.execute("PRAGMA foreign_keys = OFF")
        migration(db)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, 'x')", [name])
    conn.commit()
    conn.executescript(
        """
        INSERT INTO papers (id, id_kind, title, abstract, title_key, first_seen, updated_at)
            VALUES ('2601.00001', 'arxiv', 'T', 'A', 't', '2026-01-01', '2026-01-01');
        INSERT INTO subscribers (id, email, created, updated)
            VALUES (4, 'x@example.org', 'c', 'u'), (7, 'y@example.org', 'c', 'u');
        INSERT INTO profiles (subscriber_id, updated) VALUES (7, 'u');
        INSERT INTO profile_history (subscriber_id, changed_at, changed_by, change, profile)
            VALUES (7, 'c', 'test', 'created', '{}');
        INSERT INTO feedback (subscriber_id, paper_id, vote, source, created_at)
            VALUES (7, '2601.00001', 1, 'email', 'c');
        INSERT INTO digests (subscriber_id, digest_date, status, created_at, updated_at)
            VALUES (7, '2026-01-02', 'sent', 'c', 'u');
        INSERT INTO sends (subscriber_id, paper_id, digest_id, sent_at)
            VALUES (7, '2601.00001', 1, 's');
        """
    )
    before = _rows(path)
    assert migrate(db, path)[0] == "006_subscriber_ids_never_reused"
    after = _rows(path)  # later migrations may add columns: compare the ones there before
    assert {
        table: [{key: row[key] for key in rows[0]} for row in after[table]] if rows else []
        for table, rows in before.items()
    } == before
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert (
        "AUTOINCREMENT"
        in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'subscribers'").fetchone()[0]
    )
    # The cascade still works on the rebuilt table, and the purged id stays used.
    conn.execute("DELETE FROM subscribers WHERE id = 7")
    conn.commit()
    assert conn.execute("SELECT count(*) FROM feedback").fetchone()[0] == 0
    cursor = conn.execute(
        "INSERT INTO subscribers (email, created, updated) VALUES ('z@example.org', 'c', 'u')"
    )
    assert cursor.lastrowid == 8
    conn.close()


def _generated_listing(folder: Path) -> Path:
    path = folder / "papers.jsonl"
    records = [
        {"id": f"2611.{n:05d}", "title": f"Program synthesis paper {n}", "abstract": "Code."}
        for n in range(3)
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_old_links_of_a_purged_subscriber_answer_410_for_the_next_one(
    instance: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    result = invoke(instance.path, "ingest", str(_generated_listing(tmp_path)))
    assert result.exit_code == 0, result.output
    store = Store.open(instance.store.database)
    try:
        add(store, "first@example.org")
        purged = add(store, "purged@example.org")
        store.remove_subscriber("purged@example.org", purge=True, now=NOW)
        newcomer = add(store, "new@example.org")
    finally:
        store.close()
    assert newcomer != purged
    signer = LinkSigner(SECRET)
    links = [
        f"/unsubscribe/{signer.sign(purged, 'unsubscribe', issued_at=NOW)}",
        f"/preferences/{signer.sign(purged, 'preferences', issued_at=NOW)}",
        f"/feedback/{signer.sign(purged, 'more', '2611.00001', issued_at=NOW)}",
        f"/feedback/{signer.sign(purged, 'less', '2611.00002', issued_at=NOW)}",
    ]
    before = _rows(instance.store.database)
    app = create_app(instance, secret=SECRET, admin_password="pw for the admin", now=lambda: NOW)
    body = {"List-Unsubscribe": "One-Click", "frequency": "weekly:mon", "max_papers": "1"}
    with TestClient(app) as client:
        for url in links:
            for method in ("GET", "POST"):
                response = client.request(method, url, data=body if method == "POST" else None)
                if url.startswith("/preferences/") and method == "POST":
                    # Without the form's CSRF field the form is refused before anything.
                    assert response.status_code == 403
                    continue
                assert response.status_code == 410, (url, method)
                assert "This subscription no longer exists" in response.text
    assert _rows(instance.store.database) == before
    new = sqlite3.connect(instance.store.database).execute(
        "SELECT status, frequency, max_papers FROM subscribers WHERE email = 'new@example.org'"
    )
    assert new.fetchone() == ("active", "daily", 10)
