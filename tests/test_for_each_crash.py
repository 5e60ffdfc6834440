"""Crash safety of ``for_each``: SIGKILL during a 500-item map, then ``cadenza resume``.

The agent is a loopback seed-protocol server in this (the test) process, so it
outlives the killed child and logs every call with its idempotency key; the
killed run and the resumed one talk to different servers (the endpoint comes
from the environment), which separates their calls without relying on timing.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from cadenza._ids import idempotency_key
from cadenza.testing import Ok, SeedAgentServer, SeedCall

from .durability_helpers import cadenza_argv, child_env, digest_of, opened, store_url

pytestmark = pytest.mark.slow

ITEMS = 500
KILL_AFTER = 150  # item calls the first server answers before the kill
HANG_GUARD = 120

WORKFLOW = f"""\
name: mapped
concurrency: 32
agents:
  remote:
    kind: http
    options: {{endpoint: "${{SEED_ENDPOINT}}", timeout: 60s}}
steps:
  plan: {{uses: remote, with: {{count: {ITEMS}}}}}
  build:
    needs: [plan]
    for_each: "${{{{ steps.plan.output.files }}}}"
    max_parallel: 16
    uses: remote
    with: {{file: "${{{{ item }}}}", n: "${{{{ index }}}}"}}
  join:
    needs: [build]
    uses: remote
    with: {{count: "${{{{ size(steps.build.output) }}}}"}}
"""


@attrs.define(eq=False)
class MapAgent:
    """Answers ``plan`` with the file list, every other call with a digest of its data.

    ``answered`` is set once ``KILL_AFTER`` item calls were answered; with
    ``stall_after`` set, later item calls then wait (the kill lands mid-map).
    """

    answered: trio.Event = attrs.field(factory=trio.Event)
    items_answered: int = 0
    stall_after: bool = False

    async def __call__(self, call: SeedCall) -> Ok:
        task_id = call.json["task_id"]
        data = call.json["data"]
        if task_id == "plan":
            return Ok({"output": {"files": [f"f{i}.cs" for i in range(data["count"])]}})
        if self.stall_after and self.answered.is_set():
            await trio.sleep_forever()  # until the server stops: the run is killed meanwhile
        await trio.sleep(0.002 + (int(digest_of(task_id), 16) % 10) / 1000)
        if task_id.startswith("build["):
            self.items_answered += 1
            if self.items_answered >= KILL_AFTER:
                self.answered.set()
        return Ok({"output": {"task_id": task_id, "digest": digest_of(data)}})


async def test_sigkill_during_a_500_item_map_then_resume_reruns_only_unfinished_items(
    tmp_path: Path,
) -> None:
    workflow = tmp_path / "mapped.yaml"
    workflow.write_text(WORKFLOW)
    journal = tmp_path / "journal.db"
    first_agent, second_agent = MapAgent(stall_after=True), MapAgent()
    async with trio.open_nursery() as nursery:
        first = await nursery.start(SeedAgentServer(handler=first_agent).serve)
        second = await nursery.start(SeedAgentServer(handler=second_agent).serve)
        with (tmp_path / "run.log").open("wb") as log:
            proc = await trio.lowlevel.open_process(
                cadenza_argv("run", str(workflow), "--store", store_url(journal), "--json",
                             "--no-progress"),
                stdout=log, stderr=log, env=child_env(SEED_ENDPOINT=first.url),
            )  # fmt: skip
        try:
            with trio.fail_after(HANG_GUARD):
                await first_agent.answered.wait()
                # The answered items' successes reach the journal with its next write.
                for _ in range(HANG_GUARD * 20):
                    if _journaled_items(journal):
                        break
                    await trio.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)  # no cleanup, no final journal flush
            with trio.fail_after(HANG_GUARD):
                await proc.wait()

        with opened(journal) as store:
            (record,) = store.list_runs()
            run_id = record.run_id
            before = store.read_events(run_id)
        assert record.status == "running", "the kill landed after the run had finished"
        kept = {e["step_id"] for e in before if e["kind"] == "step_succeeded"}
        kept_items = {s for s in kept if s.startswith("build[")}
        assert 0 < len(kept_items) < ITEMS, "the kill must land mid-map"

        with trio.fail_after(HANG_GUARD):
            resumed = await trio.run_process(
                cadenza_argv("resume", run_id, "--store", store_url(journal), "--json"),
                capture_stdout=True, capture_stderr=True, check=False,
                env=child_env(SEED_ENDPOINT=second.url),
            )  # fmt: skip
        nursery.cancel_scope.cancel()
    assert resumed.returncode == 0, resumed.stderr.decode()
    summary: dict[str, Any] = json.loads(resumed.stdout)
    assert summary["status"] == "succeeded"
    build = summary["steps"]["build"]
    assert build["output"] == [
        {"task_id": f"build[{i}]", "digest": digest_of({"file": f"f{i}.cs", "n": i})}
        for i in range(ITEMS)
    ]
    assert summary["steps"]["join"]["output"]["digest"] == digest_of({"count": ITEMS})

    second_tasks = Counter(c.json["task_id"] for c in second.calls)
    all_items = {f"build[{i}]" for i in range(ITEMS)}
    # Only unfinished items ran again, each once; nothing journaled before the kill did.
    assert set(second_tasks) & kept == set()
    assert {t for t in second_tasks if t.startswith("build[")} == all_items - kept_items
    assert all(n == 1 for n in second_tasks.values()), second_tasks.most_common(3)
    # Every call of either session carried the item's stable idempotency key.
    for call in [*first.calls, *second.calls]:
        assert call.idempotency_key == idempotency_key(run_id, call.json["task_id"])

    with opened(journal) as store:
        after = store.read_events(run_id)
    successes = Counter(e["step_id"] for e in after if e["kind"] == "step_succeeded")
    assert successes == dict.fromkeys([*all_items, "plan", "build", "join"], 1)
    mapped = [e for e in after if e["kind"] == "step_mapped"]
    assert [m["restored"] for m in mapped][-1] == len(kept_items)


def _journaled_items(journal: Path) -> int:
    """How many item successes the run's journal holds now (read by this process)."""
    if not journal.exists():
        return 0
    with opened(journal) as store:
        runs = store.list_runs()
        if not runs:
            return 0
        events = store.read_events(runs[0].run_id)
    return sum(1 for e in events if e["kind"] == "step_succeeded" and "[" in e["step_id"])
