"""cadenza_observers: run observers awaited at a run's start and end, isolated and time-limited."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

import cadenza
from cadenza._journal._sqlite import SqliteStore
from cadenza.events import Event
from cadenza.testing import (
    Delay,
    Exchange,
    LoopbackRequest,
    LoopbackServer,
    ScriptedAgent,
    run_captured,
    scripted_agent_kind,
)
from tests.durability_helpers import store_url
from tests.plugin_helpers import Site, clear_plugin_env, open_site

WORKFLOW = {
    "agents": {"t": {"kind": "template", "options": {"output": "hello"}}},
    "steps": {"greet": {"uses": "t", "with": {}}},
}

SLOW_WORKFLOW = {
    "agents": {"slow": {"kind": "scripted"}},
    "steps": {"wait": {"uses": "slow", "with": {}, "timeout": 1000}},
}


class Hook(LoopbackServer[LoopbackRequest]):
    """A webhook receiver: keeps every request, answers 204."""

    async def respond(self, request: LoopbackRequest, exchange: Exchange) -> bool:
        return await exchange.send(204)


class Notifier:
    """The documented example: POSTs the run's start and its summary to a webhook."""

    time_limit = 10.0

    def __init__(self, url: str) -> None:
        self.url = url

    async def run_started(self, event: Event) -> None:
        async with httpx.AsyncClient() as client:
            await client.post(self.url, json={"run_id": event.run_id, "state": "started"})

    async def run_finished(self, result: cadenza.RunResult) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                self.url,
                json={"run_id": result.run_id, "state": result.status, "counts": result.counts},
            )
            response.raise_for_status()


class Recorder:
    """Notes every call it gets, on the trio clock."""

    def __init__(self, *, time_limit: float | None = None) -> None:
        self.calls: list[tuple[str, Any, float]] = []
        self.kinds: list[str] = []
        if time_limit is not None:
            self.time_limit = time_limit

    def on_event(self, event: Event) -> None:
        self.kinds.append(event.kind)

    async def run_started(self, event: Event) -> None:
        self.calls.append(("run_started", event.kind, trio.current_time()))

    async def run_finished(self, result: cadenza.RunResult) -> None:
        self.calls.append(("run_finished", result.status, trio.current_time()))
        self.kinds.append("(run_finished called)")


class ObserverPlugin:
    """An ad-hoc plugin registering ``factories`` by name."""

    CADENZA_HOOK_API = ">=1.0,<2"

    def __init__(self, **factories: Callable[[], object]) -> None:
        self.factories = factories

    @cadenza.hookimpl
    def cadenza_observers(self, register: cadenza.hookspecs.Register) -> None:
        for name, factory in self.factories.items():
            register(name, factory)


def failures(events: list[Event]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in events if e.kind == "observer_failed"]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    clear_plugin_env(monkeypatch)
    yield from open_site(tmp_path, monkeypatch)


async def test_notifier_posts_start_and_summary_to_a_loopback_webhook() -> None:
    """A notifier's awaited POSTs reach a real loopback server before run_captured returns."""
    async with trio.open_nursery() as nursery:
        hook = await nursery.start(Hook().serve)
        plugin = ObserverPlugin(notify=lambda: Notifier(hook.url))
        run = await run_captured(WORKFLOW, extra_plugins=[plugin])
        nursery.cancel_scope.cancel()
    assert run.result.status == "succeeded"
    bodies = [request.json for request in hook.requests]
    assert bodies == [
        {"run_id": run.result.run_id, "state": "started"},
        {"run_id": run.result.run_id, "state": "succeeded", "counts": run.result.counts},
    ]
    assert failures(run.events) == []


async def test_run_finished_is_awaited_before_the_run_finished_event() -> None:
    """run_finished gets the result after every step and before the last event, run_finished."""
    recorder = Recorder()
    run = await run_captured(WORKFLOW, extra_plugins=[ObserverPlugin(rec=lambda: recorder)])
    assert [name for name, _, _ in recorder.calls] == ["run_started", "run_finished"]
    assert recorder.calls[0][1] == "run_started"
    assert recorder.kinds[-2:] == ["(run_finished called)", "run_finished"]
    assert "step_succeeded" in recorder.kinds[: recorder.kinds.index("(run_finished called)")]
    assert run.events[-1].kind == "run_finished"


