"""Fallback strategies: what a step may produce, marked degraded, when its agents failed.

A strategy is registered by name through ``cadenza_fallbacks``; its factory
takes the entry's options (the mapping in ``fallback: [{strategy: NAME, ...}]``)
and returns an object with ``async run(request, *, context) -> AgentResult``.
The scheduler marks every fallback result degraded with its source, whatever
the strategy returns, so a fallback can never pass for the real thing.

Built-ins:

- ``template``: a deterministic output from the step's inputs (``output:``
  as for the ``template`` agent kind).
- ``cached``: the last good output of this step's ``uses`` for the same
  inputs, kept in the journal (needs a journaled run).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any, Protocol

import attrs
import trio

from .._agents._contract import AgentRequest, AgentResult
from .._agents._template import TemplateAgent, TemplateOptions
from .._errors import PermanentError
from .._journal._store import Store
from .._spec._workflow import AgentConfig, Step


@attrs.frozen(kw_only=True)
class FallbackContext:
    """What a fallback knows: the step, why its agents failed, and the journal store."""

    step: Step
    error: str
    store: Store | None = None


class Fallback(Protocol):
    """A fallback strategy, built by the factory registered with ``cadenza_fallbacks``."""

    async def run(self, request: AgentRequest, *, context: FallbackContext) -> AgentResult: ...


def fallback_key(step: Step, inputs: Mapping[str, Any]) -> str:
    """Where the ``cached`` strategy finds the last good output of ``uses`` for ``inputs``."""
    text = json.dumps(
        {"fallback": 1, "uses": step.uses, "inputs": inputs},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "fallback-" + hashlib.sha256(text.encode()).hexdigest()


@attrs.define(eq=False)
class TemplateFallback:
    """Renders ``output`` with the step's inputs (``{name}`` placeholders)."""

    agent: TemplateAgent

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> TemplateFallback:
        unknown = set(options) - {"output"}
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(sorted(unknown))} for the template fallback; "
                "it takes output:"
            )
        config = AgentConfig(
            name="fallback", kind="template", options=TemplateOptions(output=options.get("output"))
        )
        return cls(agent=TemplateAgent.from_config(config))

    async def run(self, request: AgentRequest, *, context: FallbackContext) -> AgentResult:
        return await self.agent.run(request)


@attrs.define(eq=False)
class CachedFallback:
    """Serves the last good output for the same ``uses`` and inputs from the journal."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CachedFallback:
        if options:
            raise ValueError("the cached fallback takes no options")
        return cls()

    async def run(self, request: AgentRequest, *, context: FallbackContext) -> AgentResult:
        store = context.store
        if store is None:
            raise PermanentError("no journal, so no earlier output to fall back on")
        key = fallback_key(context.step, request.inputs)
        entry = await trio.to_thread.run_sync(lambda: store.get_cache(key, now=time.time()))
        if entry is None:
            raise PermanentError("no earlier good output for these inputs in the journal")
        return AgentResult(output=entry.output, source=f"cached output of run {entry.run_id}")
