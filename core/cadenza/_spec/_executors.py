"""What a workflow says about executors: its ``executors:`` entries and the built-in names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._problems import SourceLocation

BUILTIN_EXECUTORS = ("local", "process")
"""Executor names every workflow has without declaring them; each is the kind of that name."""

DEFAULT_EXECUTOR = "local"
"""The executor of an agent without ``executor:``."""


@attrs.frozen(kw_only=True)
class ExecutorSpec:
    """One entry of ``executors:``: a name for an executor ``kind`` with its ``options``.

    ``kind`` is what a plugin registered through ``cadenza_executors``
    (``local``, ``process`` built in; ``dask`` from cadenza-dask). ``options``
    were checked by the kind's factory when the file loaded; ``secrets`` are the
    values expanded into them from ``${NAME}`` (a cluster address with a
    password), redacted wherever the run writes.
    """

    name: str
    kind: str
    options: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    secrets: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    location: SourceLocation | None = attrs.field(default=None, eq=False)


def executor_spec(declared: Mapping[str, ExecutorSpec], name: str) -> ExecutorSpec | None:
    """The spec for ``name``: the declared one, else a built-in's defaults, else None."""
    if name in declared:
        return declared[name]
    if name in BUILTIN_EXECUTORS:
        return ExecutorSpec(name=name, kind=name)
    return None
