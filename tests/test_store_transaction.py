"""Store.transaction: all or nothing, and a savepoint when nested."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.store import Store


def values(store: Store) -> list[int]:
    return [row[0] for row in store.db.execute("SELECT value FROM marks ORDER BY value")]


def test_a_nested_transaction_fails_alone_and_the_outer_one_decides(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "t.db", create=True)
    store.db.execute("CREATE TABLE marks (value INTEGER)")
    with store.transaction():
        store.db.execute("INSERT INTO marks VALUES (1)")
        with pytest.raises(ValueError), store.transaction():
            store.db.execute("INSERT INTO marks VALUES (2)")
            raise ValueError("inner part fails")
        with store.transaction():
            store.db.execute("INSERT INTO marks VALUES (3)")
    assert values(store) == [1, 3]

    with pytest.raises(RuntimeError), store.transaction():
        with store.transaction():
            store.db.execute("INSERT INTO marks VALUES (4)")
        raise RuntimeError("outer fails after the inner one succeeded")
    assert values(store) == [1, 3]
    assert not store.db.conn.in_transaction
    store.close()
