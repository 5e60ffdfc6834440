"""Plugin code that tries to end the process (``sys.exit()``, ``KeyboardInterrupt``) fails alone.

The plugin is reported failed and the command or run goes on; trio's own
cancellation and a real Ctrl-C still get through (``cadenza._plugins._registry.call_plugin``).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
from structlog.testing import capture_logs

import cadenza
import cadenza.events
from cadenza._errors import PluginExitError
from cadenza._plugins._registry import (
    Plugins,
    call_plugin,
    call_plugin_async,
    load_plugins,
)
from cadenza.store import SqliteStore
from cadenza.testing import ScriptedAgent

from .durability_helpers import store_url
from .plugin_helpers import Site, clear_plugin_env, open_site
from .scheduler_helpers import ProgrammablePlugin, echo, make_workflow

EXITS = [SystemExit(3), KeyboardInterrupt()]
EXIT_IDS = ["SystemExit", "KeyboardInterrupt"]


@pytest.fixture(autouse=True)
def _plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_plugin_env(monkeypatch)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    yield from open_site(tmp_path, monkeypatch)


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(store_url(tmp_path / "journal.db"))
    yield store
    store.close()


def info(plugins: Plugins, name: str) -> cadenza.plugins.PluginInfo:
    (found,) = [i for i in plugins.infos if i.name == name]
    return found


def raising(exc: BaseException) -> Any:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return fn


# -- loading ---------------------------------------------------------------------


def test_plugin_exiting_at_import_is_failed_and_the_rest_load(site: Site) -> None:
    """A module calling ``sys.exit()`` at import is ``failed`` with the reason; others load."""
    site.add_plugin("cadenza-exiter", "0.1", "import sys\nsys.exit(7)\n")
    site.add_plugin(
        "cadenza-fine", "1.0", "@cadenza.hookimpl\ndef cadenza_on_event(event):\n    pass\n"
    )
    plugins = load_plugins(only=["exiter", "fine"])
    exiter = info(plugins, "exiter")
    assert exiter.status == "failed"
    assert exiter.error == (
        "cadenza-exiter 0.1: could not import entry point exiter = cadenza_exiter: "
        "SystemExit(7) while importing (plugin code must raise an exception, "
        "never exit or interrupt the process)"
    )
    assert info(plugins, "fine").status == "loaded"


def test_plugin_raising_keyboard_interrupt_at_import_is_failed(site: Site) -> None:
    """A ``KeyboardInterrupt`` the module raises itself (no Ctrl-C arrived) fails only it."""
    site.add_plugin("cadenza-rude", "0.1", "raise KeyboardInterrupt\n")
    plugins = load_plugins(only=["rude"])
    rude = info(plugins, "rude")
    assert rude.status == "failed"
    assert "KeyboardInterrupt() while importing" in (rude.error or "")


def test_real_ctrl_c_while_a_plugin_imports_still_interrupts(site: Site) -> None:
    """A SIGINT arriving while plugin code runs is the user's Ctrl-C: loading stops."""
    site.add_plugin(
        "cadenza-slow",
        "0.1",
        """
        import os, signal
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10**6):
            pass
        """,
    )
    if sys.platform == "win32":  # pragma: no cover - os.kill(SIGINT) ends the process there
        pytest.skip("needs POSIX signals")
    with pytest.raises(KeyboardInterrupt):
        load_plugins(only=["slow"])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_registration_hook_exiting_is_failed_and_discarded() -> None:
    """A registration hook raising ``SystemExit`` fails its plugin; nothing it registered stays."""

    class Exiting:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Any) -> None:
            register("exit_router", dict)
            raise SystemExit("bye")

    with pytest.raises(cadenza.plugins.PluginError) as caught:  # extra plugins must load
        load_plugins(entry_points=False, extra=[Exiting])
    error = str(caught.value)
    assert "was failed: " in error
    assert "a registration hook raised SystemExit('bye') in " in error
    assert "Its registrations were discarded." in error


# -- calling plugin code ----------------------------------------------------------------


@pytest.mark.parametrize("exc", EXITS, ids=EXIT_IDS)
async def test_call_plugin_turns_an_exit_into_plugin_exit_error(exc: BaseException) -> None:
    """In a run, ``SystemExit`` and a plugin's own ``KeyboardInterrupt`` become an exception."""
    with pytest.raises(PluginExitError) as caught:
        call_plugin(raising(exc))
    assert caught.value.raised is exc
    assert caught.value.__cause__ is exc
    assert "raising.<locals>.fn raised" in str(caught.value)


def test_keyboard_interrupt_outside_a_run_and_loading_is_taken_as_real() -> None:
    """Outside trio and plugin loading, a ``KeyboardInterrupt`` may be Ctrl-C: it propagates."""
    with pytest.raises(KeyboardInterrupt):
        call_plugin(raising(KeyboardInterrupt()))


def test_call_plugin_passes_exceptions_through_unchanged() -> None:
    """An ordinary exception from plugin code is not wrapped."""
    error = ValueError("boom")
    with pytest.raises(ValueError, match="boom") as caught:
        call_plugin(raising(error))
    assert caught.value is error


