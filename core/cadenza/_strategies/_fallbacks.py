"""The built-in fallback strategies (the contract is :mod:`cadenza._strategies._fallback`).

- ``template``: a deterministic output from the step's inputs (``output:``
  as for the ``template`` agent kind).
- ``cached``: the last good output of this step's ``uses`` for the same
  inputs, kept in the journal (needs a journaled run).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs

from .._agents._contract import AgentRequest, AgentResult
from .._agents._template import TemplateAgent, TemplateOptions
from .._errors import PermanentError
from .._spec._workflow import AgentConfig
from ._fallback import FallbackContext, fallback_key


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
        import trio  # here, not at import: registering fallbacks needs no trio

        entry = await trio.to_thread.run_sync(lambda: store.get_cache(key, now=time.time()))
        if entry is None:
            raise PermanentError("no earlier good output for these inputs in the journal")
        return AgentResult(output=entry.output, source=f"cached output of run {entry.run_id}")
