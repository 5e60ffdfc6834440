"""How a batch reaches SQLite (``_journal/_sqlite_batch.py``): few statements, the same rows.

Real journal files throughout: each test writes through :class:`SqliteStore` and
reads the ``events`` table back, raw, to check what is stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cadenza._journal import _sqlite_batch
from cadenza._journal._sqlite_batch import ENCODER, has_json, statements
from cadenza.store import RunRecord, SqliteStore, StoreError, WriteBatch


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(str(tmp_path / "journal.db"))
    yield opened
    opened.close()


def event(seq: int, **fields: Any) -> dict[str, Any]:
    return {"kind": "step_succeeded", "run_id": "r", "seq": seq, "at": 1796656591.4584718 + seq,
            "step_id": f"s{seq}", **fields}  # fmt: skip


VARIED = [
    event(0, output=None),
    event(1, output={"text": 'é \u2028 "quoted" \\ / 😀', "n": [1, 2.5, -0.0, 1e-7, 1e300]}),
    event(2, output=123456789012345678901234567890),
    {"kind": "run_started", "run_id": "r", "seq": 3, "at": 2.0, "inputs": {}},  # no step_id
]


def rows(store: SqliteStore) -> list[tuple[Any, ...]]:
    return store._db.execute(
        "SELECT run_id, seq, kind, step_id, at, data FROM events ORDER BY seq"
    ).fetchall()


def expected_rows(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["run_id"], e["seq"], e["kind"], e.get("step_id"), e["at"], ENCODER.encode(e))
        for e in events
    ]


def traced(store: SqliteStore) -> list[str]:
    """The SQL statements the store runs from now on."""
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    return seen


def test_this_sqlite_has_the_json_functions(store: SqliteStore) -> None:
    """The batched insert is in use here, so the tests below exercise it."""
    assert has_json(store._db)
    assert store._json


def test_each_event_is_stored_exactly_as_its_own_json(store: SqliteStore) -> None:
    """One statement for the batch stores each event's columns and its JSON, byte for byte."""
    seen = traced(store)
    store.write(WriteBatch(events=VARIED))
    assert rows(store) == expected_rows(VARIED)
    assert store.read_events("r") == VARIED
    assert sum("json_each" in sql for sql in seen) == 1


def test_the_per_event_path_stores_the_same_rows(tmp_path: Path, store: SqliteStore) -> None:
    """Without SQLite's JSON functions, events go row by row into identical rows."""
    other = SqliteStore(str(tmp_path / "other.db"))
    try:
        other._json = False
        seen = traced(other)
        other.write(WriteBatch(events=VARIED))
        store.write(WriteBatch(events=VARIED))
        assert not any("json_each" in sql for sql in seen)
        assert rows(other) == rows(store) == expected_rows(VARIED)
    finally:
        other.close()


def test_values_that_are_not_finite_are_kept(store: SqliteStore) -> None:
    """NaN and infinities (not JSON) go through the per-event path and read back as written."""
    odd = [event(0, output=1.5), event(1, output=[math.nan, math.inf, -math.inf])]
    store.write(WriteBatch(events=odd))
    assert rows(store) == expected_rows(odd)
    output = store.read_events("r")[1]["output"]
    assert math.isnan(output[0])
    assert output[1:] == [math.inf, -math.inf]


def test_a_batch_of_events_only_commits_without_begin(store: SqliteStore, tmp_path: Path) -> None:
    """Step events alone are one statement, its own transaction: durable for another reader."""
    seen = traced(store)
    store.write(WriteBatch(events=[event(0), event(1)]))
    assert not any(sql.startswith(("BEGIN", "COMMIT")) for sql in seen), seen
    reader = SqliteStore(str(tmp_path / "journal.db"), read_only=True)
    try:
        assert [e["seq"] for e in reader.read_events("r")] == [0, 1]
    finally:
        reader.close()


def test_a_batch_with_several_parts_is_one_transaction(store: SqliteStore) -> None:
    """Events with a run record are wrapped in BEGIN IMMEDIATE ... COMMIT."""
    seen = traced(store)
    record = RunRecord(run_id="r", workflow="w", started_at=1.0)
    store.write(WriteBatch(events=[event(0)], runs=[record], sources=[("r", "text")]))
    assert (seen[0], seen[-1]) == ("BEGIN IMMEDIATE", "COMMIT"), seen
    assert store.get_run("r") == record


def test_a_lone_statement_is_atomic(store: SqliteStore) -> None:
    """A batch colliding with a stored seq is refused whole, even without BEGIN."""
    store.write(WriteBatch(events=[event(5)]))
    with pytest.raises(StoreError):
        store.write(WriteBatch(events=[event(3), event(4), event(5), event(6)]))
    assert [e["seq"] for e in store.read_events("r")] == [5]


def test_a_long_batch_is_chunked_and_still_atomic(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past CHUNK_EVENTS a batch takes several statements in one transaction: all or nothing."""
    monkeypatch.setattr(_sqlite_batch, "CHUNK_EVENTS", 10)
    store.write(WriteBatch(events=[event(24)]))
    batch = WriteBatch(events=[event(i) for i in range(25)])
    assert len(statements(batch, use_json=True)) == 3
    with pytest.raises(StoreError):  # seq 24 is already there: the first two chunks go too
        store.write(batch)
    assert [e["seq"] for e in store.read_events("r")] == [24]
    store.write(WriteBatch(events=[event(i) for i in range(24)]))
    assert rows(store) == expected_rows([event(i) for i in range(25)])


def test_a_chunk_too_big_for_one_value_goes_row_by_row(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk whose JSON is over MAX_CHUNK_CHARS is inserted per event, into the same rows."""
    monkeypatch.setattr(_sqlite_batch, "MAX_CHUNK_CHARS", 100)
    events = [event(0, output="x" * 200), event(1)]
    (statement,) = statements(WriteBatch(events=events), use_json=True)
    assert "json_each" not in statement.sql
    assert len(statement.rows) == 2
    store.write(WriteBatch(events=events))
    assert rows(store) == expected_rows(events)
