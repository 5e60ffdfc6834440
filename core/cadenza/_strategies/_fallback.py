"""The fallback contract: what a step may produce, marked degraded, when its agents failed.

A strategy is registered by name through ``cadenza_fallbacks``; its factory
takes the entry's options (the mapping in ``fallback: [{strategy: NAME, ...}]``)
and returns an object with ``async run(request, *, context) -> AgentResult``.
The scheduler marks every fallback result degraded with its source, whatever
the strategy returns, so a fallback can never pass for the real thing. The
built-in strategies are in :mod:`cadenza._strategies._fallbacks`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from .._agents._contract import AgentRequest, AgentResult
from .._journal._store import Store
from .._spec._workflow import Step


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
