"""Plugin loading and the registry of everything plugins registered.

Loading is explicit: :func:`load_plugins` builds a fresh pluggy manager, adds
the kernel's built-ins (they register through the same hooks as any plugin),
finds installed plugins through the ``cadenza`` entry-point group, and then
calls every registration hook once, recording what each plugin offered.

Each plugin is checked on its own, so one bad plugin never poisons the rest:

- it must import (otherwise it is recorded as ``failed`` with the exception);
- its module must declare ``CADENZA_HOOK_API``, a PEP 440 specifier that
  contains :data:`cadenza.HOOK_API_VERSION` (otherwise ``refused``);
- every hook implementation must name a kernel hook (a misspelt hook is
  refused with a did-you-mean: ``check_pending`` semantics, per plugin), be a
  plain ``def`` (``async def`` is refused with the right form) and not be a
  wrapper (the kernel calls registration hooks and observers one by one);
- its registration hooks must not raise (otherwise ``failed``, and everything
  it registered is discarded).

Plugins outside ``CADENZA_LOAD_PLUGINS`` are recorded as ``disabled`` without
being imported. Two plugins registering one name for one hook is not a plugin
problem but a broken installation: :class:`~cadenza.DuplicateRegistrationError`
names both distributions and :func:`load_plugins` raises it.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs
import click
import pluggy
import structlog
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from . import hookspecs
from ._errors import DuplicateRegistrationError, PluginError
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
        return _label(self.name, self.distribution, self.version)

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
                _call_impl(impl, OBSERVER_HOOK, label, {"event": event}, trace=self.trace)
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
    only_source = "only="
    if only is None:
        only = _only_from_env()
        only_source = LOAD_PLUGINS_ENV
    trace = _env_flag(TRACE_HOOKS_ENV)
    pm = new_plugin_manager()
    if trace:
        _enable_pluggy_tracing(pm)
    loader = _Loader(pm=pm, trace=trace)
    if builtins:
        from . import _builtins
        from ._version import __version__

        loader.add_loaded(
            _Candidate(
                name=BUILTIN,
                distribution="cadenza",
                version=__version__,
                value=_builtins.__name__,
                label=BUILTIN,
                require_declaration=True,
            ),
            _builtins,
        )
    if entry_points:
        loader.discover(only=only, only_source=only_source)
    for plugin in extra:
        loader.add_extra(plugin)
    return loader.finish()


# -- discovery and checks ---------------------------------------------------


@attrs.frozen(kw_only=True)
class _Candidate:
    name: str
    distribution: str
    version: str
    value: str
    label: str
    require_declaration: bool


@attrs.define
class _Loaded:
    candidate: _Candidate
    plugin: object
    pm_name: str
    hooks: tuple[str, ...]


@attrs.define
class _Loader:
    pm: pluggy.PluginManager
    trace: bool
    infos: list[PluginInfo] = attrs.field(factory=list)
    loaded: list[_Loaded] = attrs.field(factory=list)
    entry_point_names: dict[str, str] = attrs.field(factory=dict)

    def record(self, candidate: _Candidate, status: PluginStatus, error: str) -> None:
        if status in ("failed", "refused"):
            log.warning(
                "plugin_not_loaded",
                plugin=candidate.label,
                status=status,
                error=error.splitlines()[0],
                hint="see `cadenza plugins` for details",
            )
        elif self.trace:
            log.debug("plugin_" + status, plugin=candidate.label)
        self.infos.append(
            PluginInfo(
                name=candidate.name,
                status=status,
                distribution=candidate.distribution,
                version=candidate.version,
                value=candidate.value,
                error=error or None,
            )
        )

    def discover(self, *, only: Collection[str] | None, only_source: str) -> None:
        found: list[importlib.metadata.EntryPoint] = sorted(
            importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
            key=lambda ep: (ep.name, ep.value),
        )
        for ep in found:
            dist = ep.dist
            distribution = dist.name if dist is not None else ""
            version = dist.version if dist is not None else ""
            candidate = _Candidate(
                name=ep.name,
                distribution=distribution,
                version=version,
                value=ep.value,
                label=_label(ep.name, distribution, version),
                require_declaration=True,
            )
            if ep.name in self.entry_point_names:
                raise DuplicateRegistrationError(
                    hook=f"entry point group {ENTRY_POINT_GROUP!r}",
                    name=ep.name,
                    first=self.entry_point_names[ep.name],
                    second=candidate.label,
                )
            self.entry_point_names[ep.name] = candidate.label
            if only is not None and ep.name not in only:
                self.record(candidate, "disabled", "")
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self.record(
                    candidate,
                    "failed",
                    f"{candidate.label}: could not import entry point "
                    f"{ep.name} = {ep.value}: {type(exc).__name__}: {exc}",
                )
                continue
            self.add_loaded(candidate, plugin)
        if only is not None:
            self._report_unknown_names(only, only_source)

    def _report_unknown_names(self, only: Collection[str], only_source: str) -> None:
        known = sorted(self.entry_point_names)
        for name in sorted(set(only) - set(known)):
            hint = _did_you_mean(name, known)
            installed = ", ".join(known) or "none"
            self.record(
                _Candidate(
                    name=name,
                    distribution="",
                    version="",
                    value="",
                    label=name,
                    require_declaration=False,
                ),
                "failed",
                f"{only_source} asks for plugin {name!r}, but no installed distribution "
                f"has a {ENTRY_POINT_GROUP!r} entry point of that name.{hint} "
                f"Installed plugins: {installed}.",
            )

    def add_extra(self, plugin: object) -> None:
        label = _object_label(plugin)
        candidate = _Candidate(
            name=label,
            distribution="",
            version="",
            value=label,
            label=label,
            require_declaration=False,
        )
        self.add_loaded(candidate, plugin)

    def add_loaded(self, candidate: _Candidate, plugin: object) -> None:
        problem = _check_fence(candidate, plugin)
        if problem:
            self.record(candidate, "refused", problem)
            return
        pm_name = self._unique_pm_name(candidate.name)
        try:
            self.pm.register(plugin, name=pm_name)
        except pluggy.PluginValidationError as exc:
            self.record(candidate, "refused", f"{candidate.label}: {exc}")
            return
        except ValueError:
            other = self.pm.get_name(plugin)
            self.record(
                candidate,
                "refused",
                f"{candidate.label}: the same plugin object is already loaded as {other!r}.",
            )
            return
        impls = _own_hookimpls(self.pm, plugin)
        problems = _check_hookimpls(self.pm, candidate, plugin, impls)
        if problems:
            self.pm.unregister(plugin)
            self.record(candidate, "refused", "\n".join(problems))
            return
        hooks = tuple(sorted({hook_name for hook_name, _ in impls}))
        self.loaded.append(
            _Loaded(candidate=candidate, plugin=plugin, pm_name=pm_name, hooks=hooks)
        )

    def _unique_pm_name(self, name: str) -> str:
        pm_name, n = name, 1
        while self.pm.has_plugin(pm_name) or self.pm.is_blocked(pm_name):
            n += 1
            pm_name = f"{name} #{n}"
        return pm_name

    def finish(self) -> Plugins:
        plugins = Plugins(
            pm=self.pm,
            trace=self.trace,
            labels={item.pm_name: item.candidate.label for item in self.loaded},
        )
        tables: dict[str, dict[str, Registration]] = {name: {} for name in REGISTRATION_HOOKS}
        loaded_infos: list[PluginInfo] = []
        for item in self.loaded:
            try:
                regs = self._collect(item)
            except Exception as exc:
                self.pm.unregister(item.plugin)
                del plugins.labels[item.pm_name]
                self.record(item.candidate, "failed", _registration_failure(item, exc))
                continue
            for reg in regs:
                table = tables[reg.hook]
                if reg.name in table:
                    raise DuplicateRegistrationError(
                        hook=reg.hook,
                        name=reg.name,
                        first=table[reg.name].plugin,
                        second=reg.plugin,
                    )
                table[reg.name] = reg
            c = item.candidate
            loaded_infos.append(
                PluginInfo(
                    name=c.name,
                    status="loaded",
                    distribution=c.distribution,
                    version=c.version,
                    value=c.value,
                    hooks=item.hooks,
                    registrations=tuple((reg.hook, reg.name) for reg in regs),
                )
            )
            if self.trace:
                log.debug("plugin_loaded", plugin=c.label, hooks=item.hooks)
        plugins.registrations = tables
        # Loaded plugins first, in load order (the built-in one leads), then the rest.
        plugins.infos = loaded_infos + self.infos
        return plugins

    def _collect(self, item: _Loaded) -> list[Registration]:
        """Call the plugin's registration hooks; return what it registered, in order."""
        regs: list[Registration] = []
        label = item.candidate.label
        impls = dict(_own_hookimpls(self.pm, item.plugin))
        for hook_name in REGISTRATION_HOOKS:
            impl = impls.get(hook_name)
            if impl is None:
                continue
            register = _Register(hook=hook_name, plugin=label, out=regs)
            try:
                _call_impl(impl, hook_name, label, {"register": register}, trace=self.trace)
            finally:
                register.closed = True
        return regs


