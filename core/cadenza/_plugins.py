"""The plugin registry: what the loaded plugins registered, and how to get one.

Loading is explicit: :func:`load_plugins` builds a fresh pluggy manager, adds
the kernel's built-ins (they register through the same hooks as any plugin),
finds installed plugins through the ``cadenza`` entry-point group, and then
calls every registration hook once, recording what each plugin offered in a
:class:`Plugins`. That registry, its :class:`Registration` and
:class:`PluginInfo` records and the way hooks are called at run time
(:meth:`Plugins.emit`, hook tracing) are what the rest of the kernel uses, so
they live here.

How loading works (discovery, per-plugin isolation, ``CADENZA_LOAD_PLUGINS``,
duplicate names) is in :mod:`cadenza._plugin_loading`; what a plugin must
satisfy to load (the hook API fence, hook implementation rules) is in
:mod:`cadenza._plugin_checks`. :func:`load_plugins` imports the loader when
called, since the loader builds the classes defined here.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal

import attrs
import pluggy
import structlog

from . import hookspecs
from ._events import Event

log = structlog.get_logger()

BUILTIN = "cadenza (built-in)"
"""The name (and label) of the kernel's own plugin, ``cadenza._builtins``."""

ENTRY_POINT_GROUP = "cadenza"
"""Installed plugins are found through this entry-point group."""

HOOK_API_ATTRIBUTE = "CADENZA_HOOK_API"
"""The module attribute in which a plugin declares the hook API versions it supports."""

LOAD_PLUGINS_ENV = "CADENZA_LOAD_PLUGINS"
"""Comma-separated entry-point names to load; empty loads none; unset loads all."""

TRACE_HOOKS_ENV = "CADENZA_TRACE_HOOKS"
"""Set to ``1`` to log every hook call at debug level."""

REGISTRATION_HOOKS = (
    "cadenza_agent_kinds",
    "cadenza_routers",
    "cadenza_aggregators",
    "cadenza_fallbacks",
    "cadenza_validators",
    "cadenza_stores",
    "cadenza_executors",
    "cadenza_commands",
)

OBSERVER_HOOK = "cadenza_on_event"

PluginStatus = Literal["loaded", "failed", "refused", "disabled"]


@attrs.frozen(kw_only=True)
class Registration:
    """One named thing a plugin registered through a registration hook."""

    hook: str
    name: str
    obj: Any
    plugin: str
    options: type[Any] | None = None
    capabilities: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class PluginInfo:
    """What loading one plugin did, as ``cadenza plugins`` shows it.

    ``name`` is the entry-point name (``"cadenza (built-in)"`` for the kernel's
    own plugin), ``value`` the entry point's target (``module`` or
    ``module:object``). ``hooks`` are the kernel hooks the plugin implements
    and ``registrations`` the ``(hook, name)`` pairs it registered; both are
    empty unless it ``"loaded"``. ``error`` says why it ``"failed"`` or was
    ``"refused"``.
    """

    name: str
    status: PluginStatus
    distribution: str = ""
    version: str = ""
    value: str = ""
    hooks: tuple[str, ...] = ()
    registrations: tuple[tuple[str, str], ...] = ()
    error: str | None = None

    @property
    def label(self) -> str:
        """``"<distribution> <version>"`` (how messages name the plugin), else its name."""
        return plugin_label(self.name, self.distribution, self.version)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data (what ``cadenza plugins --json`` prints)."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.value,
            "status": self.status,
            "hooks": list(self.hooks),
            "registrations": [{"hook": hook, "name": name} for hook, name in self.registrations],
            "error": self.error,
        }


@attrs.define(eq=False)
class Plugins:
    """The loaded plugins and everything they registered, per hook, by name."""

    pm: pluggy.PluginManager
    registrations: dict[str, dict[str, Registration]] = attrs.field(factory=dict)
    infos: list[PluginInfo] = attrs.field(factory=list)
    """One record per plugin considered, in load order, the built-in plugin first."""
    labels: dict[str, str] = attrs.field(factory=dict)
    """Label (``"<distribution> <version>"``) of each registered plugin, by pluggy name."""
    trace: bool = False
    """Whether hook calls are logged (``CADENZA_TRACE_HOOKS=1``)."""
    _failed_observers: set[int] = attrs.field(factory=set, init=False)

    @property
    def agent_kinds(self) -> Mapping[str, Registration]:
        return self.registrations.get("cadenza_agent_kinds", {})

    def registered(self, hook: str) -> Mapping[str, Registration]:
        """Registrations made through ``hook`` (e.g. ``"cadenza_routers"``), by name."""
        return self.registrations.get(hook, {})

    @property
    def known_capabilities(self) -> frozenset[str]:
        out: set[str] = set()
        for reg in self.agent_kinds.values():
            out |= reg.capabilities
        return frozenset(out)

    def label_of(self, plugin_name: str) -> str:
        """How messages name the plugin pluggy knows as ``plugin_name``."""
        return self.labels.get(plugin_name, plugin_name)

    def observers(self) -> list[tuple[str, Callable[[Event], None]]]:
        """Every ``cadenza_on_event`` implementation as ``(plugin label, observer)``.

        In pluggy's call order (last registered first, honouring
        ``tryfirst``/``trylast``). The callables log their calls when hook
        tracing is on. Callers own error handling: see :meth:`emit`.
        """
        out: list[tuple[str, Callable[[Event], None]]] = []
        for impl in reversed(self.pm.hook.cadenza_on_event.get_hookimpls()):
            label = self.label_of(impl.plugin_name)
            out.append((label, _observer(impl, label, trace=self.trace)))
        return out

    def emit(self, event: Event) -> None:
        """Hand ``event`` to every ``cadenza_on_event`` observer.

        An observer that raises is logged once (``observer_failed``) and not
        called again by this ``Plugins``; the other observers still get the event.
        """
        for impl in reversed(self.pm.hook.cadenza_on_event.get_hookimpls()):
            if id(impl) in self._failed_observers:
                continue
            label = self.label_of(impl.plugin_name)
            try:
                call_impl(impl, OBSERVER_HOOK, label, {"event": event}, trace=self.trace)
            except Exception:
                self._failed_observers.add(id(impl))
                log.exception(
                    "observer_failed", plugin=label, event_kind=event.kind, run_id=event.run_id
                )


