"""LangGraph: a ``StateGraph`` with one async node per step and an edge per need.

Built as LangGraph's docs build graphs: ``add_node`` per step; ``add_edge(START,
step)`` for a step without needs, ``add_edge(need, step)`` for one need and
``add_edge([needs...], step)`` (a join: the step runs once, when all of them
have finished) for several. Each node awaits ``asyncio.sleep(0)`` and returns
the update ``{"done": 1}``, summed by an ``operator.add`` reducer, so the final
state proves every node ran exactly once. Runs with ``ainvoke`` under
``asyncio.run``, ``max_concurrency`` as Cadenza's limiter and a
``recursion_limit`` (supersteps) above the longest path: LangGraph 1.x
defaults it to 10,007, older releases to 25, which the chain of 200 exceeds.

With ``checkpointer=True`` the graph is run with LangGraph's own SQLite
checkpointer (``AsyncSqliteSaver``, langgraph-checkpoint-sqlite) on a new file
in a new temporary directory per run, as Cadenza's journaled side does; opening
the saver's connection is inside the timed run.

For the io workload each node POSTs to the loopback server with one
``httpx.AsyncClient`` shared by the nodes, built inside the timed run.
"""

from __future__ import annotations

import argparse
import asyncio  # noqa: TID251  (LangGraph runs on asyncio)
import operator
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import START, StateGraph


class State(TypedDict, total=False):
    done: Annotated[int, operator.add]


async def noop(state: State) -> dict[str, int]:
    """The step: yield to the event loop once, report one step done."""
    await asyncio.sleep(0)
    return {"done": 1}


_http: Any = None
"""The io workload's ``httpx.AsyncClient``, one per run (it belongs to that run's loop)."""
_url = ""


async def post(state: State) -> dict[str, int]:
    """The io workload's step: one POST to the loopback server, report one step done."""
    response = await _http.post(_url, json={"task_id": "step"})
    response.raise_for_status()
    response.json()
    return {"done": 1}


def build(needs: dict[str, list[str]], *, io: bool = False) -> Any:
    builder = StateGraph(State)
    for step in needs:
        builder.add_node(step, post if io else noop)
    for step, step_needs in needs.items():
        if not step_needs:
            builder.add_edge(START, step)
        elif len(step_needs) == 1:
            builder.add_edge(step_needs[0], step)
        else:
            builder.add_edge(list(step_needs), step)
    return builder.compile()


class LangGraphSide:
    def __init__(
        self, data: dict[str, Any], args: argparse.Namespace, *, checkpointer: bool
    ) -> None:
        global _url
        self.needs: dict[str, list[str]] = data["needs"]
        self.io: dict[str, Any] | None = data.get("io")
        if self.io:
            if checkpointer:
                raise SystemExit("the io workload runs LangGraph without a checkpointer only")
            _url = self.io["url"]
        start = time.perf_counter()
        self.graph = build(self.needs, io=bool(self.io))
        self.build_seconds = time.perf_counter() - start
        self.config: dict[str, Any] = {
            "max_concurrency": self.io["concurrency"] if self.io else args.concurrency,
            "recursion_limit": len(self.needs) + 1,
        }
        self.checkpointer = checkpointer
        self.journal_dir: str | None = args.journal_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    async def _invoke(self) -> dict[str, Any]:
        global _http
        if self.io:
            import httpx

            n = self.io["concurrency"]
            limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
            async with httpx.AsyncClient(limits=limits, timeout=30) as _http:
                result: dict[str, Any] = await self.graph.ainvoke({"done": 0}, self.config)
                return result
        if not self.checkpointer:
            result = await self.graph.ainvoke({"done": 0}, self.config)
            return result
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        assert self._tmp is not None
        path = str(Path(self._tmp.name) / "checkpoints.db")
        async with AsyncSqliteSaver.from_conn_string(path) as saver:
            graph = self.graph.copy(update={"checkpointer": saver})
            config = {**self.config, "configurable": {"thread_id": "bench"}}
            result = await graph.ainvoke({"done": 0}, config)
            return result

    def prepare(self) -> None:
        if self.checkpointer:
            self._tmp = tempfile.TemporaryDirectory(prefix="peers-lg-", dir=self.journal_dir)

    def run(self) -> None:
        state = asyncio.run(self._invoke())
        if state.get("done") != len(self.needs):
            raise SystemExit(f"langgraph: {state.get('done')}/{len(self.needs)} steps ran")

    def finish(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