@attrs.define
class _Register:
    """The ``register`` callable handed to one plugin's registration hook."""

    hook: str
    plugin: str
    out: list[Registration]
    closed: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        if self.closed:
            raise PluginError(
                f"{self.plugin}: register() of {self.hook} was called after the hook returned; "
                "call it only while the hook runs.",
                plugin=self.plugin,
            )
        if self.hook == "cadenza_commands":
            self._command(*args, **kwargs)
        elif self.hook == "cadenza_agent_kinds":
            self._agent_kind(*args, **kwargs)
        else:
            self._named(*args, **kwargs)

    def _add(self, reg: Registration) -> None:
        if any(r.hook == reg.hook and r.name == reg.name for r in self.out):
            raise self._bad(f"registers {reg.name!r} twice; register each name once.")
        self.out.append(reg)

    def _bad(self, what: str) -> PluginError:
        return PluginError(f"{self.plugin}: {self.hook}: {what}", plugin=self.plugin)

    def _check_name(self, name: object, factory: object) -> str:
        if not isinstance(name, str) or not name:
            raise self._bad(f"register() needs a non-empty name string first, got {name!r}.")
        if not callable(factory):
            raise self._bad(
                f"register({name!r}, ...): the factory must be callable, got {factory!r}."
            )
        return name

    def _command(self, command: click.Command) -> None:
        if not isinstance(command, click.Command):
            raise self._bad(f"register() needs a click.Command, got {command!r}.")
        if not command.name:
            raise self._bad(f"register(): command {command!r} has no name.")
        self._add(Registration(hook=self.hook, name=command.name, obj=command, plugin=self.plugin))

    def _agent_kind(
        self,
        name: str,
        factory: Callable[..., Any],
        *,
        options: type[Any] | None = None,
        capabilities: Iterable[str] = (),
    ) -> None:
        name = self._check_name(name, factory)
        if options is not None and not (isinstance(options, type) and attrs.has(options)):
            raise self._bad(
                f"register({name!r}, ..., options={options!r}): options must be an attrs class."
            )
        if isinstance(capabilities, str):
            raise self._bad(
                f"register({name!r}, ..., capabilities={capabilities!r}): capabilities must be "
                f"a collection of strings, not one string; write capabilities=({capabilities!r},)."
            )
        self._add(
            Registration(
                hook=self.hook,
                name=name,
                obj=factory,
                plugin=self.plugin,
                options=options,
                capabilities=frozenset(capabilities),
            )
        )

    def _named(self, name: str, factory: Callable[..., Any]) -> None:
        name = self._check_name(name, factory)
        self._add(Registration(hook=self.hook, name=name, obj=factory, plugin=self.plugin))


