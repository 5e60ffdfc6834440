"""Public namespaces name themselves: re-exported objects report the public module path."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any


def publish(namespace: Mapping[str, Any], names: Iterable[str], module: str) -> None:
    """Set ``__module__`` of each class and function in ``names`` to ``module``.

    So reprs, tracebacks and docs say ``cadenza.store.SqliteStore`` rather than
    the private module the object lives in. Functions wrapped by a decorator
    (``functools.lru_cache``) count as functions; other objects are left alone.
    """
    for name in names:
        obj = namespace[name]
        if isinstance(obj, type) or inspect.isfunction(obj) or hasattr(obj, "__wrapped__"):
            obj.__module__ = module
