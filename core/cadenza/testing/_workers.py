"""WorkerHarness and CallLog: real ``cadenza worker`` processes on one store, for tests.

A store that implements the run queue is proven twice: in-process by
:class:`~cadenza.testing.RunQueueConformance`, and across processes by
:class:`~cadenza.testing.WorkerTakeoverConformance`, which starts
``python -m cadenza worker`` subprocesses, kills them and checks what the
journal and the agent saw. This module is the shared part: a harness that runs
``cadenza`` commands and workers against one store URL in one project folder,
and a :class:`CallLog` handler for :class:`~cadenza.testing.SeedAgentServer`
that records each call's run, step and idempotency key. The agent lives in the
test process, so it outlives a worker killed with SIGKILL.

.. versionadded:: 0.2
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from .._journal._store import Store
from ._seed_server import Ok, SeedCall

HANG_GUARD = 180.0
"""Seconds any one command or worker may take before the test fails instead of hanging."""


@attrs.frozen
class LoggedCall:
    """One call the agent answered: its run, its ``with: {step: ...}``, key and arrival."""

    run_id: str
    step: str
    key: str
    at: float
    """``trio.current_time()`` at arrival: compare with times taken in the same test."""


@attrs.define(eq=False)
class CallLog:
    """A :class:`~cadenza.testing.SeedAgentServer` handler that records every call.

    It answers ``{"output": {"n": <calls so far>}}`` after ``delay`` seconds. The
    step is read from the call's data (``with: {step: a}``), the run from the
    ``X-Cadenza-Run`` header.
    """

    delay: float = 0.05
    calls: list[LoggedCall] = attrs.field(factory=list)

    async def __call__(self, call: SeedCall) -> Ok:
        data = call.json.get("data") if isinstance(call.json, dict) else None
        step = str(data.get("step", "")) if isinstance(data, dict) else ""
        self.calls.append(
            LoggedCall(
                run_id=call.headers.get("x-cadenza-run", ""),
                step=step,
                key=call.idempotency_key or "",
                at=trio.current_time(),
            )
        )
        await trio.sleep(self.delay)
        return Ok({"output": {"n": len(self.calls)}})

    def keys(self) -> dict[tuple[str, str], Counter[str]]:
        """Per (run, step): how many calls each idempotency key got."""
        out: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for call in self.calls:
            out[call.run_id, call.step][call.key] += 1
        return out


def successes(store: Store, run_id: str) -> Counter[str]:
    """How many ``step_succeeded`` events each step of ``run_id`` has in ``store``."""
    return Counter(e["step_id"] for e in store.read_events(run_id) if e["kind"] == "step_succeeded")


@attrs.define(eq=False)
class WorkerHarness:
    """``cadenza`` commands and ``cadenza worker`` processes on ``store_url``, run in ``project``.

    ``open_store(url)`` opens the store in the test process (read from a trio
    thread by :meth:`read`); ``env`` is added to the children's environment,
    which has proxies removed so loopback agents are reached directly. Worker
    output goes to ``project/<name>.log`` (see :meth:`log`). ``calls`` is the
    agent's :class:`CallLog` when the test serves one.
    """

    project: Path
    store_url: str
    open_store: Callable[[str], Store]
    env: Mapping[str, str] = attrs.field(factory=dict)
    calls: CallLog = attrs.field(factory=CallLog)

    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env["NO_PROXY"] = "127.0.0.1"
        env.update(self.env)
        return env

    async def cadenza(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """Run ``cadenza ARGS`` to the end; its output is captured, its exit code not checked."""
        with trio.fail_after(HANG_GUARD):
            return await trio.run_process(
                [sys.executable, "-m", "cadenza", *args],
                cwd=self.project,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                env=self.child_env(),
            )

    async def submit(self, workflow: str, count: int = 1) -> list[str]:
        """``cadenza submit WORKFLOW --count COUNT``: the queued run ids."""
        done = await self.cadenza(
            "submit", workflow, "--count", str(count), "--store", self.store_url
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode().split()

    async def start_worker(
        self, name: str, *, lease: float = 1.0, concurrency: int = 2, exit_when_idle: bool = True
    ) -> trio.Process:
        """Start ``cadenza worker --name NAME`` (not awaited: kill it or :meth:`wait_exit`)."""
        argv = [
            sys.executable, "-m", "cadenza", "worker", "--store", self.store_url,
            "--name", name, "--lease", str(lease), "--concurrency", str(concurrency),
        ]  # fmt: skip
        if exit_when_idle:
            argv.append("--exit-when-idle")
        with (self.project / f"{name}.log").open("wb") as log:  # the child keeps its copy
            return await trio.lowlevel.open_process(
                argv, cwd=self.project, stdout=log, stderr=log, env=self.child_env()
            )

    def log(self, name: str) -> str:
        """What worker ``name`` printed so far."""
        return (self.project / f"{name}.log").read_text(errors="replace")

    async def wait_exit(self, proc: trio.Process, name: str, expect: int = 0) -> None:
        """Wait for worker ``name`` to exit with ``expect``; its log is the failure message."""
        with trio.fail_after(HANG_GUARD):
            code = await proc.wait()
        assert code == expect, f"worker {name} exited {code}:\n{self.log(name)}"

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(store, *args)`` on a fresh store, in a thread: what other processes wrote."""

        def call() -> Any:
            store = self.open_store(self.store_url)
            try:
                return fn(store, *args)
            finally:
                store.close()

        return await trio.to_thread.run_sync(call)

    async def wait_for(self, fn: Callable[..., Any], *args: Any, every: float = 0.02) -> Any:
        """Poll :meth:`read` of ``fn`` until it returns something truthy, and return that.

        Another process's progress is visible only through the store, so it is polled.
        """
        with trio.fail_after(HANG_GUARD):
            while not (found := await self.read(fn, *args)):  # noqa: ASYNC110 (another process)
                await trio.sleep(every)
        return found