def _label(name: str, distribution: str, version: str) -> str:
    if distribution:
        return f"{distribution} {version}".strip()
    return name


def _object_label(plugin: object) -> str:
    if inspect.ismodule(plugin):
        return plugin.__name__
    if isinstance(plugin, type):
        return f"{plugin.__module__}.{plugin.__qualname__}"
    cls = type(plugin)
    return f"{cls.__module__}.{cls.__qualname__} instance"


def _module_name(plugin: object) -> str:
    module = inspect.getmodule(plugin)
    return module.__name__ if module is not None else _object_label(plugin)


def _declared_range(plugin: object) -> object:
    """The plugin's ``CADENZA_HOOK_API``: on the object itself, else on its module."""
    missing = object()
    value = getattr(plugin, HOOK_API_ATTRIBUTE, missing)
    if value is missing:
        module = inspect.getmodule(plugin)
        value = getattr(module, HOOK_API_ATTRIBUTE, None) if module is not None else None
    return None if value is missing else value


def _kernel_hook_api() -> str:
    from ._version import HOOK_API_VERSION

    return HOOK_API_VERSION


def _check_fence(candidate: _Candidate, plugin: object) -> str:
    """Return why ``plugin``'s declared hook API range excludes this kernel, or ``""``."""
    declared = _declared_range(plugin)
    current = _kernel_hook_api()
    label = candidate.label
    if declared is None:
        if not candidate.require_declaration:
            return ""
        return (
            f"{label} does not declare which hook API versions it supports; this cadenza "
            f"implements {current}. Its module {_module_name(plugin)} needs a line like "
            f'{HOOK_API_ATTRIBUTE} = ">={current},<{Version(current).major + 1}". '
            f"Upgrade {candidate.distribution or label}, or ask its author to add it."
        )
    try:
        if not isinstance(declared, str):
            raise InvalidSpecifier(repr(declared))
        spec = SpecifierSet(declared)
    except InvalidSpecifier:
        return (
            f"{label} declares {HOOK_API_ATTRIBUTE} = {declared!r}, which is not a PEP 440 "
            f'version specifier; this cadenza implements {current}. Write e.g. ">={current},'
            f'<{Version(current).major + 1}" in {_module_name(plugin)}.'
        )
    if spec.contains(current, prereleases=True):
        return ""
    dist = candidate.distribution or label
    if _needs_newer_kernel(spec, Version(current)):
        advice = (
            f"Upgrade cadenza to a release that implements a version in {spec}, "
            f"or install an older {dist} that supports {current}."
        )
    else:
        advice = f"Upgrade {dist}, or install a cadenza that implements a version in its range."
    return f"{label} supports hook API {spec}; this cadenza implements {current}. {advice}"


