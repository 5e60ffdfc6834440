"""Cancelling a run kills the worker processes at once; the trio loop stays responsive."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio
from assets_helpers import photo, run, save
from workers_helpers import wait_until, worker_processes

import cadenza
import cadenza.events

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self"), reason="reads /proc to see the worker processes"
)


def _big_bitmaps(folder: Path, count: int, size: int) -> None:
    """Photo-like BMPs: quick to write here, seconds each to compress as PNG in a worker."""
    for i in range(count):
        save(photo((size, size), seed=i), folder / f"terrain{i}.bmp")


async def test_cancelling_the_run_kills_busy_workers_promptly(
    tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """Cancel while two workers compress big images: the run returns fast, no worker survives."""
    project = tmp_path / "project"
    _big_bitmaps(project / "big", count=2, size=2000)
    out = tmp_path / "out"
    text = """\
executors:
  process: {options: {workers: 2}}
agents:
  optimizer:
    kind: assets
    options: {preset: desktop, workers: 2, overrides: {formats: [png], quantize: false}}
steps:
  optimize: {uses: optimizer, with: {files: [big]}}
"""
    finished: list[str] = []

    def observe(event: cadenza.events.Event) -> None:
        if isinstance(event, cadenza.events.AttemptProgress):
            finished.append(event.message)

    scope = trio.CancelScope()
    returned = trio.Event()
    longest_gap = 0.0

    async def run_until_cancelled() -> None:
        with scope:
            await run(text, base_dir=project, out=out, plugins=plugins, observers=[observe])
        returned.set()

    async def tick() -> None:
        nonlocal longest_gap
        last = trio.current_time()
        while not returned.is_set():
            await trio.sleep(0.02)
            now = trio.current_time()
            longest_gap = max(longest_gap, now - last)
            last = now

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_until_cancelled)
        nursery.start_soon(tick)
        await wait_until(lambda: len(worker_processes()) == 2, 30)
        await trio.sleep(1.0)  # both workers are decoding or compressing now
        assert finished == ["0/2 files"]
        cancelled_at = trio.current_time()
        scope.cancel()
        await returned.wait()
        took = trio.current_time() - cancelled_at

    assert took < 2.0
    await wait_until(lambda: not worker_processes(), 5)
    assert longest_gap < 0.5  # the trio thread never waited on image work
    assert not [p for p in out.rglob("*") if p.is_file()]  # no output, not even a partial one
