"""What both formats share about agents: the agents a file declares and their options.

The native ``agents:`` mapping and the seed ``agents:`` list read differently
but end the same way: each agent's options are structured into its kind's
options class, an unknown kind gets the same hint, and the file's agents are
collected with what each serves, so the cross-step checks can tell whether a
step's ``uses:`` is served even when an agent itself was invalid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._paths import ValuePath
from .._spec._convert import structure, suggest
from .._spec._workflow import AgentConfig
from ._context import LoadContext, listing

__all__ = ["LoadedAgents", "agent_options", "report_unknown_kind"]


@attrs.define
class LoadedAgents:
    """The agents of a file, plus what each serves (recorded even for invalid agents)."""

    configs: dict[str, AgentConfig] = attrs.field(factory=dict)
    serves: dict[str, set[str]] = attrs.field(factory=dict)
    kind_executors: set[str] = attrs.field(factory=set)
    """Agents without ``executor:`` whose kind chose their executor (``default_executor``)."""

    def capabilities(self) -> set[str]:
        """Every capability some agent of the file serves."""
        out: set[str] = set()
        for caps in self.serves.values():
            out |= caps
        return out


def agent_options(
    ctx: LoadContext,
    *,
    kind: str,
    data: Any,
    path: ValuePath,
    rename: Mapping[str, ValuePath] | None = None,
) -> Any:
    """Structure ``data`` into ``kind``'s options class; report issues at their paths."""
    reg = ctx.plugins.agent_kinds.get(kind)
    if reg is None:
        return None
    if data is None:
        data = {}
    if reg.options is None:
        return dict(data) if ctx.mapping(data, path, "options") is not None else None
    obj, issues = structure(data, reg.options)
    for issue in issues:
        where = path + issue.path
        if rename and issue.path and isinstance(issue.path[0], str) and issue.path[0] in rename:
            where = rename[issue.path[0]] + issue.path[1:]
        ctx.error(where, issue.message, issue.hint, key=issue.at_key)
    return obj


def report_unknown_kind(ctx: LoadContext, kind: str, path: ValuePath) -> None:
    """Report a ``kind`` no plugin registered, with the known kinds and where to get it."""
    known = list(ctx.plugins.agent_kinds)
    hint = suggest(kind, known)
    hint += f"Known kinds: {listing(known)}." if known else "No agent kinds are registered."
    if missing := ctx.plugins.not_loaded("cadenza_agent_kinds", kind):
        hint += " " + missing
    ctx.error(path, f"unknown agent kind {kind!r}", hint)
