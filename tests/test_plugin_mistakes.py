"""Plugin mistakes found early and said plainly (issue 13, item 4).

Extra plugins (a test's own) must load or the load raises; factories that
return None or the wrong thing are reported where they are called; routers
naming no candidate and agents returning non-JSON output are reported with
what they returned; hooks that return instead of registering, or take a
parameter their hook does not pass, are refused with the fix.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import cadenza
from cadenza._agents._json_output import not_json
from cadenza._journal._store import open_store
from cadenza.plugins import PluginError, load_plugins
from cadenza.store import StoreError
from cadenza.testing import ScriptedAgent, run_captured, scripted_agent_kind

from .plugin_helpers import Site, clear_plugin_env, open_site

ONE_STEP = {
    "name": "mistakes",
    "agents": {"a": {"kind": "scripted"}},
    "steps": {"s": {"uses": "a"}},
}


@pytest.fixture(autouse=True)
def _plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_plugin_env(monkeypatch)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    yield from open_site(tmp_path, monkeypatch)


def registering(hook: str, name: str, factory: Callable[..., Any]) -> object:
    """An ad-hoc plugin registering ``factory`` as ``name`` through registration ``hook``."""

    def impl(register: Any) -> None:
        register(name, factory)

    impl.__name__ = hook
    return type("Registering", (), {hook: staticmethod(cadenza.hookimpl(impl))})


# -- extra plugins must load ---------------------------------------------------------


class MisspeltHook:
    @staticmethod
    @cadenza.hookimpl
    def cadenza_agent_kind(register: Any) -> None:
        raise AssertionError("never called")


async def test_run_captured_raises_for_an_extra_plugin_that_is_refused() -> None:
    """A misspelt hook in an ``extra_plugins`` entry raises PluginError with the refusal reason."""
    with pytest.raises(PluginError) as caught:
        await run_captured(ONE_STEP, extra_plugins=[MisspeltHook])
    message = str(caught.value)
    assert "MisspeltHook was refused: " in message
    assert "unknown hook 'cadenza_agent_kind'" in message
    assert "Did you mean 'cadenza_agent_kinds'?" in message
    assert caught.value.plugin is not None
    assert caught.value.plugin.endswith("MisspeltHook")


def test_load_plugins_extra_raises_with_every_reason() -> None:
    """Two bad extra plugins are both named in the one error, each with its reason."""

    class Raising:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Any) -> None:
            raise RuntimeError("config file missing")

    with pytest.raises(PluginError) as caught:
        load_plugins(entry_points=False, extra=[MisspeltHook, Raising])
    message = str(caught.value)
    assert "MisspeltHook was refused: " in message
    assert "Raising was failed: " in message
    assert "RuntimeError: config file missing" in message


def test_entry_point_plugins_are_still_isolated_and_reported(site: Site) -> None:
    """An installed plugin with a misspelt hook is recorded as refused; the load goes on."""
    site.add_plugin(
        "cadenza-typo",
        "0.1",
        "@cadenza.hookimpl\ndef cadenza_agent_kind(register):\n    pass\n",
    )
    plugins = load_plugins(only=["typo"], extra=[scripted_agent_kind(ScriptedAgent("a"))])
    (typo,) = [i for i in plugins.infos if i.name == "typo"]
    assert typo.status == "refused"
    assert "scripted" in plugins.agent_kinds


async def test_run_captured_refuses_plugins_and_extra_plugins_together() -> None:
    """``extra_plugins`` next to ``plugins`` would be ignored, so passing both is a TypeError."""
    plugins = load_plugins(entry_points=False)
    with pytest.raises(TypeError, match="pass plugins= or extra_plugins=, not both"):
        await run_captured(ONE_STEP, plugins=plugins, extra_plugins=[MisspeltHook])


# -- hooks that return, hooks with a wrong parameter name --------------------------------


def test_registration_hook_returning_its_registrations_fails_with_the_fix() -> None:
    """A hook returning ``{name: factory}`` instead of calling register() is an error saying so."""

    class Returning:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_agent_kinds(register: Any) -> Any:
            return {"mine": dict}

    with pytest.raises(PluginError) as caught:
        load_plugins(entry_points=False, extra=[Returning])
    message = str(caught.value)
    assert "cadenza_agent_kinds returned a dict {'mine': <class 'dict'>} instead of" in message
    assert "Call register(name, factory) once per thing and return None" in message
    assert "def cadenza_agent_kinds(register):" in message


def test_installed_plugin_returning_registrations_is_failed(site: Site) -> None:
    """The same mistake in an installed plugin fails that plugin, recorded with the fix."""
    site.add_plugin(
        "cadenza-ret",
        "0.1",
        "@cadenza.hookimpl\ndef cadenza_routers(register):\n    return [('r', dict)]\n",
    )
    plugins = load_plugins(only=["ret"])
    (ret,) = [i for i in plugins.infos if i.name == "ret"]
    assert ret.status == "failed"
    assert "cadenza_routers returned a list [('r', <class 'dict'>)] instead of" in (ret.error or "")


def test_wrong_parameter_name_says_the_names_the_hook_passes(site: Site) -> None:
    """A hookimpl taking ``registr`` is refused on one line naming ``register``, the right name."""
    site.add_plugin(
        "cadenza-param",
        "0.1",
        "@cadenza.hookimpl\ndef cadenza_agent_kinds(registr):\n    registr('x', dict)\n",
    )
    plugins = load_plugins(only=["param"])
    (param,) = [i for i in plugins.infos if i.name == "param"]
    assert param.status == "refused"
    assert param.error == (
        "cadenza-param 0.1: cadenza_agent_kinds(registr) takes 'registr', which "
        "cadenza_agent_kinds does not pass. Did you mean 'register'? cadenza_agent_kinds "
        "passes: register. Rename the parameter; an implementation may take any of these, "
        "by name, and leave out the others."
    )


# -- factories returning None or the wrong thing -----------------------------------------


def none_factory(config: Any) -> Any:
    """A factory that forgot its ``return``."""
    return None


async def test_agent_factory_returning_none_fails_the_run_start_naming_the_plugin() -> None:
    """An agent kind whose factory returns None is a workflow problem, not an AttributeError."""
    plugin = registering("cadenza_agent_kinds", "scripted", none_factory)
    with pytest.raises(cadenza.WorkflowError) as caught:
        await run_captured(ONE_STEP, extra_plugins=[plugin])
    message = str(caught.value)
    assert "agent 'a' (kind scripted) could not be created" in message
    assert "none_factory registered as 'scripted' through cadenza_agent_kinds" in message
    assert "returned None, but it must return an agent" in message
    assert "This is a bug in" in message


async def test_agent_factory_returning_the_wrong_type_says_what_it_lacks() -> None:
    """A factory returning a dict is told it lacks name, run() and aclose()."""
    plugin = registering("cadenza_agent_kinds", "scripted", lambda config: {"name": "a"})
    with pytest.raises(cadenza.WorkflowError) as caught:
        await run_captured(ONE_STEP, extra_plugins=[plugin])
    message = str(caught.value)
    assert "returned a dict {'name': 'a'}" in message
    assert "It lacks name, run(), aclose()" in message


class NotAStrategy:
    """What a strategy factory returns by mistake: an object with none of the members."""

    def __repr__(self) -> str:
        return "NotAStrategy()"


@pytest.mark.parametrize(
    ("hook", "step_extra", "needs"),
    [
        ("cadenza_routers", {"route": "mine"}, "a Router: an object with choose()"),
        (
            "cadenza_aggregators",
            {"agents": 2, "aggregate": "mine"},
            "an Aggregator: an object with combine()",
        ),
        ("cadenza_validators", {"validate": "mine"}, "a Validator: an object with validate()"),
        ("cadenza_fallbacks", {"fallback": ["mine"]}, "a fallback strategy: an object with run()"),
    ],
)
@pytest.mark.parametrize("made", [None, NotAStrategy()], ids=["none", "wrong-type"])
async def test_strategy_factory_returning_the_wrong_thing_is_refused_when_the_file_loads(
    hook: str, step_extra: dict[str, Any], needs: str, made: object
) -> None:
    """Routers, aggregators, validators and fallbacks are checked as the workflow loads."""
    workflow = {
        "name": "mistakes",
        "agents": {
            "a": {"kind": "scripted", "capabilities": ["work"]},
            "b": {"kind": "scripted", "capabilities": ["work"]},
        },
        "steps": {"s": {"uses": "work", **step_extra}},
    }
    agents = scripted_agent_kind(ScriptedAgent("a"), ScriptedAgent("b"))
    plugin = registering(hook, "mine", lambda options: made)
    with pytest.raises(cadenza.WorkflowError) as caught:
        await run_captured(workflow, extra_plugins=[agents, plugin])
    message = str(caught.value)
    assert f"registered as 'mine' through {hook} returned " in message
    returned = "None" if made is None else "a NotAStrategy NotAStrategy()"
    assert f"returned {returned}" in message
    assert needs in message
    assert "steps.s" in message


def test_store_factory_returning_none_names_the_plugin() -> None:
    """A store factory returning None is a StoreError naming the plugin and what is missing."""
    plugin = registering("cadenza_stores", "memo", lambda url: None)
    plugins = load_plugins(entry_points=False, extra=[plugin])
    with pytest.raises(StoreError) as caught:
        open_store("memo://x", plugins.registered("cadenza_stores"))
    message = str(caught.value)
    assert "Registering: the store factory registered for memo:// URLs returned None" in message
    assert "which is not a Store (missing: url, write, get_run" in message


# -- routers naming no candidate ------------------------------------------------------------


def two_agents(route: str) -> tuple[dict[str, Any], object]:
    workflow = {
        "name": "routing",
        "route": route,
        "agents": {
            "a": {"kind": "scripted", "capabilities": ["work"]},
            "b": {"kind": "scripted", "capabilities": ["work"]},
        },
        "steps": {"s": {"uses": "work"}},
    }
    agents = scripted_agent_kind(ScriptedAgent("a", default="A"), ScriptedAgent("b", default="B"))
    return workflow, agents


class AnswersWith:
    """A router that answers ``answer`` whatever it is offered."""

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def choose(self, candidates: Sequence[cadenza.strategies.Candidate], request: Any) -> Any:
        return self.answer


async def test_router_returning_a_string_is_reported_with_its_type_and_repr() -> None:
    """A router answering ``"a"`` instead of a Route gets a reason saying what it returned."""
    workflow, agents = two_agents("bare")
    router = registering("cadenza_routers", "bare", lambda options: AnswersWith("a"))
    run = await run_captured(workflow, extra_plugins=[agents, router])
    assert run.result.status == "succeeded"
    (chosen,) = run.of("route_chosen")
    assert chosen.reason.startswith(
        "router returned a str 'a', not a Route naming a candidate (candidates: a, b); "
        "took the least busy."
    )
    assert "Route(agent=<one of the candidates' names>" in chosen.reason


async def test_router_naming_a_stranger_is_reported_with_the_name() -> None:
    """A Route naming an agent that is not a candidate is reported with that name."""
    workflow, agents = two_agents("stranger")
    answer = cadenza.strategies.Route(agent="ghost", reason="")
    router = registering("cadenza_routers", "stranger", lambda options: AnswersWith(answer))
    run = await run_captured(workflow, extra_plugins=[agents, router])
    (chosen,) = run.of("route_chosen")
    assert chosen.reason.startswith(
        "router returned Route(agent='ghost'), which is not a candidate (candidates: a, b)"
    )


# -- agents returning output that is not JSON -----------------------------------------------


async def test_non_json_agent_output_fails_the_step_naming_type_and_path() -> None:
    """An agent whose output holds a set fails permanently, naming ``output.items[2]``."""
    agent = ScriptedAgent("a", [cadenza.AgentResult(output={"items": [1, 2, {3}]})])
    run = await run_captured(ONE_STEP, extra_plugins=[scripted_agent_kind(agent)])
    assert run.result.status == "failed"
    (failed,) = run.of("step_failed")
    assert failed.error_type == "PermanentError"
    assert failed.attempts == 1
    assert "agent 'a' returned output that is not JSON: output.items[2]: set is not JSON" in (
        failed.message
    )
    assert run.of("step_succeeded") == []


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"a": [1, {"b": {1, 2}}]}, "output.a[1].b: set is not JSON"),
        ({"x": math.nan}, "output.x: float nan is not JSON"),
        ({"bad key": b"raw"}, "output['bad key']: bytes is not JSON"),
        ({(1, 2): "tuple key"}, "output: key (1, 2) (tuple) is not JSON; keys are strings"),
        (object, "output: type is not JSON"),
    ],
)
def test_not_json_names_the_first_offender_and_its_path(value: object, where: str) -> None:
    """``not_json`` says where in the output the first value JSON cannot hold sits."""
    assert not_json(value) == where


def test_not_json_accepts_what_json_accepts_and_reports_cycles() -> None:
    """JSON values (tuples included) pass; a list containing itself is reported, not recursed."""
    assert not_json({"a": (1, 2.5, None, True, "x")}) == ""
    loop: list[Any] = []
    loop.append(loop)
    assert not_json(loop) == "output[0]: contains itself (a circular reference) and is not JSON"


# -- what the command line shows ---------------------------------------------------------

NONE_FACTORIES = """
def none(config_or_options):
    return None

