"""StoreConformance: the tests every journal store must pass, as a class to subclass.

A store plugin runs the suite from its own tests by subclassing it and saying
how to open an empty store::

    import pytest
    import cadenza.testing

    from cadenza_mystore import MyStore


    class TestMyStore(cadenza.testing.StoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(f"mystore://{tmp_path}")

The suite closes every store it uses; the fixture need not. If the store's
class is not its own factory (``factory(url)``), override :meth:`reopen`.

The tests are synchronous, like the :class:`~cadenza.store.Store` protocol, and each
one starts from an empty store. They pin the contract the kernel relies on:

* ``read_events`` returns a run's events in ``seq`` order, whatever order they
  were written in, with ``seq > after``;
* ``write`` applies a :class:`~cadenza.store.WriteBatch` atomically: a batch that
  repeats an existing ``(run_id, seq)`` raises :class:`~cadenza.store.StoreError` and
  leaves nothing of itself behind (no event, run, source or cache entry);
* a run upsert keeps the *identity* fields of the first insert (``workflow``,
  ``source``, ``source_hash``, ``started_at``, ``inputs``) and takes everything
  else (``status``, ``finished_at``, ``counts``, ``reason``, ``pid``, ``host``)
  from the latest record; upserts within one batch apply in order;
* ``cancel_requested`` is set only by ``request_cancel``; upserts keep it,
  except that a finished run coming back to ``running`` (a resume) clears it;
* ``list_runs`` gives the most recently started runs first, at most ``limit``,
  filtered by the current ``status`` and by ``workflow``;
* a run's source text is written once: later sources for the run are ignored;
* ``get_cache`` returns the latest entry for a key unless it expired at ``now``
  (``expires_at <= now``); a null output is a hit;
* stored values are JSON data: what comes back equals the JSON round trip of
  what was written, and is a copy (mutating either side changes nothing
  stored). The suite writes only JSON values; the kernel does too;
* ``record_decision`` keeps the first decision per ``(run_id, step_id,
  request)`` and answers False for later ones; ``read_decisions`` gives a
  run's decisions oldest first, and survives closing and reopening;
* a committed write survives closing the store and opening it again; calls on a
  closed store raise ``StoreError``;
* calls from several threads at once are safe (a run's journal writer and its
  cache lookups run in different worker threads).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from .._errors import StoreError
from .._events import RunStarted, StepSucceeded
from .._journal._store import (
    ApprovalDecision,
    CacheEntry,
    RunRecord,
    Store,
    SupportsApprovals,
    WriteBatch,
)

JSON_SAMPLE: dict[str, Any] = {
    "text": 'naïve café, 日本語, emoji 🎵, "quotes", back\\slash, tab\tnew\nline',
    "ключ": "значение",
    "numbers": [0, -3, 2**53, 2.5, -0.5, 1e-9, 1.0e300],
    "flags": [True, False, None],
    "nested": {"list": [[{"deep": [1, {"deeper": "yes"}]}], []], "empty": {}},
    "empty_text": "",
}
"""A JSON value exercising unicode, nesting, big and small numbers, null and empties."""


def approval_decision(
    run_id: str = "run-1", step_id: str = "publish", **changes: Any
) -> ApprovalDecision:
    """An approval of ``step_id`` by alice, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "run_id": run_id,
        "step_id": step_id,
        "request": 3,
        "approved": True,
        "by": "alice",
        "reason": "looks good",
        "decided_at": 10.0,
    }
    fields.update(changes)
    return ApprovalDecision(**fields)


def run_record(run_id: str = "run-1", **changes: Any) -> RunRecord:
    """A running run's record, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "run_id": run_id,
        "workflow": "report",
        "source": "/work/report.yaml",
        "source_hash": "ab12",
        "started_at": 1_700_000_000.0,
        "inputs": {"topic": "trio"},
        "pid": 4242,
        "host": "build-1",
    }
    fields.update(changes)
    return RunRecord(**fields)


def step_event(run_id: str, seq: int, *, output: Any = "ok", step_id: str = "s") -> dict[str, Any]:
    """A ``step_succeeded`` event as the journal writes it (``Event.to_dict`` data)."""
    return StepSucceeded(
        run_id=run_id,
        seq=seq,
        at=1_700_000_000.0 + seq,
        step_id=step_id,
        attempt=1,
        agent="writer",
        output=output,
        duration=0.25,
    ).to_dict()


def cache_entry(key: str = "k" * 64, **changes: Any) -> CacheEntry:
    """A cache entry made at t=1000 that never expires, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "key": key,
        "output": {"text": "cached"},
        "created_at": 1000.0,
        "run_id": "run-1",
        "step_id": "draft",
    }
    fields.update(changes)
    return CacheEntry(**fields)


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events]


