"""The kernel's own plugin: its agent kinds, store and strategies, registered as plugins do.

Routers, aggregators, validators and fallbacks are registered by name without
importing their modules (:class:`LazyFactory`): a workflow that uses none of
them, as most do, never imports them (ten modules and their attrs classes,
~30 ms of every ``cadenza run``). Their names are in ``_strategies._builtin_names``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .._agents._http import HttpAgent, HttpOptions
from .._agents._python import PythonAgent, PythonOptions
from .._agents._template import TemplateAgent, TemplateOptions
from .._executors._local import LocalExecutor
from .._executors._process import ProcessExecutor
from .._journal._sqlite import SqliteStore
from .._strategies._builtin_names import AGGREGATORS, FALLBACKS, ROUTERS, VALIDATORS
from ..hookspecs import Register, RegisterAgentKind, hookimpl

CADENZA_HOOK_API = ">=1.0,<2"


class LazyFactory:
    """A built-in strategy factory that imports its module when first called.

    ``LazyFactory("_aggregators", "BUILTIN_AGGREGATORS", "merge")`` stands for
    ``BUILTIN_AGGREGATORS["merge"]`` of ``cadenza._strategies._aggregators``;
    with ``table=None``, ``name`` is a class there and its ``from_options`` the
    factory. Its repr (what messages about a factory show) names the real one.
    """

    __slots__ = ("_factory", "_module", "_name", "_table")

    def __init__(self, module: str, table: str | None, name: str) -> None:
        self._module = f"cadenza._strategies.{module}"
        self._table = table
        self._name = name
        self._factory: Any = None

    def resolve(self) -> Any:
        """The real factory (imported now if it was not)."""
        if self._factory is None:
            module = importlib.import_module(self._module)
            if self._table is None:
                self._factory = getattr(module, self._name).from_options
            else:
                self._factory = getattr(module, self._table)[self._name]
        return self._factory

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        where = f"{self._table}[{self._name!r}]" if self._table else f"{self._name}.from_options"
        return f"<lazy {self._module}.{where}>"


@hookimpl
def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
    register("http", HttpAgent.from_config, options=HttpOptions)
    register("python", PythonAgent.from_config, options=PythonOptions)
    register("template", TemplateAgent.from_config, options=TemplateOptions)


@hookimpl
def cadenza_stores(register: Register) -> None:
    register("sqlite", SqliteStore)


@hookimpl
def cadenza_executors(register: Register) -> None:
    register("local", LocalExecutor.from_options)
    register("process", ProcessExecutor.from_options)


@hookimpl
def cadenza_fallbacks(register: Register) -> None:
    for name, cls in FALLBACKS.items():
        register(name, LazyFactory("_fallbacks", None, cls))


@hookimpl
def cadenza_routers(register: Register) -> None:
    for name in ROUTERS:
        register(name, LazyFactory("_routers", "BUILTIN_ROUTERS", name))


@hookimpl
def cadenza_aggregators(register: Register) -> None:
    for name in AGGREGATORS:
        register(name, LazyFactory("_aggregators", "BUILTIN_AGGREGATORS", name))


@hookimpl
def cadenza_validators(register: Register) -> None:
    for name in VALIDATORS:
        register(name, LazyFactory("_validators", "BUILTIN_VALIDATORS", name))
