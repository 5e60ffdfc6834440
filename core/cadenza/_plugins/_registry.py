"""The plugin registry: what the loaded plugins registered, and how to get one.

Loading is explicit: :func:`load_plugins` builds a fresh pluggy manager, adds
the kernel's built-ins (they register through the same hooks as any plugin),
finds installed plugins through the ``cadenza`` entry-point group, and then
calls every registration hook once, recording what each plugin offered in a
:class:`Plugins`. That registry, its :class:`Registration` and
:class:`PluginInfo` records and the way hooks are called at run time
(:meth:`Plugins.emit`, hook tracing) are what the rest of the kernel uses, so
they live here.

Plugin code is called only through :func:`call_plugin` and
:func:`call_plugin_async`, which turn a plugin's attempt to end the process
(``sys.exit()``, a ``KeyboardInterrupt`` it raises itself) into a
:class:`PluginExitError`, an ordinary exception every caller already handles:
the plugin is reported failed and the command or run goes on. trio's own
cancellation passes through untouched, and so does a real Ctrl-C (see
:func:`call_plugin`).

How loading works (discovery, per-plugin isolation, ``CADENZA_LOAD_PLUGINS``,
duplicate names) is in :mod:`cadenza._plugins._loading`; what a plugin must
satisfy to load (the hook API fence, hook implementation rules) is in
:mod:`cadenza._plugins._checks`. :func:`load_plugins` imports the loader when
called, since the loader builds the classes defined here.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

import attrs
import pluggy

from .. import hookspecs
from .._errors import PluginExitError
from .._logging import get_logger
from .._on_import import when_imported

if TYPE_CHECKING:  # the journal's bus is imported when an observer fails, not before
    from .._events import Event

log = get_logger()

BUILTIN = "cadenza (built-in)"
"""The name (and label) of the kernel's own plugin, ``cadenza._plugins._builtins``."""

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
    "cadenza_plugin_config",
    "cadenza_commands",
    "cadenza_observers",
)

OBSERVER_HOOK = "cadenza_on_event"

FIRST_PARTY_KINDS = {
    "openai": "cadenza-openai",
    "assets": "cadenza-assets",
    "docgen": "cadenza-docgen",
}
"""Agent kinds of the plugins this project ships, and their distributions.

Only these get a ``pip install`` hint when a workflow names them and they are
missing: guessing ``cadenza-<kind>`` for any unknown kind would send a typo
(``kind: templat``) to whatever package squats that name.
"""

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
    default_executor: str | None = None
    """For an agent kind: the executor its agents use when the workflow gives no ``executor:``."""


@attrs.frozen(kw_only=True)
class PluginInfo:
    """What loading one plugin did, as ``cadenza plugins`` shows it.

    ``name`` is the entry-point name (``"cadenza (built-in)"`` for the kernel's
    own plugin), ``value`` the entry point's target (``module`` or
    ``module:object``). ``hooks`` are the kernel hooks the plugin implements
    and ``registrations`` the ``(hook, name)`` pairs it registered; both are
    empty unless it ``"loaded"``. ``error`` says why it ``"failed"`` or was
    ``"refused"``. ``default_executors`` lists the agent kinds that chose
    their executor (``register(..., default_executor=...)``).
    """

    name: str
    status: PluginStatus
    distribution: str = ""
    version: str = ""
    value: str = ""
    hooks: tuple[str, ...] = ()
    registrations: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    default_executors: tuple[tuple[str, str], ...] = ()
    """``(agent kind, executor)`` for each kind it registered with a ``default_executor``."""

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
            "registrations": [self._registration(hook, name) for hook, name in self.registrations],
            "error": self.error,
        }

    def _registration(self, hook: str, name: str) -> dict[str, str]:
        out = {"hook": hook, "name": name}
        if hook == "cadenza_agent_kinds" and (executor := dict(self.default_executors).get(name)):
            out["default_executor"] = executor
        return out


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

    def not_loaded(self, hook: str, name: str) -> str:
        """A hint for ``name``, which no loaded plugin registered through ``hook``.

        A plugin named like it (entry point ``name`` or distribution
        ``cadenza-<name>``) that is installed but did not load: why, and what
        to do. Else, for a first-party agent kind, how to install its plugin.
        Else the installed plugins that did not load, if any (one may provide
        it). ``""`` when there is nothing to say: a guessed ``pip install``
        would invite installing whatever squats that name.
        """
        for info in self.infos:
            if info.status == "loaded" or not info.distribution:
                continue
            if name not in (info.name, info.distribution.removeprefix("cadenza-")):
                continue
            if info.status == "disabled":
                return (
                    f"The installed plugin {info.label} may provide it, but {LOAD_PLUGINS_ENV} "
                    f"leaves it out: add {info.name} to {LOAD_PLUGINS_ENV}."
                )
            reason = (info.error or "").splitlines()[0] if info.error else "no reason recorded"
            return (
                f"The installed plugin {info.label} may provide it, but it was {info.status}: "
                f"{reason} (see `cadenza plugins`)."
            )
        if hook == "cadenza_agent_kinds" and name in FIRST_PARTY_KINDS:
            return _install_hint(FIRST_PARTY_KINDS[name])
        broken = [i for i in self.infos if i.status in ("failed", "refused") and i.distribution]
        if broken:
            names = ", ".join(f"{i.label} ({i.status})" for i in broken)
            return (
                f"Installed plugins that did not load may provide it: {names}; "
                "see `cadenza plugins`."
            )
        return ""

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
        tracing is on, and a plugin's exit reaches the caller as
        :class:`PluginExitError`. Callers own error handling: see :meth:`emit`.
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
            except Exception as exc:
                from .._journal._bus import observer_failed

                self._failed_observers.add(id(impl))
                observer_failed(exc, plugin=label, event_kind=event.kind, run_id=event.run_id)