@attrs.define(eq=False)
class _OpenedStores:
    """The stores one test has used, so each is closed exactly once."""

    reopen_fn: Callable[[Store], Store]
    stores: list[Store] = attrs.field(factory=list)
    closed: list[Store] = attrs.field(factory=list)

    def close(self, store: Store) -> None:
        if not any(s is store for s in self.closed):
            self.closed.append(store)
            store.close()

    def reopen(self, store: Store) -> Store:
        self.close(store)
        again = self.reopen_fn(store)
        self.stores.append(again)
        return again

    def close_all(self) -> None:
        for store in self.stores:
            self.close(store)


class StoreConformance:
    """Tests of the :class:`~cadenza.store.Store` contract; subclass it and define ``store``.

    See the module documentation for the contract and an example.
    """

    @pytest.fixture
    def store(self) -> Store:
        """An empty store; override this fixture in your subclass."""
        pytest.fail(
            f"{type(self).__name__} must override the store fixture to return an empty store:\n"
            "    @pytest.fixture\n"
            "    def store(self, tmp_path):\n"
            '        return MyStore(f"mystore://{tmp_path}")',
            pytrace=False,
        )

    def reopen(self, store: Store) -> Store:
        """Open ``store``'s data again after the suite closed it (default ``type(store)(url)``)."""
        factory: Callable[[str], Store] = type(store)
        return factory(store.url)

    @pytest.fixture(autouse=True)
    def opened_stores(self, store: Store) -> Iterator[_OpenedStores]:
        """Every store a test uses, each closed once when the test ends."""
        opened = _OpenedStores(reopen_fn=self.reopen, stores=[store])
        yield opened
        opened.close_all()

    # -- the protocol ---------------------------------------------------------------

    def test_store_satisfies_the_protocol(self, store: Store) -> None:
        """The store has every Store method and a non-empty string ``url``."""
        assert isinstance(store, Store)
        assert isinstance(store.url, str)
        assert store.url

    # -- events -----------------------------------------------------------------------

    def test_events_read_back_in_seq_order(self, store: Store) -> None:
        """Events come back ordered by ``seq``, whatever order the batches wrote them in."""
        store.write(WriteBatch(events=[step_event("r", 3), step_event("r", 1)]))
        store.write(WriteBatch(events=[step_event("r", 0), step_event("r", 2)]))
        assert _seqs(store.read_events("r")) == [0, 1, 2, 3]

    def test_read_events_after_returns_only_later_events(self, store: Store) -> None:
        """``after=n`` returns the events with ``seq > n``; the default returns them all."""
        store.write(WriteBatch(events=[step_event("r", seq) for seq in range(5)]))
        assert _seqs(store.read_events("r", after=1)) == [2, 3, 4]
        assert _seqs(store.read_events("r", after=-1)) == [0, 1, 2, 3, 4]
        assert store.read_events("r", after=4) == []

    def test_read_events_keeps_runs_apart(self, store: Store) -> None:
        """Each run's events come back alone, though runs share ``seq`` numbers."""
        store.write(WriteBatch(events=[step_event("a", 0, output="a0"), step_event("b", 0)]))
        store.write(WriteBatch(events=[step_event("b", 1), step_event("a", 1, output="a1")]))
        assert [e["output"] for e in store.read_events("a")] == ["a0", "a1"]
        assert {e["run_id"] for e in store.read_events("b")} == {"b"}

    def test_read_events_of_unknown_run_is_empty(self, store: Store) -> None:
        """A run without events has an empty event list, not an error."""
        assert store.read_events("no-such-run") == []

    def test_event_data_round_trips_as_json(self, store: Store) -> None:
        """An event comes back equal to the JSON round trip of what was written."""
        started = RunStarted(
            run_id="r",
            seq=0,
            at=1_700_000_000.125,
            workflow="wörkflow",
            source="/tmp/w.yaml",
            source_hash="ab",
            inputs={"topic": "日本語", "n": 3, "tags": ["a", "b"]},
            steps=("one", "two"),
        ).to_dict()
        succeeded = step_event("r", 1, output=JSON_SAMPLE)
        store.write(WriteBatch(events=[started, succeeded]))
        assert store.read_events("r") == [_json(started), _json(succeeded)]

    # -- atomic batches -------------------------------------------------------------

    def test_batch_with_a_duplicate_event_fails_as_a_whole(self, store: Store) -> None:
        """A batch repeating a stored ``(run_id, seq)`` raises StoreError and writes nothing."""
        store.write(WriteBatch(events=[step_event("r", 0)], runs=[run_record("r")]))
        bad = WriteBatch(
            events=[step_event("r", 1), step_event("r", 0, output="again"), step_event("r", 2)],
            runs=[run_record("r", status="succeeded"), run_record("other")],
            sources=[("r", "steps: {}")],
            cache=[cache_entry("key-from-bad-batch")],
        )
        with pytest.raises(StoreError):
            store.write(bad)
        assert store.read_events("r") == [_json(step_event("r", 0))]
        record = store.get_run("r")
        assert record is not None
        assert record.status == "running"
        assert store.get_run("other") is None
        assert store.read_source("r") is None
        assert store.get_cache("key-from-bad-batch", now=1000.0) is None

    def test_batch_repeating_a_seq_fails_as_a_whole(self, store: Store) -> None:
        """A batch holding one ``(run_id, seq)`` twice raises StoreError and writes nothing."""
        bad = WriteBatch(
            events=[step_event("r", 0), step_event("r", 1), step_event("r", 1, output="twice")],
            runs=[run_record("r")],
            sources=[("r", "steps: {}")],
            cache=[cache_entry()],
        )
        with pytest.raises(StoreError):
            store.write(bad)
        assert store.read_events("r") == []
        assert store.get_run("r") is None
        assert store.read_source("r") is None
        assert store.get_cache(cache_entry().key, now=1000.0) is None

    def test_store_works_after_a_failed_batch(self, store: Store) -> None:
        """After a batch failed, the next good batch is written in full."""
        with pytest.raises(StoreError):
            store.write(WriteBatch(events=[step_event("r", 0), step_event("r", 0)]))
        store.write(WriteBatch(events=[step_event("r", 0), step_event("r", 1)]))
        assert _seqs(store.read_events("r")) == [0, 1]

    def test_empty_batch_changes_nothing(self, store: Store) -> None:
        """Writing an empty batch succeeds and stores nothing."""
        store.write(WriteBatch())
        assert store.list_runs() == []
        assert store.read_events("r") == []

    # -- runs -----------------------------------------------------------------------

    def test_get_run_of_unknown_id_is_none(self, store: Store) -> None:
        """An unknown run id gives None, not an error."""
        assert store.get_run("no-such-run") is None

    def test_run_record_round_trips(self, store: Store) -> None:
        """Every field of a run record comes back as written."""
        record = run_record(
            "r",
            status="failed",
            finished_at=1_700_000_060.5,
            counts={"succeeded": 2, "failed": 1, "skipped": 0, "cancelled": 0},
            inputs={"topic": "日本語", "limits": {"cpu": 2, "tags": ["x", None]}},
            reason="failed steps: review",
        )
        store.write(WriteBatch(runs=[record]))
        assert store.get_run("r") == record

    def test_run_upsert_keeps_identity_and_updates_progress(self, store: Store) -> None:
        """A second record for a run keeps the first's identity fields and takes the rest."""
        store.write(WriteBatch(runs=[run_record("r")]))
        later = run_record(
            "r",
            workflow="renamed",
            source="/elsewhere.yaml",
            source_hash="ffff",
            started_at=1.0,
            inputs={"topic": "changed"},
            status="succeeded",
            finished_at=1_700_000_090.0,
            counts={"succeeded": 3},
            reason="all done",
            pid=7,
            host="build-2",
        )
        store.write(WriteBatch(runs=[later]))
        expected = run_record(
            "r",
            status="succeeded",
            finished_at=1_700_000_090.0,
            counts={"succeeded": 3},
            reason="all done",
            pid=7,
            host="build-2",
        )
        assert store.get_run("r") == expected

    def test_run_upserts_in_one_batch_apply_in_order(self, store: Store) -> None:
        """A run's start and finish in one batch leave the finished record."""
        finished = run_record("r", status="succeeded", finished_at=1_700_000_001.0)
        store.write(WriteBatch(runs=[run_record("r"), finished]))
        assert store.get_run("r") == finished

    # -- cancel requests ----------------------------------------------------------------

    def test_request_cancel_of_unknown_run_is_false(self, store: Store) -> None:
        """Asking to cancel an unknown run returns False and creates no run."""
        assert store.request_cancel("no-such-run") is False
        assert store.get_run("no-such-run") is None

    def test_request_cancel_flags_the_run(self, store: Store) -> None:
        """Asking to cancel a known run returns True and sets ``cancel_requested``."""
        store.write(WriteBatch(runs=[run_record("r"), run_record("other")]))
        assert store.request_cancel("r") is True
        record, other = store.get_run("r"), store.get_run("other")
        assert record is not None
        assert record.cancel_requested is True
        assert other is not None
        assert other.cancel_requested is False

    def test_cancel_flag_survives_upserts(self, store: Store) -> None:
        """Later upserts of the run (running or finished) keep the flag another process set."""
        store.write(WriteBatch(runs=[run_record("r")]))
        store.request_cancel("r")
        store.write(WriteBatch(runs=[run_record("r", counts={"succeeded": 1})]))
        record = store.get_run("r")
        assert record is not None
        assert record.cancel_requested is True
        store.write(WriteBatch(runs=[run_record("r", status="cancelled", finished_at=2e9)]))
        record = store.get_run("r")
        assert record is not None
        assert record.cancel_requested is True

    def test_cancel_flag_clears_when_a_finished_run_resumes(self, store: Store) -> None:
        """A finished run upserted as running again (a resume) starts without the flag."""
        store.write(WriteBatch(runs=[run_record("r")]))
        store.request_cancel("r")
        store.write(WriteBatch(runs=[run_record("r", status="cancelled", finished_at=2e9)]))
        store.write(WriteBatch(runs=[run_record("r", status="running")]))
        record = store.get_run("r")
        assert record is not None
        assert record.status == "running"
        assert record.cancel_requested is False

    def test_cancel_flag_clears_when_another_process_takes_over(self, store: Store) -> None:
        """A running run upserted as running by a new pid (a resume after a crash) is unflagged.

        The request was for the process that died; the one resuming must not
        cancel itself.
        """
        store.write(WriteBatch(runs=[run_record("r", pid=100)]))
        store.request_cancel("r")
        store.write(WriteBatch(runs=[run_record("r", pid=100, counts={"succeeded": 1})]))
        still = store.get_run("r")
        assert still is not None
        assert still.cancel_requested is True
        store.write(WriteBatch(runs=[run_record("r", pid=200)]))
        record = store.get_run("r")
        assert record is not None
        assert record.cancel_requested is False

    # -- listing runs -------------------------------------------------------------------

    def test_list_runs_of_empty_store_is_empty(self, store: Store) -> None:
        """A store without runs lists none."""
        assert store.list_runs() == []

    def test_list_runs_most_recent_first(self, store: Store) -> None:
        """Runs are listed by ``started_at``, newest first, whatever order they were written in."""
        store.write(WriteBatch(runs=[run_record("b", started_at=20.0)]))
        store.write(WriteBatch(runs=[run_record("c", started_at=30.0)]))
        store.write(WriteBatch(runs=[run_record("a", started_at=10.0)]))
        assert [r.run_id for r in store.list_runs()] == ["c", "b", "a"]

    def test_list_runs_stops_at_limit(self, store: Store) -> None:
        """``limit`` bounds how many runs are listed, keeping the newest."""
        store.write(WriteBatch(runs=[run_record(f"r{i}", started_at=float(i)) for i in range(5)]))
        assert [r.run_id for r in store.list_runs(limit=2)] == ["r4", "r3"]
        assert len(store.list_runs()) == 5

    def test_list_runs_filters_by_current_status(self, store: Store) -> None:
        """``status=`` lists the runs whose latest record has that status."""
        store.write(
            WriteBatch(
                runs=[
                    run_record("a", started_at=1.0),
                    run_record("b", started_at=2.0),
                    run_record("c", started_at=3.0, status="failed", finished_at=4.0),
                ]
            )
        )
        store.write(WriteBatch(runs=[run_record("a", status="succeeded", finished_at=5.0)]))
        assert [r.run_id for r in store.list_runs(status="running")] == ["b"]
        assert [r.run_id for r in store.list_runs(status="succeeded")] == ["a"]
        assert [r.run_id for r in store.list_runs(status="failed")] == ["c"]
        assert store.list_runs(status="cancelled") == []

    def test_list_runs_filters_by_workflow(self, store: Store) -> None:
        """``workflow=`` lists that workflow's runs, and combines with ``status=``."""
        store.write(
            WriteBatch(
                runs=[
                    run_record("a", workflow="build", started_at=1.0),
                    run_record("b", workflow="report", started_at=2.0),
                    run_record("c", workflow="build", started_at=3.0, status="failed"),
                ]
            )
        )
        assert [r.run_id for r in store.list_runs(workflow="build")] == ["c", "a"]
        assert [r.run_id for r in store.list_runs(workflow="build", status="running")] == ["a"]
        assert store.list_runs(workflow="nothing") == []

    # -- sources --------------------------------------------------------------------

    def test_source_round_trips(self, store: Store) -> None:
        """A run's workflow text comes back exactly, unicode and line breaks included."""
        text = "name: café\nsteps:\n  a: {uses: w}  # 日本語\n\ttabbed\r\n"
        store.write(WriteBatch(runs=[run_record("r")], sources=[("r", text)]))
        assert store.read_source("r") == text

    def test_source_is_written_once(self, store: Store) -> None:
        """A later source for the same run is ignored; the first one stays."""
        store.write(WriteBatch(sources=[("r", "first")]))
        store.write(WriteBatch(sources=[("r", "second")]))
        assert store.read_source("r") == "first"

    def test_read_source_of_unknown_run_is_none(self, store: Store) -> None:
        """A run without a stored source gives None."""
        assert store.read_source("no-such-run") is None

    # -- cache ----------------------------------------------------------------------

    def test_cache_entry_round_trips(self, store: Store) -> None:
        """A cache entry comes back with every field, its output as JSON data."""
        entry = cache_entry(output=JSON_SAMPLE, expires_at=2000.0)
        store.write(WriteBatch(cache=[entry]))
        assert store.get_cache(entry.key, now=1500.0) == attrs.evolve(
            entry, output=_json(JSON_SAMPLE)
        )

    def test_cache_miss_is_none(self, store: Store) -> None:
        """An unknown key gives None."""
        store.write(WriteBatch(cache=[cache_entry("present")]))
        assert store.get_cache("absent", now=1000.0) is None

    def test_cache_entry_expires(self, store: Store) -> None:
        """An entry is served before ``expires_at`` and not from then on."""
        entry = cache_entry(expires_at=1060.0)
        store.write(WriteBatch(cache=[entry]))
        assert store.get_cache(entry.key, now=1059.0) == entry
        assert store.get_cache(entry.key, now=1060.0) is None
        assert store.get_cache(entry.key, now=5000.0) is None

    def test_cache_entry_without_expiry_never_expires(self, store: Store) -> None:
        """An entry whose ``expires_at`` is None is served at any time."""
        entry = cache_entry(expires_at=None)
        store.write(WriteBatch(cache=[entry]))
        assert store.get_cache(entry.key, now=1e12) == entry

    def test_cache_put_replaces_the_entry(self, store: Store) -> None:
        """Writing a key again replaces its entry, an expired one included."""
        store.write(WriteBatch(cache=[cache_entry(output="old", expires_at=1010.0)]))
        fresh = cache_entry(output="new", created_at=3000.0, run_id="run-2", step_id="redo")
        store.write(WriteBatch(cache=[fresh]))
        assert store.get_cache(fresh.key, now=4000.0) == fresh

    def test_cached_null_output_is_a_hit(self, store: Store) -> None:
        """An entry whose output is null is returned, not mistaken for a miss."""
        entry = cache_entry(output=None)
        store.write(WriteBatch(cache=[entry]))
        assert store.get_cache(entry.key, now=1000.0) == entry

    # -- data -------------------------------------------------------------------------

    def test_stored_data_is_a_copy(self, store: Store) -> None:
        """Mutating what was written, or what was read, changes nothing stored."""
        event = step_event("r", 0, output={"items": [1, 2]})
        record = run_record("r", inputs={"items": [1, 2]})
        entry = cache_entry(output={"items": [1, 2]})
        pristine = copy.deepcopy(event)
        store.write(WriteBatch(events=[event], runs=[record], cache=[entry]))
        event["output"]["items"].append(3)
        record.inputs["items"].append(3)
        entry.output["items"].append(3)
        store.read_events("r")[0]["output"]["items"].append(4)
        run = store.get_run("r")
        cached = store.get_cache(entry.key, now=1000.0)
        assert run is not None
        assert cached is not None
        run.inputs["items"].append(4)
        cached.output["items"].append(4)
        assert store.read_events("r") == [_json(pristine)]
        again, hit = store.get_run("r"), store.get_cache(entry.key, now=1000.0)
        assert again is not None
        assert again.inputs == {"items": [1, 2]}
        assert hit is not None
        assert hit.output == {"items": [1, 2]}

    # -- approval decisions (stores that support them: SupportsApprovals) -------------

    def test_decisions_of_unknown_run_are_empty(self, store: Store) -> None:
        """A run nobody decided anything for has no decisions."""
        deciding = _deciding(store)
        assert deciding.read_decisions("no-such-run") == []

    def test_decision_round_trips(self, store: Store) -> None:
        """A recorded decision reads back equal, and only with its own run."""
        deciding = _deciding(store)
        first = approval_decision("r", "publish", request=4, approved=False, reason="not yet")
        other = approval_decision("r2", "publish", request=4)
        assert deciding.record_decision(first) is True
        assert deciding.record_decision(other) is True
        assert deciding.read_decisions("r") == [first]
        assert deciding.read_decisions("r2") == [other]

    def test_first_decision_per_request_wins(self, store: Store) -> None:
        """A second decision on the same gate is refused; a new request takes a new one."""
        deciding = _deciding(store)
        first = approval_decision("r", "publish", request=4, by="alice")
        assert deciding.record_decision(first) is True
        late = approval_decision("r", "publish", request=4, by="bob", approved=False)
        assert deciding.record_decision(late) is False
        again = approval_decision("r", "publish", request=9, by="bob", decided_at=20.0)
        assert deciding.record_decision(again) is True
        assert deciding.read_decisions("r") == [first, again]

    # -- durability and lifecycle -------------------------------------------------------

    def test_data_survives_close_and_reopen(
        self, store: Store, opened_stores: _OpenedStores
    ) -> None:
        """Everything written, a cancel request and a decision are there after reopening."""
        record = run_record("r", counts={"succeeded": 1})
        entry = cache_entry(output=JSON_SAMPLE)
        events = [step_event("r", 0), step_event("r", 1, output=JSON_SAMPLE)]
        store.write(
            WriteBatch(events=events, runs=[record], sources=[("r", "text")], cache=[entry])
        )
        store.request_cancel("r")
        decision = approval_decision("r")
        if isinstance(store, SupportsApprovals):
            store.record_decision(decision)
        again = opened_stores.reopen(store)
        if isinstance(again, SupportsApprovals):
            assert again.read_decisions("r") == [decision]
        assert again.read_events("r") == _json(events)
        assert again.get_run("r") == attrs.evolve(record, cancel_requested=True)
        assert [r.run_id for r in again.list_runs()] == ["r"]
        assert again.read_source("r") == "text"
        assert again.get_cache(entry.key, now=1000.0) == attrs.evolve(
            entry, output=_json(JSON_SAMPLE)
        )

    def test_calls_after_close_raise_store_error(
        self, store: Store, opened_stores: _OpenedStores
    ) -> None:
        """Once closed, the store refuses reads and writes with StoreError."""
        opened_stores.close(store)
        with pytest.raises(StoreError):
            store.write(WriteBatch(events=[step_event("r", 0)]))
        with pytest.raises(StoreError):
            store.get_run("r")
        with pytest.raises(StoreError):
            store.read_events("r")
        with pytest.raises(StoreError):
            store.get_cache("k", now=0.0)

    def test_calls_from_several_threads_are_safe(self, store: Store) -> None:
        """Writers and readers in several threads at once lose and corrupt nothing."""
        errors: list[Exception] = []
        batches = 8

        def work(run_id: str) -> None:
            try:
                store.write(WriteBatch(runs=[run_record(run_id)]))
                for seq in range(batches):
                    store.write(
                        WriteBatch(
                            events=[step_event(run_id, seq)],
                            cache=[cache_entry(f"{run_id}-{seq}", run_id=run_id)],
                        )
                    )
                    store.read_events(run_id)
                    store.get_cache(f"{run_id}-{seq}", now=1000.0)
                    store.list_runs()
            except Exception as exc:  # reported by the main thread below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for i in range(4):
            assert _seqs(store.read_events(f"t{i}")) == list(range(batches))
            assert store.get_cache(f"t{i}-{batches - 1}", now=1000.0) is not None
        assert len(store.list_runs()) == 4


def _deciding(store: Store) -> SupportsApprovals:
    """``store`` as one that keeps approval decisions, or skip: the methods are optional."""
    if not isinstance(store, SupportsApprovals):
        pytest.skip("this store does not keep approval decisions (SupportsApprovals): optional")
    return store