async def test_cancellation_passes_through_plugin_code_untouched() -> None:
    """trio's ``Cancelled`` leaves plugin code as it is, so cancel scopes work."""

    async def forever() -> None:
        await trio.sleep_forever()

    with trio.move_on_after(1) as scope:
        await call_plugin_async(forever)
    assert scope.cancelled_caught


async def test_plugin_code_runs_protected_from_a_real_ctrl_c() -> None:
    """Inside trio, plugin code is KI-protected: a real Ctrl-C goes to the run's main task."""
    seen: list[bool] = []

    def observe() -> None:
        seen.append(trio.lowlevel.currently_ki_protected())

    async def run() -> None:
        seen.append(trio.lowlevel.currently_ki_protected())

    call_plugin(observe)
    await call_plugin_async(run)
    assert seen == [True, True]


# -- during a run ------------------------------------------------------------------


@pytest.mark.parametrize("exc", EXITS, ids=EXIT_IDS)
async def test_observer_exiting_is_dropped_and_the_run_finishes(
    exc: BaseException, sqlite: SqliteStore
) -> None:
    """An observer raising SystemExit/KeyboardInterrupt is logged; the run succeeds, journaled."""
    seen: list[str] = []

    class Exiting:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_on_event(event: cadenza.events.Event) -> None:
            seen.append(event.kind)
            if event.kind == "step_ready":
                raise exc

    agent = ScriptedAgent("a", echo)
    plugins = load_plugins(entry_points=False, extra=[ProgrammablePlugin({"a": agent}), Exiting])
    workflow = make_workflow({"first": {}, "second": {"needs": ["first"]}})
    with capture_logs() as logs:
        result = await cadenza.run_workflow(workflow, plugins=plugins, store=sqlite, run_id="r1")
    assert result.status == "succeeded"
    assert seen == ["run_started", "step_ready"]  # dropped after it raised
    (failure,) = [e for e in logs if e["event"] == "observer_failed"]
    assert failure["observer"].endswith("Exiting")
    assert f"raised {exc!r}" in failure["error"]
    finished = [e for e in sqlite.read_events("r1") if e["kind"] == "run_finished"]
    assert [(e["status"], e["reason"]) for e in finished] == [("succeeded", "")]


@pytest.mark.parametrize("exc", EXITS, ids=EXIT_IDS)
async def test_agent_exiting_fails_its_step_not_the_run(
    exc: BaseException, sqlite: SqliteStore, autojump_clock: trio.testing.MockClock
) -> None:
    """A plugin agent whose ``run`` raises SystemExit/KeyboardInterrupt fails that step only."""

    async def exiting(request: cadenza.AgentRequest) -> Any:
        await trio.lowlevel.checkpoint()
        raise exc

    agents = {"a": ScriptedAgent("a", echo), "bad": ScriptedAgent("bad", exiting)}
    plugins = load_plugins(entry_points=False, extra=[ProgrammablePlugin(agents)])
    workflow = make_workflow(
        {"good": {}, "doomed": {"uses": "bad", "retry": {"max_attempts": 3}}},
        agents={"a": {}, "bad": {}},
    )
    with capture_logs():
        result = await cadenza.run_workflow(workflow, plugins=plugins, store=sqlite, run_id="r2")
    assert result.status == "failed"
    assert result.steps["good"].status == "succeeded"
    doomed = result.steps["doomed"]
    assert doomed.status == "failed"
    assert f"raised {exc!r}" in (doomed.error or "")
    assert doomed.attempts == 1  # a plugin bug is not retried
    finished = [e for e in sqlite.read_events("r2") if e["kind"] == "run_finished"]
    assert [e["reason"] for e in finished] == ["failed steps: doomed"]


def test_agent_factory_exiting_is_a_workflow_problem() -> None:
    """A kind's factory raising ``SystemExit`` makes the agent a reported problem."""

    class Exiting:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_agent_kinds(register: Any) -> None:
            register("prog", raising(SystemExit(1)))

    plugins = load_plugins(entry_points=False, extra=[Exiting])
    workflow = make_workflow({"s": {}})
    with pytest.raises(cadenza.WorkflowError) as caught:
        trio.run(lambda: cadenza.run_workflow(workflow, plugins=plugins))
    assert "agent 'a' (kind prog) could not be created" in str(caught.value)
    assert "raised SystemExit(1)" in str(caught.value)


def test_strategy_factory_exiting_at_load_is_a_plugin_error() -> None:
    """A router factory calling ``sys.exit()`` while the file loads raises a PluginError."""

    class Exiting:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Any) -> None:
            register("quitter", raising(SystemExit(2)))

    plugins = load_plugins(entry_points=False, extra=[Exiting])
    text = "agents: {a: {kind: template}}\nroute: quitter\nsteps: {s: {uses: a}}\n"
    with pytest.raises(cadenza.plugins.PluginError, match=r"raised SystemExit\(2\)"):
        cadenza.load_workflow_text(text, plugins=plugins)