# -- plugin configuration -------------------------------------------------------

CONFIG_HOOK = "cadenza_plugin_config"

_PLUGIN_CONFIG: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "cadenza_plugin_config", default=None
)


def plugin_config(name: str) -> Any:
    """The configuration of plugin ``name`` for the workflow being loaded or run.

    The object of the class the plugin declared with ``cadenza_plugin_config``,
    built from the workflow's ``plugins:`` section over the project file
    (docs/plugin-configuration.md). None when the plugin is not configured and
    its class cannot be built from defaults alone, or outside a load or a run
    (a command reads the project file with :func:`cadenza.plugins.project_config`).
    Strategy factories, routers, observers and agents call it; trio tasks of a
    run see their run's configuration.

    .. versionadded:: 0.2
    """
    configs = _PLUGIN_CONFIG.get()
    return None if configs is None else configs.get(name)


@contextlib.contextmanager
def plugin_config_scope(configs: Mapping[str, Any]) -> Iterator[None]:
    """Make ``configs`` (plugin name -> object) what :func:`plugin_config` answers, inside."""
    token = _PLUGIN_CONFIG.set(configs)
    try:
        yield
    finally:
        _PLUGIN_CONFIG.reset(token)


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

    Problems of installed plugins are recorded in :attr:`Plugins.infos`, not
    raised; an ``extra`` plugin that is not loaded (refused or failed) raises
    :class:`~cadenza.plugins.PluginError` with the reason, since the caller
    asked for it by hand. A duplicate registered name raises
    :class:`~cadenza.plugins.DuplicateRegistrationError` naming both plugins.
    """
    from ._loading import Loader

    only_source = "only="
    if only is None:
        only = _only_from_env()
        only_source = LOAD_PLUGINS_ENV
    trace = _env_flag(TRACE_HOOKS_ENV)
    pm = new_plugin_manager()
    if trace:
        _enable_pluggy_tracing(pm)
    loader = Loader(pm=pm, trace=trace)
    with _watching_sigint():
        if builtins:
            loader.add_builtins()
        if entry_points:
            loader.discover(only=only, only_source=only_source)
        for plugin in extra:
            loader.add_extra(plugin)
        return loader.finish()


def _install_hint(distribution: str) -> str:
    """``pip install <distribution>``, plus the editable form when running from a checkout."""
    hint = f"The first-party plugin {distribution} provides it: pip install {distribution}"
    source = Path(__file__).resolve().parents[3] / "plugins" / distribution
    if (source / "pyproject.toml").is_file():
        try:
            shown = source.relative_to(Path.cwd())
        except (ValueError, OSError):  # not under the current directory, or it is gone
            shown = source
        hint += f" (from this checkout: pip install -e {shown})"
    return hint + "."


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
        return call_plugin(impl.function, **args)
    log.debug("hook_called", hook=hook_name, plugin=label, kwargs=args)
    try:
        result = call_plugin(impl.function, **args)
    except Exception as exc:
        log.debug("hook_raised", hook=hook_name, plugin=label, error=f"{type(exc).__name__}: {exc}")
        raise
    log.debug("hook_returned", hook=hook_name, plugin=label, result=result)
    return result


# -- running plugin code ---------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def call_plugin(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Call plugin code ``fn(*args, **kwargs)``; a plugin's exit becomes :class:`PluginExitError`.

    Exceptions pass through unchanged, and so do ``trio.Cancelled`` and
    ``GeneratorExit`` (alone or in a group). A ``KeyboardInterrupt`` is the
    plugin's own unless it may be the user's Ctrl-C: inside a trio run this
    function is KeyboardInterrupt-protected, so trio delivers a real Ctrl-C to
    the run's main task rather than here; outside one, :func:`load_plugins`
    watches SIGINT while it loads, and anywhere else it is taken as real.
    """
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:
        if not _is_plugin_exit(exc):
            raise
        raise PluginExitError(_function_name(fn), exc) from exc


