"""Run journals: the Store protocol, its records and batches, the SQLite store.

A plugin store implements :class:`Store` (see docs/hooks.md) and proves it with
:class:`cadenza.testing.StoreConformance`; :class:`SqliteStore` is the built-in
one (see docs/durability.md).
"""

from __future__ import annotations

from ._errors import LeaseLostError as LeaseLostError
from ._errors import StoreError as StoreError
from ._errors import StoreFullError as StoreFullError
from ._errors import StoreReadOnlyError as StoreReadOnlyError
from ._errors import UnknownRunError as UnknownRunError
from ._journal._queue import Fence as Fence
from ._journal._queue import QueuedRun as QueuedRun
from ._journal._queue import QueueEntry as QueueEntry
from ._journal._queue import SupportsRunQueue as SupportsRunQueue
from ._journal._queue import WorkerInfo as WorkerInfo
from ._journal._sqlite import SqliteStore as SqliteStore
from ._journal._store import SCHEMA_VERSION as SCHEMA_VERSION
from ._journal._store import ApprovalDecision as ApprovalDecision
from ._journal._store import CacheEntry as CacheEntry
from ._journal._store import RunRecord as RunRecord
from ._journal._store import Store as Store
from ._journal._store import SupportsApprovals as SupportsApprovals
from ._journal._store import WriteBatch as WriteBatch
from ._journal._store import open_store as open_store
from ._public import publish as _publish

__all__ = [
    "SCHEMA_VERSION",
    "ApprovalDecision",
    "CacheEntry",
    "Fence",
    "LeaseLostError",
    "QueueEntry",
    "QueuedRun",
    "RunRecord",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreFullError",
    "StoreReadOnlyError",
    "SupportsApprovals",
    "SupportsRunQueue",
    "UnknownRunError",
    "WorkerInfo",
    "WriteBatch",
    "open_store",
]


_publish(globals(), __all__, __name__)
