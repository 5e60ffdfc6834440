"""AgentConformance: the tests every agent kind must pass, as a class to subclass.

An agent plugin runs the suite from its own tests by subclassing it and
saying how to build one agent and what to ask it::

    import pytest
    import cadenza.testing

    from cadenza_shout import ShoutAgent


    class TestShoutAgent(cadenza.testing.AgentConformance):
        @pytest.fixture
        def agent(self):
            return ShoutAgent(name="shout", suffix="!")

        @pytest.fixture
        def inputs(self):
            return {"text": "hello"}

Async fixtures work too (pytest-trio), so an agent that needs a loopback
server can start one in the fixture. Override ``failing_inputs`` to return
inputs the agent must refuse, to check its error is typed.

The tests are trio tests (``trio_mode = true``). They pin what the kernel
relies on:

* an agent has a ``name`` (str) and ``capabilities`` (a frozenset of str);
* ``run`` returns an :class:`~cadenza.AgentResult` whose output is JSON data
  and whose usage, cost and confidence are in range;
* concurrent calls on one agent all succeed (one agent serves many steps);
* a call cancelled mid-way ends promptly (an agent that shields itself from
  cancellation fails) and leaves the agent usable for the next call;
* an agent given an ``output_dir`` writes nothing outside it;
* failures are :class:`~cadenza.AgentError` subclasses, not bugs;
* ``aclose`` can be called twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from .._agents._contract import Agent, AgentRequest, AgentResult
from .._errors import AgentError

_NO_FAILING_INPUTS = "no failing_inputs fixture: nothing this agent must refuse"


class AgentConformance:
    """Subclass with an ``agent`` fixture (and usually ``inputs``); see the module doc."""

    @pytest.fixture
    def agent(self) -> Agent:
        pytest.fail(
            "AgentConformance needs an `agent` fixture returning the agent to test: "
            "override it in your subclass"
        )

    @pytest.fixture
    def inputs(self) -> Mapping[str, Any]:
        """Inputs the agent can serve; override for agents that need particular ones."""
        return {"prompt": "hello"}

    @pytest.fixture
    def failing_inputs(self) -> Mapping[str, Any] | None:
        """Inputs the agent must refuse with an AgentError, or None when there are none."""
        return None

    task_type: str = "conformance"
    """The ``task_type`` (a step's ``uses``) of the suite's requests."""

    def request(
        self, inputs: Mapping[str, Any], *, number: int = 0, **changes: Any
    ) -> AgentRequest:
        """A request like the kernel's for step ``conformance-<number>``."""
        fields: dict[str, Any] = {
            "run_id": "conformance-run",
            "step_id": f"conformance-{number}",
            "task_type": self.task_type,
            "inputs": dict(inputs),
            "attempt": 1,
            "idempotency_key": f"conformance-key-{number}",
        }
        fields.update(changes)
        return AgentRequest(**fields)

    async def test_has_a_name_and_capabilities(self, agent: Agent) -> None:
        assert isinstance(agent.name, str)
        assert agent.name
        assert isinstance(agent.capabilities, frozenset)
        assert all(isinstance(c, str) for c in agent.capabilities)

    async def test_run_returns_a_result_of_json_data(
        self, agent: Agent, inputs: Mapping[str, Any]
    ) -> None:
        result = await agent.run(self.request(inputs))
        assert isinstance(result, AgentResult), f"run returned {type(result).__name__}"
        json.dumps(result.output, allow_nan=False)  # journaled and read by later steps
        assert result.usage.input_tokens >= 0
        assert result.usage.output_tokens >= 0
        if result.cost_usd is not None:
            assert math.isfinite(result.cost_usd)
            assert result.cost_usd >= 0
        if result.confidence is not None:
            assert 0.0 <= result.confidence <= 1.0

    async def test_concurrent_calls_all_succeed(
        self, agent: Agent, inputs: Mapping[str, Any]
    ) -> None:
        results: dict[int, AgentResult] = {}

        async def call(number: int) -> None:
            results[number] = await agent.run(self.request(inputs, number=number))

        async with trio.open_nursery() as nursery:
            for number in range(5):
                nursery.start_soon(call, number)
        assert sorted(results) == list(range(5))
        assert all(isinstance(r, AgentResult) for r in results.values())

    async def test_a_cancelled_call_ends_promptly_and_the_agent_still_works(
        self, agent: Agent, inputs: Mapping[str, Any]
    ) -> None:
        # The call is cancelled 10 ms in (mid-call for anything that waits on I/O);
        # an agent that shields itself from cancellation is still running 2 s later.
        with trio.move_on_after(2) as guard:
            with trio.move_on_after(0.01):
                await agent.run(self.request(inputs))
        assert not guard.cancel_called, "the call went on for 2 s after it was cancelled"
        result = await agent.run(self.request(inputs, number=1))
        assert isinstance(result, AgentResult)

    async def test_files_stay_inside_the_output_dir(
        self, agent: Agent, inputs: Mapping[str, Any], tmp_path: Path
    ) -> None:
        own = tmp_path / "run" / "conformance-0"
        before = set(await trio.to_thread.run_sync(lambda: list(tmp_path.rglob("*"))))
        await agent.run(self.request(inputs, output_dir=own))
        created = set(await trio.to_thread.run_sync(lambda: list(tmp_path.rglob("*")))) - before
        allowed = {own, own.parent}
        outside = sorted(str(p) for p in created if p not in allowed and own not in p.parents)
        assert not outside, f"wrote outside its output_dir: {outside}"

    @pytest.fixture
    def _refusals_to_check(self, request: pytest.FixtureRequest) -> None:
        """Skip the refusal test when there are no ``failing_inputs``, before trio starts.

        pytest-trio reports a skip raised inside a trio test without its
        reason, so the common case (a plain ``failing_inputs`` returning None,
        or none overridden) is decided here, by pytest itself. An async
        ``failing_inputs`` (or one needing async fixtures) is only known
        inside trio: the test skips there.
        """
        value = request.getfixturevalue("failing_inputs")
        if value is None:
            pytest.skip(_NO_FAILING_INPUTS)

    @pytest.mark.usefixtures("_refusals_to_check")
    async def test_refusals_are_typed_agent_errors(
        self, agent: Agent, failing_inputs: Mapping[str, Any] | None
    ) -> None:
        if failing_inputs is None:
            pytest.skip(_NO_FAILING_INPUTS)
        with pytest.raises(AgentError):
            await agent.run(self.request(failing_inputs))

    async def test_aclose_twice(self, agent: Agent) -> None:
        await agent.aclose()
        await agent.aclose()