async def call_plugin_async(
    fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
) -> R:
    """Await plugin code ``fn(*args, **kwargs)``, as :func:`call_plugin` calls it."""
    try:
        return await fn(*args, **kwargs)
    except BaseException as exc:
        if not _is_plugin_exit(exc):
            raise
        raise PluginExitError(_function_name(fn), exc) from exc


def _protect_plugin_calls() -> None:
    """KeyboardInterrupt-protect :func:`call_plugin` and :func:`call_plugin_async` in trio runs.

    trio marks the functions' code objects (it does not wrap them), so this can
    happen once trio is imported: before that no run exists, and ``cadenza
    validate`` need not import trio at all.
    """
    import trio

    trio.lowlevel.enable_ki_protection(call_plugin)
    trio.lowlevel.enable_ki_protection(call_plugin_async)


when_imported("trio", _protect_plugin_calls)


def _is_plugin_exit(exc: BaseException) -> bool:
    """Whether ``exc``, out of plugin code, is neither an error nor trio's control flow."""
    if isinstance(exc, Exception):
        return False
    import trio

    if isinstance(exc, BaseExceptionGroup):
        if exc.split((trio.Cancelled, GeneratorExit))[0] is not None:
            return False
        interrupted = exc.split(KeyboardInterrupt)[0] is not None
    elif isinstance(exc, trio.Cancelled | GeneratorExit):
        return False
    else:
        interrupted = isinstance(exc, KeyboardInterrupt)
    return not (interrupted and _may_be_ctrl_c())


def _may_be_ctrl_c() -> bool:
    """Whether a ``KeyboardInterrupt`` out of plugin code may be the user's Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        return False  # Python runs signal handlers in the main thread only
    trio = sys.modules.get("trio")
    try:
        if trio is None:  # not imported, so not in a trio run
            raise RuntimeError
        trio.lowlevel.current_task()
    except RuntimeError:  # not in a trio run: ask the watch, if one is on
        watch = _SIGINT_WATCH.get()
        return watch is None or watch.seen
    return False  # the callers are KI-protected: trio delivers a real Ctrl-C elsewhere


@attrs.define
class _SigintWatch:
    seen: bool = False


_SIGINT_WATCH: contextvars.ContextVar[_SigintWatch | None] = contextvars.ContextVar(
    "cadenza_sigint_watch", default=None
)


@contextlib.contextmanager
def _watching_sigint() -> Iterator[None]:
    """Note real Ctrl-Cs (outside trio, in the main thread), so plugin code cannot fake one."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    watch = _SigintWatch()

    def handler(signum: int, frame: Any) -> None:
        watch.seen = True
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, handler)
    token = _SIGINT_WATCH.set(watch)
    try:
        yield
    finally:
        _SIGINT_WATCH.reset(token)
        signal.signal(signal.SIGINT, previous)


def _function_name(fn: object) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return object_label(fn)


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