@cadenza.hookimpl
def cadenza_agent_kinds(register):
    register("nothing", none)

@cadenza.hookimpl
def cadenza_routers(register):
    register("nobody", none)
"""


def cadenza_cli(site: Site, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m cadenza ARGS`` with only the site's plugins installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site.path), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_cli_validate_reports_a_router_factory_returning_none_at_its_line(
    site: Site, tmp_path: Path
) -> None:
    """``cadenza validate`` exits 2 naming file:line and the plugin, with no traceback."""
    site.add_plugin("cadenza-none", "0.1", NONE_FACTORIES)
    (tmp_path / "wf.yaml").write_text(
        "agents:\n  a: {kind: template}\nsteps:\n  s: {uses: a, route: nobody}\n"
    )
    proc = cadenza_cli(site, tmp_path, "validate", "wf.yaml")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "wf.yaml:4:" in proc.stderr
    assert "registered as 'nobody' through cadenza_routers returned None" in proc.stderr
    assert "This is a bug in cadenza-none 0.1" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_cli_run_refuses_an_agent_factory_returning_none_before_any_step(
    site: Site, tmp_path: Path
) -> None:
    """``cadenza run`` exits 2 naming the agent and the plugin when a factory returns None."""
    site.add_plugin("cadenza-none", "0.1", NONE_FACTORIES)
    (tmp_path / "wf.yaml").write_text("agents:\n  a: {kind: nothing}\nsteps:\n  s: {uses: a}\n")
    proc = cadenza_cli(site, tmp_path, "run", "wf.yaml", "--no-journal", "--no-progress")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "agent 'a' (kind nothing) could not be created" in proc.stderr
    assert "returned None, but it must return an agent" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_cli_plugins_shows_the_expected_parameter_names(site: Site, tmp_path: Path) -> None:
    """``cadenza plugins --json`` carries the whole wrong-parameter message, naming ``register``."""
    site.add_plugin(
        "cadenza-param",
        "0.1",
        "@cadenza.hookimpl\ndef cadenza_routers(registr):\n    pass\n",
    )
    proc = cadenza_cli(site, tmp_path, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    (param,) = [item for item in json.loads(proc.stdout) if item["name"] == "param"]
    assert param["status"] == "refused"
    assert "Did you mean 'register'? cadenza_routers passes: register." in param["error"]