def new_plugin_manager() -> pluggy.PluginManager:
    """A pluggy manager for project ``cadenza`` that knows the kernel's hookspecs (no plugins)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def load_plugins(
    *,
    only: Collection[str] | None = None,
    entry_points: bool = True,
    extra: Sequence[object] = (),
    builtins: bool = True,
) -> Plugins:
    """Load plugins and collect everything they register.

    ``only`` names the entry points to load (the built-ins always load); when
    ``None`` it comes from ``CADENZA_LOAD_PLUGINS`` (comma list; empty string
    loads none; unset loads all). ``entry_points=False`` skips discovery of
    installed plugins. ``extra`` plugin objects (modules, classes, instances
    with ``@cadenza.hookimpl`` functions) load after the installed ones and go
    through the same checks, except that declaring ``CADENZA_HOOK_API`` is
    optional for them. ``builtins=False`` leaves out the kernel's own plugin
    (for tests that need a manager with nothing else in it).

    Plugin problems are recorded in :attr:`Plugins.infos`, not raised; a
    duplicate registered name raises
    :class:`~cadenza.DuplicateRegistrationError` naming both plugins.
    """
    from ._plugin_loading import Loader

    only_source = "only="
    if only is None:
        only = _only_from_env()
        only_source = LOAD_PLUGINS_ENV
    trace = _env_flag(TRACE_HOOKS_ENV)
    pm = new_plugin_manager()
    if trace:
        _enable_pluggy_tracing(pm)
    loader = Loader(pm=pm, trace=trace)
    if builtins:
        loader.add_builtins()
    if entry_points:
        loader.discover(only=only, only_source=only_source)
    for plugin in extra:
        loader.add_extra(plugin)
    return loader.finish()


# -- naming ---------------------------------------------------------------------


def plugin_label(name: str, distribution: str, version: str) -> str:
    """How messages name a plugin: ``"<distribution> <version>"``, else its ``name``."""
    if distribution:
        return f"{distribution} {version}".strip()
    return name


def object_label(plugin: object) -> str:
    """How messages name a plugin object that no distribution ships (``extra=``)."""
    if inspect.ismodule(plugin):
        return plugin.__name__
    if isinstance(plugin, type):
        return f"{plugin.__module__}.{plugin.__qualname__}"
    cls = type(plugin)
    return f"{cls.__module__}.{cls.__qualname__} instance"


# -- calling and tracing -------------------------------------------------------


def call_impl(
    impl: pluggy.HookImpl,
    hook_name: str,
    label: str,
    kwargs: Mapping[str, object],
    *,
    trace: bool,
) -> object:
    """Call one hook implementation, passing only the arguments it names."""
    args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
    if not trace:
        return impl.function(**args)
    log.debug("hook_called", hook=hook_name, plugin=label, kwargs=args)
    try:
        result = impl.function(**args)
    except Exception as exc:
        log.debug("hook_raised", hook=hook_name, plugin=label, error=f"{type(exc).__name__}: {exc}")
        raise
    log.debug("hook_returned", hook=hook_name, plugin=label, result=result)
    return result


def _observer(impl: pluggy.HookImpl, label: str, *, trace: bool) -> Callable[[Event], None]:
    def observe(event: Event) -> None:
        call_impl(impl, OBSERVER_HOOK, label, {"event": event}, trace=trace)

    return observe


def _enable_pluggy_tracing(pm: pluggy.PluginManager) -> None:
    """Send pluggy's own trace of ``pm.hook.*`` calls to structlog at debug level."""

    def write(message: str) -> None:
        log.debug("hook_trace", message=message.rstrip())

    pm.trace.root.setwriter(write)
    pm.enable_tracing()


# -- environment --------------------------------------------------------------


def _only_from_env() -> frozenset[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
