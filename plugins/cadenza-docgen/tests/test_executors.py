"""A large file set is parsed in chunks on the agent's executor: threads, or worker processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trio
from test_agent import output, run

from cadenza_docgen import _parse

WORKER_MARK = b"cadenza._executors._worker"


def _workers() -> set[int]:
    """Live children of this process that are ``process`` executor workers."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            if int(ppid) != os.getpid() or state == "Z":
                continue
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if WORKER_MARK in f.read():
                    found.add(int(name))
        except OSError:
            continue
    return found


def _workflow(executor: str) -> str:
    return f"""
agents:
  docgen: {{kind: docgen, executor: {executor}, options: {{title: "Game API"}}}}
steps:
  docs: {{uses: docgen, with: {{files: [unity, python]}}}}
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc to see the workers")
async def test_process_executor_parses_in_workers_with_the_same_output(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``executor: process`` parses in worker processes; pages and output equal ``local``'s."""
    monkeypatch.setattr(_parse, "INLINE_BYTES", 0)  # decided here, in the coordinator
    monkeypatch.setattr(_parse, "CHUNK_BYTES", 1)  # a call per file
    here = output(await run(_workflow("local"), project, output_dir=tmp_path / "here"))
    seen: set[int] = set()

    async def watch() -> None:
        while True:
            seen.update(_workers())
            await trio.sleep(0.02)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        there = await run(_workflow("process"), project, output_dir=tmp_path / "there")
        nursery.cancel_scope.cancel()
    assert seen
    assert os.getpid() not in seen
    same = json.dumps(here).replace(str(tmp_path / "here"), str(tmp_path / "there"))
    assert json.dumps(output(there)) == same
    pages = list((tmp_path / "here").rglob("*.md"))
    assert pages
    for page in pages:
        text = (tmp_path / "there" / page.relative_to(tmp_path / "here")).read_text()
        assert text == page.read_text()


async def test_the_default_executor_is_local() -> None:
    """docgen registers no default executor: parsing is fast C, threads beat process start-up."""
    import cadenza
    import cadenza_docgen

    plugins = cadenza.plugins.load_plugins(entry_points=False, extra=[cadenza_docgen])
    assert plugins.agent_kinds["docgen"].default_executor is None
