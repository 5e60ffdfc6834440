"""Step output caching across runs (``cache:`` on a step), kept in the journal store.

A cache key is a SHA-256 over the agent kind, the agent's options without
their credential fields (``api_key``, ``headers``, ``token``, ``password``,
``secret``: rotating a key must not invalidate the cache, and a credential is
never hashed into something stored), the step's ``uses`` and its resolved
inputs. Other options count with their values, including values that came
from ``${ENV}`` (a model name from the environment is part of the work's
identity). Lookups run in a worker thread, like every store call.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import trio

from .._journal._store import CacheEntry, Store
from .._spec._convert import converter
from .._spec._workflow import AgentConfig, CachePolicy, Step

_SECRET_OPTION_NAMES = frozenset({"api_key", "headers", "token", "password", "secret"})
_KEY_VERSION = 1


def _options_data(config: AgentConfig) -> Any:
    options = config.options
    data = options if isinstance(options, Mapping) else converter.unstructure(options)
    if isinstance(data, Mapping):
        data = {k: v for k, v in data.items() if k not in _SECRET_OPTION_NAMES}
    return data


def cache_key(config: AgentConfig, step: Step, inputs: Mapping[str, Any]) -> str:
    """The key under which ``step``'s output for ``inputs`` from this agent is cached."""
    material = {
        "v": _KEY_VERSION,
        "kind": config.kind,
        "options": _options_data(config),
        "uses": step.uses,
        "inputs": inputs,
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def panel_cache_key(configs: Sequence[AgentConfig], step: Step, inputs: Mapping[str, Any]) -> str:
    """The key of a multi-agent step's combined output: every agent it may ask, and how."""
    material = {
        "v": _KEY_VERSION,
        "agents": [{"kind": c.kind, "options": _options_data(c)} for c in configs],
        "fan_out": step.fan_out,
        "aggregate": [step.aggregate.name, step.aggregate.options],
        "on_conflict": [step.on_conflict, step.judge],
        "uses": step.uses,
        "inputs": inputs,
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.define(eq=False)
class StepCache:
    """Looks up and remembers step outputs in a store."""

    store: Store
    limiter: trio.CapacityLimiter

    async def lookup(self, key: str) -> CacheEntry | None:
        return await trio.to_thread.run_sync(
            lambda: self.store.get_cache(key, now=time.time()), limiter=self.limiter
        )

    @staticmethod
    def entry(
        key: str, output: Any, policy: CachePolicy, *, run_id: str, step_id: str
    ) -> CacheEntry:
        now = time.time()
        return CacheEntry(
            key=key,
            output=output,
            created_at=now,
            expires_at=None if policy.ttl is None else now + policy.ttl,
            run_id=run_id,
            step_id=step_id,
        )
