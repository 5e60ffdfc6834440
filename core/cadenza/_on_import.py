"""Run a function once a module has been imported, without importing it.

Some set-up belongs with a heavy library that a command may never need: the
CLI's structlog configuration (structlog and the rich tracebacks it loads), the
KeyboardInterrupt protection of the functions that call plugin code (trio).
:func:`when_imported` runs such set-up now if the library is already imported,
else right after whoever imports it first has finished executing it, so
``cadenza validate`` of a plain file starts without either library and every
user of them still finds the set-up done.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable, Sequence

__all__ = ["when_imported"]

_WAITING: dict[str, list[Callable[[], None]]] = {}
"""Module name -> what to run once it is imported (a finder waits in ``sys.meta_path``)."""


def when_imported(name: str, fn: Callable[[], None]) -> None:
    """Call ``fn()`` once the top-level module ``name`` is imported: now, if it is."""
    if name in sys.modules:
        fn()
        return
    if name not in _WAITING:
        _WAITING[name] = []
        sys.meta_path.insert(0, _Finder(name))
    _WAITING[name].append(fn)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``name`` through the other finders and wraps its loader; then steps aside."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenRun(spec.loader, fullname)
        else:  # nothing to import: nobody will use it, nothing to set up
            _WAITING.pop(fullname, None)
        return spec


class _ThenRun(importlib.abc.Loader):
    """A loader that executes the module as its own loader does, then runs what waits."""

    def __init__(self, loader: importlib.abc.Loader, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        try:
            self._loader.exec_module(module)
        except BaseException:  # not imported after all: wait for the next attempt
            sys.meta_path.insert(0, _Finder(self._name))
            raise
        for fn in _WAITING.pop(self._name, []):
            fn()