async def test_observer_over_its_time_limit_is_cancelled_and_reported(autojump_clock: Any) -> None:
    """A run_finished that overruns its time_limit is cut at the limit; the run still succeeds."""

    class Stuck:
        time_limit = 3

        async def run_finished(self, result: cadenza.RunResult) -> None:
            await trio.sleep_forever()

    recorder = Recorder()
    plugin = ObserverPlugin(stuck=Stuck, rec=lambda: recorder)
    started = trio.current_time()
    run = await run_captured(WORKFLOW, extra_plugins=[plugin])
    assert run.result.status == "succeeded"
    assert trio.current_time() - started == pytest.approx(3)
    assert [c[0] for c in recorder.calls] == ["run_started", "run_finished"]
    (failure,) = failures(run.events)
    assert failure["observer"] == "stuck"
    assert failure["call"] == "run_finished"
    assert failure["timed_out"] is True
    assert "time limit of 3s" in failure["error"]


async def test_default_time_limit_is_ten_seconds(autojump_clock: Any) -> None:
    """Without time_limit, a call is cancelled after 10 s."""

    class Slow:
        async def run_started(self, event: Event) -> None:
            await trio.sleep(60)

    started = trio.current_time()
    run = await run_captured(WORKFLOW, extra_plugins=[ObserverPlugin(slow=Slow)])
    assert trio.current_time() - started == pytest.approx(10)
    (failure,) = failures(run.events)
    assert (failure["call"], failure["timed_out"]) == ("run_started", True)


async def test_observer_failure_is_isolated_reported_and_redacted() -> None:
    """An observer that raises is reported with secrets redacted; others and the run go on."""
    secret = "s3cr3t-token-value"

    class Broken:
        async def run_started(self, event: Event) -> None:
            raise ValueError(f"webhook refused token {secret}")

        async def run_finished(self, result: cadenza.RunResult) -> None:
            raise RuntimeError("down")

    recorder = Recorder()
    source = {
        "agents": {"t": {"kind": "template", "options": {"output": "${TOKEN}"}}},
        "steps": {"greet": {"uses": "t", "with": {}}},
    }
    run = await run_captured(
        source,
        extra_plugins=[ObserverPlugin(broken=Broken, rec=lambda: recorder)],
        environ={"TOKEN": secret},
    )
    assert run.result.status == "succeeded"
    assert [c[0] for c in recorder.calls] == ["run_started", "run_finished"]
    found = failures(run.events)
    assert [(f["call"], f["error"].split(":")[0]) for f in found] == [
        ("run_started", "ValueError"),
        ("run_finished", "RuntimeError"),
    ]
    assert secret not in json.dumps(found)
    assert found[0]["plugin"].startswith("tests.test_observers.ObserverPlugin")


async def test_run_cancelled_by_its_handle_still_calls_run_finished(autojump_clock: Any) -> None:
    """A run stopped with RunHandle.cancel (Ctrl-C, cadenza cancel) reports 'cancelled'."""
    recorder = Recorder()
    plugins = cadenza.plugins.load_plugins(
        entry_points=False,
        extra=[
            scripted_agent_kind(ScriptedAgent("slow", default=Delay(500, then="late"))),
            ObserverPlugin(rec=lambda: recorder),
        ],
    )
    loaded = cadenza.load_workflow_data(SLOW_WORKFLOW, plugins=plugins)
    async with trio.open_nursery() as nursery:
        handle = await nursery.start(
            lambda task_status: cadenza.run_workflow(
                loaded.workflow, plugins=plugins, task_status=task_status
            )
        )
        await trio.sleep(5)
        handle.cancel("interrupted by SIGINT")
    assert recorder.calls[-1][:2] == ("run_finished", "cancelled")


async def test_caller_cancelled_run_still_runs_run_finished_within_its_limit(
    autojump_clock: Any,
) -> None:
    """When the caller's scope is cancelled, run_finished runs shielded, cut at its limit."""
    calls: list[tuple[str, float]] = []

    class Patient:
        time_limit = 4

        async def run_finished(self, result: cadenza.RunResult) -> None:
            calls.append((result.status, trio.current_time()))
            await trio.sleep(2)  # cancellation does not reach it: it finishes its work
            calls.append(("posted", trio.current_time()))

    class Stuck:
        time_limit = 6

        async def run_finished(self, result: cadenza.RunResult) -> None:
            await trio.sleep_forever()

    extra = [
        scripted_agent_kind(ScriptedAgent("slow", default=Delay(500, then="late"))),
        ObserverPlugin(patient=Patient, stuck=Stuck),
    ]
    start = trio.current_time()
    with trio.move_on_after(5):
        await run_captured(SLOW_WORKFLOW, extra_plugins=extra)
    assert calls == [("cancelled", pytest.approx(start + 5)), ("posted", pytest.approx(start + 7))]
    assert trio.current_time() == pytest.approx(start + 11)


