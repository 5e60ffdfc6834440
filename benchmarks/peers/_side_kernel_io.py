"""The io workload on raw trio + httpx (the baseline) and on Cadenza's built-in ``http`` agent.

Runs in the project's venv. Every step POSTs one small JSON body to the
loopback server (``_io_server.py``), which answers after 20 ms; at most
``concurrency`` calls are in flight. Both sides build their HTTP client inside
the timed run, as Cadenza's ``http`` agent does (one client per agent per run).
"""

from __future__ import annotations

import argparse
import random
from typing import Any

import httpx
import trio

AGENT = "api"


class TrioHttpSide:
    """A nursery, a ``CapacityLimiter``, one ``httpx.AsyncClient`` (stock transport)."""

    build_seconds = None

    def __init__(self, data: dict[str, Any], args: argparse.Namespace) -> None:
        self.needs: dict[str, list[str]] = data["needs"]
        self.url: str = data["io"]["url"]
        self.concurrency: int = data["io"]["concurrency"]

    async def _main(self) -> int:
        limiter = trio.CapacityLimiter(self.concurrency)
        done = {step: trio.Event() for step in self.needs}
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        finished = 0
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def step(step_id: str, needs: list[str]) -> None:
                nonlocal finished
                for need in needs:
                    await done[need].wait()
                async with limiter:
                    response = await client.post(self.url, json={"task_id": step_id})
                    response.raise_for_status()
                    response.json()
                finished += 1
                done[step_id].set()

            async with trio.open_nursery() as nursery:
                for step_id, needs in self.needs.items():
                    nursery.start_soon(step, step_id, needs)
        return finished

    def prepare(self) -> None:
        pass

    def run(self) -> None:
        finished = trio.run(self._main)
        if finished != len(self.needs):
            raise SystemExit(f"trio + httpx: {finished}/{len(self.needs)} calls")

    def finish(self) -> None:
        pass


class CadenzaHttpSide:
    """``load_workflow_data`` of a native-format dict with one ``http`` agent; ``run_workflow``."""

    def __init__(
        self,
        data: dict[str, Any],
        args: argparse.Namespace,
        *,
        journal: bool,
        engine: str | None = None,
    ) -> None:
        import os
        import time

        import _quiet_logs  # noqa: F401  (configures structlog as an application would)

        import cadenza
        from cadenza.plugins import load_plugins

        if journal:
            raise SystemExit("the io workload runs Cadenza without a journal only")
        if engine is not None:
            os.environ["CADENZA_HTTP_ENGINE"] = engine  # read when the agent builds its client
        self.needs: dict[str, list[str]] = data["needs"]
        workflow = {
            "name": "peers-io",
            "concurrency": data["io"]["concurrency"],
            "agents": {AGENT: {"kind": "http", "options": {"endpoint": data["io"]["url"]}}},
            "steps": {
                step: ({"uses": AGENT, "needs": needs} if needs else {"uses": AGENT})
                for step, needs in self.needs.items()
            },
        }
        self.plugins = load_plugins(entry_points=False)
        start = time.perf_counter()
        self.workflow = cadenza.load_workflow_data(workflow, plugins=self.plugins).workflow
        self.build_seconds = time.perf_counter() - start

    def prepare(self) -> None:
        pass

    def run(self) -> None:
        from _quiet_logs import LOGGED_ERRORS

        import cadenza

        workflow, plugins = self.workflow, self.plugins
        result = trio.run(
            lambda: cadenza.run_workflow(workflow, plugins=plugins, rng=random.Random(0))
        )
        ok = sum(1 for o in result.steps.values() if o.status == "succeeded")
        if LOGGED_ERRORS or result.status != "succeeded" or ok != len(self.needs):
            raise SystemExit(
                f"cadenza io run ended {result.status}, {ok}/{len(self.needs)} steps "
                f"succeeded: {result.reason} {LOGGED_ERRORS[:3]}"
            )

    def finish(self) -> None:
        pass
