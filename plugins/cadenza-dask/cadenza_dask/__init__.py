"""cadenza-dask: the ``dask`` executor, agent work as tasks on a dask.distributed cluster.

Registered through ``cadenza_executors``: a workflow declares
``executors: {cluster: {kind: dask, options: {address: "tcp://host:8786"}}}``
(or no address, for a LocalCluster started for the run) and its agents choose
it with ``executor: cluster``. See README.md for the options and what dask
guarantees on cancellation and worker loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cadenza

from ._executor import DaskExecutor
from ._options import DaskOptions

__version__ = "0.1.0"

CADENZA_HOOK_API = ">=1.0,<2"


@cadenza.hookimpl
def cadenza_executors(register: Callable[..., Any]) -> None:
    """Register the ``dask`` executor kind."""
    register("dask", DaskExecutor.from_options)


DaskExecutor.__module__ = __name__
DaskOptions.__module__ = __name__

__all__ = [
    "CADENZA_HOOK_API",
    "DaskExecutor",
    "DaskOptions",
    "__version__",
    "cadenza_executors",
]
