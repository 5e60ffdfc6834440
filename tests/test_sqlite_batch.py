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
from cadenza._journal._sqlite_batch import ENCODER, chunk_sizes, statements
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


def test_each_event_is_stored_exactly_as_its_own_json(store: SqliteStore) -> None:
    """One statement for the batch stores each event's columns and its JSON, byte for byte."""
    seen = traced(store)
    store.write(WriteBatch(events=VARIED))
    assert rows(store) == expected_rows(VARIED)
    assert store.read_events("r") == VARIED
    assert sum(sql.startswith("INSERT INTO events") for sql in seen) == 1


def test_a_batch_splits_into_power_of_two_statements() -> None:
    """Full chunks first, then the rest as powers of two: few statement shapes to prepare."""
    assert chunk_sizes(0) == []
    assert chunk_sizes(1) == [1]
    assert chunk_sizes(150) == [128, 16, 4, 2]
    assert chunk_sizes(300) == [128, 128, 32, 8, 4]
    shapes = {size for count in range(1, 600) for size in chunk_sizes(count)}
    assert shapes == {1, 2, 4, 8, 16, 32, 64, 128}


def test_batches_of_every_size_store_the_same_rows(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 1 to 20 events (chunks of 8 here) store every event once, as its JSON."""
    monkeypatch.setattr(_sqlite_batch, "CHUNK_EVENTS", 8)
    seq = 0
    written: list[dict[str, Any]] = []
    for count in range(1, 21):
        batch = [event(seq + i, output={"i": i, "of": count}) for i in range(count)]
        seq += count
        store.write(WriteBatch(events=batch))
        written += batch
    assert rows(store) == expected_rows(written)


def test_values_that_are_not_finite_are_kept(store: SqliteStore) -> None:
    """NaN and infinities (not JSON) are stored as Python writes them and read back."""
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
    assert len(statements(batch)) == 4  # 10 + 10 + 4 + 1
    with pytest.raises(StoreError):  # seq 24 is already there: the first two chunks go too
        store.write(batch)
    assert [e["seq"] for e in store.read_events("r")] == [24]
    store.write(WriteBatch(events=[event(i) for i in range(24)]))
    assert rows(store) == expected_rows([event(i) for i in range(25)])
