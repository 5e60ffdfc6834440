"""cadenza.testing.ScriptedAgent and the "scripted" agent kind."""

from __future__ import annotations

import inspect
from typing import Any

import pluggy
import pytest
import trio

import cadenza
import cadenza.testing
from cadenza import (
    Agent,
    AgentConfig,
    AgentRequest,
    AgentResult,
    PermanentError,
    RetryableError,
    SupportsHealth,
)
from cadenza.testing import (
    Delay,
    ScriptedAgent,
    ScriptedAgentKind,
    ScriptExhaustedError,
    scripted_agent_kind,
)


def make_request(step: str = "build", attempt: int = 1, **inputs: Any) -> AgentRequest:
    return AgentRequest(
        run_id="run-1",
        step_id=step,
        task_type="t",
        inputs=inputs,
        attempt=attempt,
        idempotency_key=f"run-1/{step}",
    )


def test_public_names() -> None:
    """cadenza.testing exports the fakes and servers under their public module."""
    names = {
        "Delay",
        "Drop",
        "MalformedJson",
        "NO_DEFAULT",
        "ECHO",
        "Handler",
        "Ok",
        "Responder",
        "ScriptExhaustedError",
        "ScriptedAgent",
        "ScriptedAgentKind",
        "SeedAgentServer",
        "SeedCall",
        "Stall",
        "Status",
        "open_seed_agent_server",
        "scripted_agent_kind",
        "serve_seed_agent",
    }
    assert names <= set(cadenza.testing.__all__)
    for name in names:
        obj = getattr(cadenza.testing, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__ == "cadenza.testing", name


async def test_script_actions_in_call_order(autojump_clock: trio.abc.Clock) -> None:
    """Values, results, exceptions and delays are performed one per call, in order."""
    result = AgentResult(output="r", confidence=0.9)
    error = RetryableError("busy", retry_after=2)
    agent = ScriptedAgent(
        "coder",
        [{"a": 1}, result, error, Delay(3, then="late"), Delay(1, then=PermanentError("no"))],
    )
    assert await agent.run(make_request()) == AgentResult(output={"a": 1})
    assert await agent.run(make_request()) is result
    with pytest.raises(RetryableError) as info:
        await agent.run(make_request())
    assert info.value is error
    start = trio.current_time()
    assert (await agent.run(make_request())).output == "late"
    assert trio.current_time() - start == pytest.approx(3)
    with pytest.raises(PermanentError, match="no"):
        await agent.run(make_request())
    assert trio.current_time() - start == pytest.approx(4)
    assert agent.remaining == 0


async def test_default_answers_after_the_script() -> None:
    """Once the script is used up, default answers every call."""
    agent = ScriptedAgent("a", [1], default="again")
    outputs = [(await agent.run(make_request())).output for _ in range(3)]
    assert outputs == [1, "again", "again"]


async def test_exhausted_script_without_default_fails_clearly() -> None:
    """Without default, an extra call raises ScriptExhaustedError (an AssertionError)."""
    agent = ScriptedAgent("coder", [1])
    await agent.run(make_request())
    with pytest.raises(ScriptExhaustedError, match="'coder' ran out of script") as info:
        await agent.run(make_request(step="docs", attempt=2))
    assert isinstance(info.value, AssertionError)
    assert "step 'docs', attempt 2" in str(info.value)


async def test_default_none_is_a_real_default() -> None:
    """default=None answers None (NO_DEFAULT is the 'no default' marker)."""
    agent = ScriptedAgent("a", default=None)
    assert (await agent.run(make_request())).output is None


async def test_function_script_sync_and_async(autojump_clock: trio.abc.Clock) -> None:
    """A function script is called per request; it may be async and return any action."""

    def sync_script(request: AgentRequest) -> Any:
        if request.attempt == 1:
            return RetryableError("first attempt fails")
        return {"step": request.step_id, **request.inputs}

    agent = ScriptedAgent("a", sync_script)
    with pytest.raises(RetryableError):
        await agent.run(make_request())
    assert (await agent.run(make_request(attempt=2, x=1))).output == {"step": "build", "x": 1}
    assert agent.remaining is None

    async def async_script(request: AgentRequest) -> Any:
        await trio.sleep(1)
        return Delay(1, then=request.inputs["x"])

    agent = ScriptedAgent("b", async_script)
    start = trio.current_time()
    assert (await agent.run(make_request(x=5))).output == 5
    assert trio.current_time() - start == pytest.approx(2)


async def test_calls_and_concurrency_are_recorded(autojump_clock: trio.abc.Clock) -> None:
    """calls keeps every request; in_flight and max_in_flight count concurrent calls."""
    agent = ScriptedAgent("a", default=Delay(1, then="ok"))
    async with trio.open_nursery() as nursery:
        for i in range(3):
            nursery.start_soon(agent.run, make_request(step=f"s{i}"))
        await trio.sleep(0.5)
        assert agent.in_flight == 3
    assert sorted(r.step_id for r in agent.calls) == ["s0", "s1", "s2"]
    assert agent.in_flight == 0
    assert agent.max_in_flight == 3


async def test_call_times_record_when_each_call_arrived(autojump_clock: trio.abc.Clock) -> None:
    """call_times holds the trio clock's time at each call's arrival, parallel to calls."""
    agent = ScriptedAgent("a", default=Delay(2, then="ok"))
    await trio.sleep(1)
    await agent.run(make_request(step="first"))
    await trio.sleep(5)
    await agent.run(make_request(step="second"))
    assert [r.step_id for r in agent.calls] == ["first", "second"]
    assert agent.call_times == [1.0, 8.0]


async def test_failed_calls_leave_in_flight_balanced() -> None:
    """A raising action still decrements in_flight."""
    agent = ScriptedAgent("a", [ValueError("bug")])
    with pytest.raises(ValueError, match="bug"):
        await agent.run(make_request())
    assert agent.in_flight == 0
    assert agent.max_in_flight == 1


async def test_health_and_aclose() -> None:
    """health() answers healthy and counts checks; aclose() marks the agent closed."""
    agent = ScriptedAgent("a", capabilities=["code"])
    assert isinstance(agent, Agent)
    assert isinstance(agent, SupportsHealth)
    assert agent.capabilities == frozenset({"code"})
    assert await agent.health()
    agent.healthy = False
    assert not await agent.health()
    assert agent.health_checks == 2
    await agent.aclose()
    assert agent.closed


def test_script_must_be_a_list_or_function() -> None:
    """A bare string or mapping as script is refused with the right form shown."""
    with pytest.raises(TypeError, match=r"wrap a single action in a list: \['hello'\]"):
        ScriptedAgent("a", "hello")
    with pytest.raises(TypeError, match="wrap a single action"):
        ScriptedAgent("a", {"output": 1})


async def test_exception_class_action_is_refused() -> None:
    """An exception class (not instance) in the script says to pass an instance."""
    agent = ScriptedAgent("a", [RetryableError])
    with pytest.raises(TypeError, match=r"pass an instance, like RetryableError\('message'\)"):
        await agent.run(make_request())


def registered_kinds(plugin: object) -> dict[str, Any]:
    pm = pluggy.PluginManager("cadenza")
    pm.add_hookspecs(cadenza.hookspecs)
    pm.register(plugin)
    kinds: dict[str, Any] = {}

    def register(name: str, factory: Any, **kwargs: Any) -> None:
        kinds[name] = factory

    pm.hook.cadenza_agent_kinds(register=register)
    return kinds


def test_scripted_agent_kind_registers_a_factory_by_name() -> None:
    """The plugin registers kind "scripted"; the factory returns the agent of the config's name."""
    coder, docs = ScriptedAgent("coder"), ScriptedAgent("docs")
    plugin = scripted_agent_kind(coder, docs)
    assert isinstance(plugin, ScriptedAgentKind)
    factory = registered_kinds(plugin)["scripted"]
    assert factory(AgentConfig(name="docs", kind="scripted")) is docs
    assert factory(AgentConfig(name="coder", kind="scripted")) is coder
    with pytest.raises(LookupError, match=r"'writer' .* \(known: coder, docs\)"):
        factory(AgentConfig(name="writer", kind="scripted"))


def test_scripted_agent_kind_custom_kind_and_unique_names() -> None:
    """The kind name is configurable; two agents with one name are refused."""
    assert set(registered_kinds(scripted_agent_kind(ScriptedAgent("a"), kind="fake"))) == {"fake"}
    with pytest.raises(ValueError, match="two ScriptedAgents are named 'a'"):
        scripted_agent_kind(ScriptedAgent("a"), ScriptedAgent("a"))
