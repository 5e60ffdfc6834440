"""What an agent is to the kernel: a request in, a result (or a typed error) out.

Agents are created per run from their :class:`~cadenza.AgentConfig` by the
factory their kind registered (hook ``cadenza_agent_kinds``), used by many
steps concurrently, and closed with ``aclose()`` when the run ends. They run
on trio; blocking work belongs in ``trio.to_thread.run_sync``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from .._spec._workflow import AgentConfig


@attrs.frozen(kw_only=True)
class Usage:
    """Tokens a call consumed, as reported by the provider (0 when not applicable)."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@attrs.frozen(kw_only=True)
class AgentRequest:
    """One call to an agent for one attempt of one step.

    ``idempotency_key`` is stable across retries of the same step in the same
    run (and, once runs are resumable, across resume), so a provider can
    deduplicate side effects. ``deadline`` is the attempt's deadline on the trio
    clock (``trio.current_time()``), or ``None``; the kernel enforces it with a
    cancel scope, agents may use it to pass a timeout on to their provider.

    ``output_dir`` is where the step may write files: a folder of its own
    inside the run's output folder (``--out``), not created until the agent
    creates it; None when the caller gave the run no output folder. Never
    write over a step's inputs. Call :meth:`report_progress` to show progress
    (tokens streamed so far, a file being processed) in the live display.
    """

    run_id: str
    step_id: str
    task_type: str
    inputs: Mapping[str, Any]
    attempt: int
    idempotency_key: str
    priority: int = 0
    deadline: float | None = None
    output_dir: Path | None = None
    progress: Callable[[str, int | None], None] | None = attrs.field(
        default=None, eq=False, repr=False
    )

    delegate: Callable[..., Awaitable[AgentResult]] | None = attrs.field(
        default=None, eq=False, repr=False
    )

    def report_progress(self, message: str = "", *, tokens: int | None = None) -> None:
        """Show progress of this call in the live display (cheap; the kernel throttles it)."""
        if self.progress is not None:
            self.progress(message, tokens)

    async def ask(
        self, agent: str, inputs: Mapping[str, Any], *, task_type: str | None = None
    ) -> AgentResult:
        """Ask another agent of the run for help with this call (an LLM to summarise, say).

        The kernel makes the call on ``agent`` for this step: its budget and
        circuit breaker apply, it shows in the step's events, and its cost is
        the step's. Raises the agent's :class:`~cadenza.AgentError` if it fails,
        :class:`~cadenza.PermanentError` if the run has no such agent.
        """
        if self.delegate is None:
            from .._errors import PermanentError

            raise PermanentError(
                f"cannot ask agent {agent!r}: this request was not made by a run",
                step_id=self.step_id,
            )
        return await self.delegate(agent, inputs, task_type=task_type)


@attrs.frozen(kw_only=True)
class AgentResult:
    """What an agent produced.

    ``output`` must be JSON-serialisable (it is journaled and referenced by other
    steps as ``steps.<id>.output``). ``degraded`` is true when the output is not
    the real thing (a fallback's template, a cached stand-in); ``source`` then
    says where it came from.
    """

    output: Any
    confidence: float | None = None
    usage: Usage = Usage()
    cost_usd: float | None = None
    degraded: bool = False
    source: str = ""


@runtime_checkable
class Agent(Protocol):
    """The interface every agent kind implements.

    ``run`` raises :class:`~cadenza.RetryableError` or
    :class:`~cadenza.PermanentError` (or their subclasses) on failure; any other
    exception is treated as a bug in the agent and fails the step without retry.
    """

    name: str
    capabilities: frozenset[str]

    async def run(self, request: AgentRequest) -> AgentResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class SupportsHealth(Protocol):
    """Agents that can report health implement ``health()``; True means healthy."""

    async def health(self) -> bool: ...


AgentFactory = Callable[[AgentConfig], Agent]
"""Builds an agent from its configuration; registered per kind."""
