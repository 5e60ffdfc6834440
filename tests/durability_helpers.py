"""Shared by the journal, resume and crash tests: workflows, a deterministic agent, journals."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from cadenza.store import SqliteStore, Store, StoreError, WriteBatch
from cadenza.testing import Ok, SeedAgentServer, SeedCall


def cadenza_argv(*args: str) -> list[str]:
    """The command line of ``cadenza ARGS`` run by this interpreter."""
    return [sys.executable, "-m", "cadenza", *args]


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a ``cadenza`` subprocess: no entry-point plugins, loopback not proxied."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update({"CADENZA_LOAD_PLUGINS": "", "NO_PROXY": "127.0.0.1"})
    env.update(extra)
    return env


def store_url(path: Path) -> str:
    """An absolute ``sqlite:`` URL for ``path``."""
    return f"sqlite:///{path}"


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the layered workflow ------------------------------------------------------------


def layer_step(layer: int, index: int) -> str:
    return f"l{layer}_{index}"


def layered_workflow(*, layers: int, width: int, endpoint: str = "${SEED_ENDPOINT}") -> str:
    """A workflow file: ``layers`` x ``width`` steps, each needing two of the layer before.

    Every step sends the digests of its needs' outputs, so outputs flow down the
    DAG (a wrong or missing upstream output changes every output below it); a
    final ``join`` step needs the whole last layer. The ``http`` agent's
    endpoint comes from the environment, so the file text stays the same when a
    resumed run talks to another server.
    """
    lines = [
        "name: layered",
        "concurrency: 16",
        "agents:",
        "  remote:",
        "    kind: http",
        f'    options: {{endpoint: "{endpoint}", timeout: 60s}}',
        "steps:",
    ]
    for layer in range(layers):
        for index in range(width):
            step = layer_step(layer, index)
            if layer == 0:
                lines.append(f"  {step}: {{uses: remote, with: {{seed: {index}}}}}")
                continue
            needs = [layer_step(layer - 1, index), layer_step(layer - 1, (index + 3) % width)]
            refs = ", ".join(f'{n}: "${{{{ steps.{n}.output.digest }}}}"' for n in needs)
            lines.append(
                f"  {step}: {{uses: remote, needs: [{', '.join(needs)}], with: {{{refs}}}}}"
            )
    last = [layer_step(layers - 1, i) for i in range(width)]
    refs = ", ".join(f'{n}: "${{{{ steps.{n}.output.digest }}}}"' for n in last)
    lines.append(f"  join: {{uses: remote, needs: [{', '.join(last)}], with: {{{refs}}}}}")
    return "\n".join(lines) + "\n"


def digest_of(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@attrs.define(eq=False)
class DigestAgent:
    """A seed-server handler: answers ``{task_id, digest of data}`` after a short delay.

    The delay is a deterministic function of the task id (``min_delay`` to
    ``max_delay`` seconds), so calls overlap unevenly and a kill lands with
    steps in flight. The first call of each run sends the run id on
    ``new_runs``. With ``hold_next_run`` set, the next new run gets no answer
    at all until :meth:`release` (to kill a run while its first call is in flight).
    """

    new_runs: trio.MemorySendChannel[str] | None = None
    min_delay: float = 0.005
    max_delay: float = 0.02
    hold_next_run: bool = False
    _seen: set[str] = attrs.field(factory=set)
    _held: dict[str, trio.Event] = attrs.field(factory=dict)

    def release(self, run_id: str) -> None:
        self._held.pop(run_id, trio.Event()).set()

    async def __call__(self, call: SeedCall) -> Ok:
        run_id = call.headers.get("x-cadenza-run", "")
        if run_id not in self._seen:
            self._seen.add(run_id)
            if self.hold_next_run:
                self.hold_next_run = False
                self._held[run_id] = trio.Event()
            if self.new_runs is not None:
                self.new_runs.send_nowait(run_id)
        if run_id in self._held:
            await self._held[run_id].wait()
        task_id = call.json["task_id"]
        spread = int(digest_of(task_id), 16) % 1000 / 1000
        await trio.sleep(self.min_delay + spread * (self.max_delay - self.min_delay))
        return Ok({"output": {"task_id": task_id, "digest": digest_of(call.json["data"])}})


def calls_of(server: SeedAgentServer, run_id: str) -> list[SeedCall]:
    """The server's task calls made for ``run_id`` (from its ``X-Cadenza-Run`` header)."""
    return [c for c in server.calls if c.headers.get("x-cadenza-run") == run_id]


# -- reading journals ----------------------------------------------------------------


@contextmanager
def opened(path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(store_url(path))
    try:
        yield store
    finally:
        store.close()


def successes(events: Sequence[Mapping[str, Any]]) -> Counter[str]:
    """How many ``step_succeeded`` events each step has."""
    return Counter(e["step_id"] for e in events if e["kind"] == "step_succeeded")


def succeeded_outputs(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {e["step_id"]: e["output"] for e in events if e["kind"] == "step_succeeded"}


def assert_seq_contiguous(events: Sequence[Mapping[str, Any]]) -> None:
    """Event ``seq`` numbers run 0, 1, 2, ... without gaps or repeats."""
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(len(seqs))), seqs


# -- store wrappers ------------------------------------------------------------------

GATE_TIMEOUT = 30.0
"""Seconds a held write waits for its gate before giving up (a hang guard, never reached)."""


@attrs.define(eq=False)
class GatedStore:
    """Wraps a store: records every batch; holds the first batch ``hold`` picks until ``release``.

    The held write blocks its worker thread on a ``threading.Event`` (set from
    the trio thread with :meth:`release`), so the test decides exactly when
    the batch becomes durable. ``fail`` picks batches to refuse with a
    :class:`~cadenza.store.StoreError` instead of writing them.
    """

    inner: Store
    hold: Callable[[WriteBatch], bool] = lambda batch: False
    fail: Callable[[WriteBatch], bool] = lambda batch: False
    batches: list[WriteBatch] = attrs.field(factory=list)
    entered: threading.Event = attrs.field(factory=threading.Event)
    _gate: threading.Event = attrs.field(factory=threading.Event)

    @property
    def url(self) -> str:
        return self.inner.url

    def write(self, batch: WriteBatch) -> None:
        if not self.entered.is_set() and self.hold(batch):
            self.entered.set()
            if not self._gate.wait(GATE_TIMEOUT):
                raise StoreError("GatedStore: the test never released the held write")
        if self.fail(batch):
            raise StoreError(f"journal {self.url}: disk full (simulated)", url=self.url)
        self.batches.append(batch)
        self.inner.write(batch)

    def release(self) -> None:
        self._gate.set()

    async def wait_held(self) -> None:
        """Return once a write is being held (its worker thread is blocked on the gate)."""
        with trio.fail_after(GATE_TIMEOUT):
            held = await trio.to_thread.run_sync(self.entered.wait, GATE_TIMEOUT)
        assert held, "no write was held"

    def __getattr__(self, name: str) -> Any:  # the rest of the Store protocol: delegated
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def has_event(kind: str, step_id: str | None = None) -> Callable[[WriteBatch], bool]:
    """A batch predicate: the batch carries an event of ``kind`` (for ``step_id``)."""

    def check(batch: WriteBatch) -> bool:
        return any(
            e["kind"] == kind and (step_id is None or e.get("step_id") == step_id)
            for e in batch.events
        )

    return check