async def test_factory_mistakes_are_reported_and_the_observer_left_out() -> None:
    """A factory returning None or an object with a sync run_finished: observer_failed, create."""

    class Sync:
        def run_finished(self, result: cadenza.RunResult) -> None:
            pass

    run = await run_captured(WORKFLOW, extra_plugins=[ObserverPlugin(none=lambda: None, sync=Sync)])
    assert run.result.status == "succeeded"
    assert run.events[0].kind == "run_started"
    found = {f["observer"]: f for f in failures(run.events)}
    assert {f["call"] for f in found.values()} == {"create"}
    assert "returned None" in found["none"]["error"]
    assert "`async def run_finished(self, ...)`" in found["sync"]["error"]


async def test_observer_failed_is_journaled_before_run_finished(tmp_path: Path) -> None:
    """The journal records observer_failed, and run_finished stays the run's last event."""

    class Broken:
        async def run_finished(self, result: cadenza.RunResult) -> None:
            raise RuntimeError("down")

    store = SqliteStore(store_url(tmp_path / "journal.db"))
    try:
        run = await run_captured(WORKFLOW, extra_plugins=[ObserverPlugin(b=Broken)], store=store)
        kinds = [row["kind"] for row in store.read_events(run.result.run_id)]
    finally:
        store.close()
    assert kinds[-2:] == ["observer_failed", "run_finished"]


@attrs.frozen(kw_only=True)
class NotifyConfig:
    url: str
    time_limit: cadenza.Duration = cadenza.Duration(10.0)


class ConfiguredNotifierPlugin:
    """A notifier whose factory reads the plugin's configuration, as the docs say."""

    CADENZA_HOOK_API = ">=1.0,<2"

    def __init__(self) -> None:
        self.made: list[Notifier] = []

    @cadenza.hookimpl
    def cadenza_plugin_config(self, register: Any) -> None:
        register("notify", NotifyConfig)

    @cadenza.hookimpl
    def cadenza_observers(self, register: cadenza.hookspecs.Register) -> None:
        def factory() -> Notifier:
            config = cadenza.plugins.plugin_config("notify")
            notifier = Notifier(config.url)
            notifier.time_limit = float(config.time_limit)
            self.made.append(notifier)
            return notifier

        register("notify", factory)


async def test_observer_factory_reads_its_plugin_configuration(tmp_path: Path) -> None:
    """The factory gets its URL and time limit from the workflow's ``plugins:`` section."""
    plugin = ConfiguredNotifierPlugin()
    async with trio.open_nursery() as nursery:
        hook = await nursery.start(Hook().serve)
        source = {**WORKFLOW, "plugins": {"notify": {"url": hook.url, "time_limit": "2s"}}}
        run = await run_captured(source, extra_plugins=[plugin], base_dir=tmp_path)
        nursery.cancel_scope.cancel()
    assert [n.time_limit for n in plugin.made] == [2.0]
    assert [r.json["state"] for r in hook.requests] == ["started", "succeeded"]
    assert failures(run.events) == []


NOTIFIER_PLUGIN = """
import os

import httpx


class Notifier:
    async def run_finished(self, result):
        async with httpx.AsyncClient() as client:
            await client.post(
                os.environ["NOTIFY_URL"], json={"run_id": result.run_id, "state": result.status}
            )


@cadenza.hookimpl
def cadenza_observers(register):
    register("notify", Notifier)
"""


@pytest.mark.slow
async def test_cadenza_run_exits_only_after_the_notifier_posted(site: Site, tmp_path: Path) -> None:
    """`cadenza run` with a notifier plugin installed: its POST arrived before the exit."""
    site.add_plugin("cadenza-notify", "1.0", NOTIFIER_PLUGIN)
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(
        textwrap.dedent(
            """
            agents:
              t: {kind: template, options: {output: hello}}
            steps:
              greet: {uses: t, with: {}}
            """
        ),
        encoding="utf-8",
    )
    async with trio.open_nursery() as nursery:
        hook = await nursery.start(Hook().serve)
        pythonpath = os.pathsep.join(filter(None, [str(site.path), os.environ.get("PYTHONPATH")]))
        done = await trio.run_process(
            [sys.executable, "-m", "cadenza", "run", str(workflow), "--json", "--no-journal"],
            cwd=tmp_path,
            env={
                **os.environ,
                "PYTHONPATH": pythonpath,
                "CADENZA_LOAD_PLUGINS": "notify",
                "NOTIFY_URL": hook.url,
            },
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
        nursery.cancel_scope.cancel()
    assert done.returncode == 0, done.stderr.decode()
    summary = json.loads(done.stdout)
    assert [request.json for request in hook.requests] == [
        {"run_id": summary["run_id"], "state": "succeeded"}
    ]
