"""ScriptedAgent: an in-process agent whose every answer is scripted by the test.

Example::

    flaky = ScriptedAgent(
        "coder",
        [RetryableError("busy", retry_after=2), Delay(1.5, then={"code": "ok"})],
        default={"code": "again"},
    )
    plugin = scripted_agent_kind(flaky)   # kind "scripted" for workflow files
    plugins = load_plugins(extra=[plugin])

Each call consumes one action of the script, in call order. An action is:

* a :class:`~cadenza.AgentResult`: returned as is;
* an exception instance: raised (the same instance each time it is used);
* :class:`Delay`: sleep on the trio clock (the autojump clock skips it), then
  perform its ``then`` action;
* anything else: the output, returned as ``AgentResult(output=value)``.

Instead of a list, the script may be a function ``(request) -> action``, sync or
async, called for every call. When a list runs out, ``default`` answers every
further call; without a default the call fails with :class:`ScriptExhaustedError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import trio

from cadenza._agents._contract import AgentRequest, AgentResult
from cadenza._spec._workflow import AgentConfig
from cadenza.hookspecs import RegisterAgentKind, hookimpl


@attrs.frozen
class Delay:
    """Sleep ``seconds`` on the trio clock, then perform ``then`` (an action)."""

    seconds: float
    then: Any = None


class ScriptExhaustedError(AssertionError):
    """A ScriptedAgent without ``default`` was called more often than its script allows."""


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()
"""``default`` of a ScriptedAgent that fails once its script is used up."""

Responder = Callable[[AgentRequest], Any]
"""A script given as a function: ``(request) -> action`` or an awaitable of one."""


def _script(value: Iterable[Any] | Responder) -> list[Any] | Responder:
    if callable(value):
        return value
    if isinstance(value, str | bytes | Mapping):
        raise TypeError(
            f"script must be a list of actions or a function, got a {type(value).__name__}; "
            f"wrap a single action in a list: [{value!r}]"
        )
    return list(value)


def _frozen(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.define(eq=False)
class ScriptedAgent:
    """An :class:`~cadenza.Agent` answering from a script (see the module doc).

    ``calls`` records every request in arrival order and ``call_times`` the
    trio clock's time at each arrival (``call_times[i]`` is when ``calls[i]``
    came in); ``in_flight`` and ``max_in_flight`` count concurrent calls;
    ``healthy`` is what ``health()`` answers (change it during a test),
    ``health_checks`` how often it was asked; ``closed`` turns true at ``aclose()``.
    """

    name: str
    script: list[Any] | Responder = attrs.field(factory=list, converter=_script)
    capabilities: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen)
    default: Any = NO_DEFAULT
    healthy: bool = True
    calls: list[AgentRequest] = attrs.field(factory=list, init=False)
    call_times: list[float] = attrs.field(factory=list, init=False)
    in_flight: int = attrs.field(default=0, init=False)
    max_in_flight: int = attrs.field(default=0, init=False)
    health_checks: int = attrs.field(default=0, init=False)
    closed: bool = attrs.field(default=False, init=False)

    @property
    def remaining(self) -> int | None:
        """Actions left in a list script (``None`` for a function script)."""
        return None if callable(self.script) else len(self.script)

    def _next_action(self, request: AgentRequest) -> Any:
        if callable(self.script):
            return self.script(request)
        if self.script:
            return self.script.pop(0)
        if self.default is not NO_DEFAULT:
            return self.default
        raise ScriptExhaustedError(
            f"ScriptedAgent {self.name!r} ran out of script at call {len(self.calls)} "
            f"(step {request.step_id!r}, attempt {request.attempt}); add actions to the "
            f"script or pass default=... to answer further calls"
        )

    async def run(self, request: AgentRequest) -> AgentResult:
        """Record the request and perform the next action of the script."""
        self.calls.append(request)
        self.call_times.append(trio.current_time())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            action = self._next_action(request)
            if inspect.isawaitable(action):
                action = await action
            return await _perform(action)
        finally:
            self.in_flight -= 1

    async def health(self) -> bool:
        """Answer ``healthy``."""
        self.health_checks += 1
        return self.healthy

    async def aclose(self) -> None:
        """Mark the agent closed."""
        self.closed = True


async def _perform(action: Any) -> AgentResult:
    while isinstance(action, Delay):
        await trio.sleep(action.seconds)
        action = action.then
    if isinstance(action, BaseException):
        raise action
    if isinstance(action, type) and issubclass(action, BaseException):
        raise TypeError(
            f"script action {action.__name__} is an exception class; "
            f"pass an instance, like {action.__name__}('message')"
        )
    if isinstance(action, AgentResult):
        return action
    return AgentResult(output=action)


@attrs.define(eq=False)
class ScriptedAgentKind:
    """A plugin registering agent kind ``kind`` (default ``"scripted"``) for ``agents``.

    A workflow agent ``{name: coder, kind: scripted}`` is served by the
    ScriptedAgent named ``coder``; its ``options`` are ignored. The same agent
    object serves every run, so its records accumulate across runs.
    """

    agents: dict[str, ScriptedAgent]
    kind: str = "scripted"

    @hookimpl
    def cadenza_agent_kinds(self, register: RegisterAgentKind) -> None:
        register(self.kind, self.factory)

    def factory(self, config: AgentConfig) -> ScriptedAgent:
        """Return the scripted agent named like the configured one."""
        try:
            return self.agents[config.name]
        except KeyError:
            known = ", ".join(sorted(self.agents)) or "none"
            raise LookupError(
                f"agent {config.name!r} has kind {self.kind!r}, but no ScriptedAgent of that "
                f"name was given to scripted_agent_kind() (known: {known})"
            ) from None


def scripted_agent_kind(*agents: ScriptedAgent, kind: str = "scripted") -> ScriptedAgentKind:
    """Return a plugin object that serves ``agents`` (by name) as agent kind ``kind``.

    Pass it to ``load_plugins(extra=[...])`` or register it on a plugin manager.
    """
    table: dict[str, ScriptedAgent] = {}
    for agent in agents:
        if agent.name in table:
            raise ValueError(f"two ScriptedAgents are named {agent.name!r}; names must be unique")
        table[agent.name] = agent
    return ScriptedAgentKind(agents=table, kind=kind)
