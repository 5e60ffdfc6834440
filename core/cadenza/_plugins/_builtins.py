"""The kernel's own plugin: its agent kinds, store and strategies, registered as plugins do.

Aggregators, validators and fallbacks are registered by name without importing
their modules (:class:`LazyFactory`): a workflow that uses none of them, as most
do, never imports them (with their attrs classes, ~20 ms of every ``cadenza
run``). The names are listed here; a test checks they are the modules' own.
"""

from __future__ import annotations

import importlib
from typing import Any

from .._agents._http import HttpAgent, HttpOptions
from .._agents._python import PythonAgent, PythonOptions
from .._agents._template import TemplateAgent, TemplateOptions
from .._journal._sqlite import SqliteStore
from .._strategies._routers import BUILTIN_ROUTERS
from ..hookspecs import Register, RegisterAgentKind, hookimpl

CADENZA_HOOK_API = ">=1.0,<2"

LAZY_AGGREGATORS = (
    "first_success",
    "hedged",
    "majority_vote",
    "weighted_vote",
    "highest_confidence",
    "merge",
    "consensus",
)
"""The names in ``_strategies._aggregators.BUILTIN_AGGREGATORS``, in its order."""

LAZY_VALIDATORS = ("json_schema", "required_keys", "python_parses")
"""The names in ``_strategies._validators.BUILTIN_VALIDATORS``, in its order."""

LAZY_FALLBACKS = {"template": "TemplateFallback", "cached": "CachedFallback"}
"""Fallback name -> its class in ``_strategies._fallbacks`` (built by ``from_options``)."""


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
def cadenza_fallbacks(register: Register) -> None:
    for name, cls in LAZY_FALLBACKS.items():
        register(name, LazyFactory("_fallbacks", None, cls))


@hookimpl
def cadenza_routers(register: Register) -> None:
    # Eager: the loader imports the routers anyway (_load._strategies), and a run calls them.
    for name, factory in BUILTIN_ROUTERS.items():
        register(name, factory)


@hookimpl
def cadenza_aggregators(register: Register) -> None:
    for name in LAZY_AGGREGATORS:
        register(name, LazyFactory("_aggregators", "BUILTIN_AGGREGATORS", name))


@hookimpl
def cadenza_validators(register: Register) -> None:
    for name in LAZY_VALIDATORS:
        register(name, LazyFactory("_validators", "BUILTIN_VALIDATORS", name))
