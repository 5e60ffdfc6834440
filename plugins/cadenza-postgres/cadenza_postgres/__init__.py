"""cadenza-postgres: the run journal in PostgreSQL, for ``--store postgresql://...`` URLs.

Several processes and hosts can share one journal: each writes its runs'
events in one transaction per batch, durable before the step's dependants
start, exactly as the SQLite store promises on one machine. See README.md for
the URL forms, the tables it creates and how its tests start a server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cadenza

from ._schema import SCHEMA_VERSION
from ._store import PostgresStore
from ._url import SCHEMES, redact

__version__ = "0.1.0"

CADENZA_HOOK_API = ">=1.0,<2"


@cadenza.hookimpl
def cadenza_stores(register: Callable[..., Any]) -> None:
    """Register the store for ``postgresql://`` and ``postgres://`` URLs."""
    for scheme in SCHEMES:
        register(scheme, PostgresStore)


PostgresStore.__module__ = __name__

__all__ = [
    "CADENZA_HOOK_API",
    "SCHEMA_VERSION",
    "PostgresStore",
    "__version__",
    "cadenza_stores",
    "redact",
]
