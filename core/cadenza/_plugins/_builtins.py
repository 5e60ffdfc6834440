"""The kernel's own plugin: its agent kinds, store and strategies, registered as plugins do."""

from __future__ import annotations

from .._agents._http import HttpAgent, HttpOptions
from .._agents._python import PythonAgent, PythonOptions
from .._agents._template import TemplateAgent, TemplateOptions
from .._journal._sqlite import SqliteStore
from .._strategies._aggregators import BUILTIN_AGGREGATORS
from .._strategies._fallbacks import CachedFallback, TemplateFallback
from .._strategies._routers import BUILTIN_ROUTERS
from .._strategies._validators import BUILTIN_VALIDATORS
from ..hookspecs import Register, RegisterAgentKind, hookimpl

CADENZA_HOOK_API = ">=1.0,<2"


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
    register("template", TemplateFallback.from_options)
    register("cached", CachedFallback.from_options)


@hookimpl
def cadenza_routers(register: Register) -> None:
    for name, factory in BUILTIN_ROUTERS.items():
        register(name, factory)


@hookimpl
def cadenza_aggregators(register: Register) -> None:
    for name, factory in BUILTIN_AGGREGATORS.items():
        register(name, factory)


@hookimpl
def cadenza_validators(register: Register) -> None:
    for name, factory in BUILTIN_VALIDATORS.items():
        register(name, factory)
