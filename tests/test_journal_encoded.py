"""Events encoded as they are queued (``_journal/_encoded.py``): the same stored text as before.

The journal encodes events on the trio thread for stores that ask for it (the
SQLite store); the stored JSON must be exactly what encoding the capped
``to_dict()`` in the writer thread stored, capped fields included.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from cadenza import _events as ev
from cadenza._journal._bus import EventBus
from cadenza._journal._encoded import ENCODER, EncodedEvent, encode_event, encode_json
from cadenza._journal._limits import JournalLimits, cap_event
from cadenza._journal._store import WriteBatch
from cadenza._journal._writer import Journal
from cadenza.store import SqliteStore

SMALL = JournalLimits(output_bytes=4096, field_bytes=2048)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(str(tmp_path / "journal.db"))
    yield store
    store.close()


EVENTS = [
    ev.StepReady(run_id="r", seq=0, at=1796656591.4584718, step_id="s", inputs={"a": (1, 2)}),
    ev.StepSucceeded(
        run_id="r", seq=1, at=2.5, step_id="s", attempt=1, agent="a", duration=0.1,
        output={"text": 'é "quoted" 😀', "n": [1, 2.5, -0.0, 1e300, math.nan]},
    ),
    ev.StepReady(run_id="r", seq=2, at=3.0, step_id="big", inputs={"text": "y" * 5000}),
    ev.StepFailed(
        run_id="r", seq=3, at=4.0, step_id="s", attempts=1, error_type="E", message="z" * 3000
    ),
    ev.StepSucceeded(
        run_id="r", seq=4, at=5.0, step_id="s", attempt=1, agent="a", duration=0.1,
        output="x" * 3000,  # under output_bytes, over field_bytes: kept whole
    ),
    ev.StepSucceeded(
        run_id="r", seq=5, at=6.0, step_id="s", attempt=1, agent="a", duration=0.1,
        output="x" * 5000,  # over output_bytes: capped
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        {"a": (1, 2), "b": [1.5, math.nan, -math.inf, -0.0, 1e300, 10**30], "c": None},
        'é 😀 "quoted" \\ \u2028',
        {1: "int key", 2.5: "float key", None: "null key", False: "bool key"},
        {"set": {3}, "object": object},  # not JSON: str() of it, as ENCODER does
        [],
    ],
)
def test_the_one_shot_encoder_writes_what_encoder_writes(value: Any) -> None:
    """encode_json (one C encoder made once) gives ENCODER.encode's text."""
    assert encode_json(value) == ENCODER.encode(value)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.kind}-{e.seq}")
def test_the_text_is_the_capped_dict_encoded(event: ev.Event) -> None:
    """Small, capped and whole-kept fields: the text is ENCODER.encode(cap_event(to_dict()))."""
    encoded = encode_event(event, SMALL)
    assert isinstance(encoded, EncodedEvent)
    assert encoded.text == ENCODER.encode(cap_event(event.to_dict(), SMALL))
    assert (encoded.run_id, encoded.seq, encoded.kind, encoded.at) == (
        event.run_id,
        event.seq,
        event.kind,
        event.at,
    )
    assert encoded.step_id == event.to_dict().get("step_id")


def test_an_encoded_event_reads_as_the_stored_event(sqlite: SqliteStore) -> None:
    """As a mapping it is what read_events returns for it; the store keeps its text."""
    encoded = [encode_event(event, SMALL) for event in EVENTS[:3]]
    sqlite.write(WriteBatch(events=encoded))
    stored = sqlite.read_events("r")
    decoded = [dict(e) for e in encoded]
    assert decoded[::2] == stored[::2]  # [1] holds a NaN: not equal to itself
    rows = sqlite._db.execute("SELECT data FROM events ORDER BY seq").fetchall()
    assert [row[0] for row in rows] == [e.text for e in encoded if isinstance(e, EncodedEvent)]


def test_an_event_json_cannot_hold_stays_a_dict() -> None:
    """Keys JSON refuses leave the capped dict, for the store to report as before."""
    event = ev.StepReady(run_id="r", seq=0, at=1.0, step_id="s", inputs={("a", 1): 1})
    encoded = encode_event(event, SMALL)
    assert encoded == event.to_dict()
    assert not isinstance(encoded, EncodedEvent)


class PlainStore:
    """A store without ``writes_encoded_events``: records what it is given."""

    url = "plain://"

    def __init__(self) -> None:
        self.batches: list[WriteBatch] = []

    def write(self, batch: WriteBatch) -> None:
        self.batches.append(batch)


class RecordingSqliteStore(SqliteStore):
    """The SQLite store, recording the batches it writes."""

    batches: list[WriteBatch]

    def write(self, batch: WriteBatch) -> None:
        self.batches.append(batch)
        super().write(batch)


async def journal_one_event(store: Any) -> None:
    journal = Journal(store=store, run_id="r", limits=SMALL)
    bus = EventBus(run_id="r", recorder=journal.observe)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run_writer)
        bus.emit(ev.StepReady, step_id="big", inputs={"text": "y" * 5000})
        await journal.wait_durable(0)
        nursery.cancel_scope.cancel()


async def test_only_a_store_that_asks_gets_encoded_events(tmp_path: Path) -> None:
    """The SQLite store gets EncodedEvents; any other store the capped dicts, as before."""
    plain = PlainStore()
    sqlite = RecordingSqliteStore(str(tmp_path / "journal.db"))
    sqlite.batches = []
    try:
        await journal_one_event(plain)
        await journal_one_event(sqlite)
        [[given]] = [batch.events for batch in plain.batches]
        [[encoded]] = [batch.events for batch in sqlite.batches]
        assert type(given) is dict
        assert type(encoded) is EncodedEvent
        assert given["inputs"]["truncated"] is True
        [stored] = sqlite.read_events("r")
        assert {**stored, "at": 0} == {**given, "at": 0}  # two journals: two clocks
    finally:
        sqlite.close()
