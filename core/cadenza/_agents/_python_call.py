"""How a ``python`` agent's function is called in another process: by its import path.

The ``process`` executor (and cluster executors) pickle what they run; sending
``call_function`` with the ``module:attribute`` text instead of the function
object means any function the agent can import, the worker can too, with the
agent's ``search_path`` put on the worker's ``sys.path`` first. Imported
modules stay cached in the worker for its next calls. Kept import-light: it
runs in freshly started workers.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Any


def call_function(
    function: str, search_dir: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Import ``function`` (``module:attr.path``) and call it with ``args`` and ``kwargs``."""
    if search_dir is not None and search_dir not in sys.path:
        sys.path.insert(0, search_dir)
    module_name, _, attr_path = function.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    value = obj(*args, **kwargs)
    if inspect.isawaitable(value):
        if hasattr(value, "close"):
            value.close()
        raise TypeError(
            f"{function} returned an awaitable, which cannot leave the worker process; "
            f"use executor: local for async functions"
        )
    return value
