"""Fail ``import cadenza.testing`` with the extra to install when a dependency is missing.

``cadenza.testing`` imports this first: pytest and h11 come with the ``testing``
extra, not with Cadenza itself, and a bare ``ImportError: No module named 'h11'``
would not say how to get them.
"""

from __future__ import annotations

import importlib

INSTALL = "pip install 'cadenza[testing]'"

for _dependency in ("pytest", "h11"):  # what the modules of cadenza.testing import
    try:
        importlib.import_module(_dependency)
    except ImportError as _exc:
        raise ImportError(
            f"cadenza.testing needs {_dependency}, which comes with the 'testing' extra: {INSTALL}",
            name=_dependency,
        ) from _exc
