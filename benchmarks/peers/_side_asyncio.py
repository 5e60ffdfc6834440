"""Raw asyncio: the same least-correct program as the raw trio baseline, on asyncio.

LangGraph runs on asyncio, so this row separates what the event loop costs
from what LangGraph adds: a ``TaskGroup``, an ``asyncio.Event`` per step, a
task per step that waits for its needs, holds a shared ``Semaphore`` and
awaits ``asyncio.sleep(0)`` (asyncio's checkpoint), then sets its event. For
the io workload the step POSTs with one ``httpx.AsyncClient`` instead, built
inside the timed run as the trio + httpx baseline's is.
"""

from __future__ import annotations

import argparse
import asyncio  # noqa: TID251  (the peers run on asyncio; Cadenza does not)
from typing import Any


class AsyncioSide:
    build_seconds = None

    def __init__(self, data: dict[str, Any], args: argparse.Namespace) -> None:
        self.needs: dict[str, list[str]] = data["needs"]
        self.io: dict[str, Any] | None = data.get("io")
        self.concurrency: int = self.io["concurrency"] if self.io else args.concurrency

    async def _main(self) -> int:
        limiter = asyncio.Semaphore(self.concurrency)
        done = {step: asyncio.Event() for step in self.needs}
        finished = 0
        client = None
        if self.io:
            import httpx

            limits = httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            )
            client = httpx.AsyncClient(limits=limits, timeout=30)

        async def step(step_id: str, needs: list[str]) -> None:
            nonlocal finished
            for need in needs:
                await done[need].wait()
            async with limiter:
                if client is None:
                    await asyncio.sleep(0)
                else:
                    response = await client.post(self.io["url"], json={"task_id": step_id})
                    response.raise_for_status()
                    response.json()
            finished += 1
            done[step_id].set()

        try:
            async with asyncio.TaskGroup() as group:
                for step_id, needs in self.needs.items():
                    group.create_task(step(step_id, needs))
        finally:
            if client is not None:
                await client.aclose()
        return finished

    def prepare(self) -> None:
        pass

    def run(self) -> None:
        finished = asyncio.run(self._main())
        if finished != len(self.needs):
            raise SystemExit(f"asyncio: {finished}/{len(self.needs)} steps")

    def finish(self) -> None:
        pass