def _needs_newer_kernel(spec: SpecifierSet, current: Version) -> bool:
    """Whether ``spec`` only admits hook API versions newer than ``current``."""
    for item in spec:
        if item.operator not in (">", ">=", "~=", "=="):
            continue
        try:
            lowest = Version(item.version.removesuffix(".*"))
        except InvalidVersion:
            continue
        if lowest > current:
            return True
    return False


def _own_hookimpls(pm: pluggy.PluginManager, plugin: object) -> list[tuple[str, pluggy.HookImpl]]:
    """``(hook name, implementation)`` for every hook implementation of ``plugin``."""
    impls: list[tuple[str, pluggy.HookImpl]] = []
    for caller in pm.get_hookcallers(plugin) or ():
        impls.extend(
            (caller.name, impl) for impl in caller.get_hookimpls() if impl.plugin is plugin
        )
    return impls


def _known_hooks(pm: pluggy.PluginManager) -> list[str]:
    return sorted(
        name
        for name, caller in vars(pm.hook).items()
        if not name.startswith("_") and isinstance(caller, pluggy.HookCaller) and caller.has_spec()
    )


def _check_hookimpls(
    pm: pluggy.PluginManager,
    candidate: _Candidate,
    plugin: object,
    impls: Sequence[tuple[str, pluggy.HookImpl]],
) -> list[str]:
    """Per-plugin ``check_pending`` plus Cadenza's rules (no async, no wrappers)."""
    label = candidate.label
    known = _known_hooks(pm)
    problems: list[str] = []
    if not impls:
        problems.append(
            f"{label}: {candidate.value} implements no Cadenza hook: decorate its hook "
            f"functions with @cadenza.hookimpl (known hooks: {', '.join(known)})."
        )
    for hook_name, impl in impls:
        if hook_name not in known:
            if not impl.optionalhook:
                problems.append(
                    f"{label}: unknown hook {hook_name!r} in {_module_name(plugin)}."
                    f"{_did_you_mean(hook_name, known)} Known hooks: {', '.join(known)}."
                )
            continue
        fn = impl.function
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            problems.append(_async_problem(label, hook_name, impl))
        elif impl.wrapper or impl.hookwrapper:
            problems.append(
                f"{label}: {hook_name} is declared as a hook wrapper; the kernel calls "
                f"{hook_name} implementations one by one, so wrappers are not supported. "
                "Drop wrapper=True/hookwrapper=True and return normally."
            )
    return problems


def _async_problem(label: str, hook_name: str, impl: pluggy.HookImpl) -> str:
    params = ", ".join(impl.argnames)
    wrong = f"    @cadenza.hookimpl\n    async def {hook_name}({params}):\n        ..."
    if hook_name == OBSERVER_HOOK:
        where = (
            "Observers run synchronously on the trio thread: hand the event to a task "
            "you own and await there"
        )
        right = (
            f"    @cadenza.hookimpl\n    def {hook_name}({params}):\n"
            "        send_channel.send_nowait(event)  # a trio memory channel your task reads"
        )
    else:
        where = (
            "Hooks are called synchronously and never awaited: register factories, "
            "and await inside the registered objects (Agent.run, Agent.aclose)"
        )
        right = (
            f"    @cadenza.hookimpl\n    def {hook_name}({params}):\n"
            '        register("mykind", MyAgent.from_config)\n\n'
            "    class MyAgent:\n"
            "        async def run(self, request):  # await here\n            ..."
        )
    return (
        f"{label}: {hook_name} is an 'async def' hook implementation. {where}.\n"
        f"  Wrong:\n{wrong}\n  Right:\n{right}"
    )


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


def _registration_failure(item: _Loaded, exc: Exception) -> str:
    if isinstance(exc, PluginError):
        return f"{exc} Its registrations were discarded."
    return (
        f"{item.candidate.label}: a registration hook raised {type(exc).__name__}: {exc}. "
        "Its registrations were discarded."
    )


# -- calling and tracing -------------------------------------------------------


def _call_impl(
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
        _call_impl(impl, OBSERVER_HOOK, label, {"event": event}, trace=trace)

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
