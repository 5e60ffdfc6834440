"""The machinery behind :func:`cadenza.plugins.load_plugins`: find, admit, then collect.

It lives apart from the registry (:mod:`cadenza._plugins._registry`) because only
loading needs it: the rest of the kernel reads a finished :class:`Plugins`
and never sees a candidate, an entry point or a ``register`` callable.

A :class:`Loader` takes plugins in load order (the built-in plugin, then those
found through the ``cadenza`` entry-point group, then the ``extra`` objects) and
deals with each on its own, so one bad plugin never poisons the rest:

- it must import, or it is recorded as ``failed`` with the exception (a
  module that calls ``sys.exit()`` too: plugin code runs through
  :func:`~cadenza._plugins._registry.call_plugin`, so it cannot end the process);
- it must pass :mod:`cadenza._plugins._checks` (hook API fence, hook
  implementations), or it is ``refused`` with every reason at once;
- its registration hooks, called once each by :meth:`Loader.finish` through a
  checking ``register`` callable, must not raise, or it is ``failed`` and
  everything it registered is discarded.

Entry-point plugins are isolated and reported, but the ``extra`` objects are
the caller's own (a test's plugin, usually): :meth:`Loader.finish` raises
:class:`~cadenza.plugins.PluginError` with every reason when one of them did
not load, so a misspelt hook fails the test that made it, saying why.

Entry points outside ``CADENZA_LOAD_PLUGINS`` are recorded as ``disabled``
without being imported. Two entry points of one name, or two plugins
registering one name for one hook, are not a plugin problem but a broken
installation: :class:`~cadenza.plugins.DuplicateRegistrationError` names both
distributions and is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

import attrs
import click
import pluggy

from .._errors import DuplicateRegistrationError, PluginError, PluginExitError
from .._logging import get_logger
from ._checks import (
    check_fence,
    check_hook_result,
    check_hookimpls,
    did_you_mean,
    explain_argnames,
)
from ._entry_points import FoundEntryPoint, entry_points
from ._registry import (
    BUILTIN,
    ENTRY_POINT_GROUP,
    REGISTRATION_HOOKS,
    PluginInfo,
    Plugins,
    PluginStatus,
    Registration,
    call_impl,
    call_plugin,
    object_label,
    plugin_label,
)

__all__ = ["Loader"]

log = get_logger()


@attrs.frozen(kw_only=True)
class _Candidate:
    """A plugin about to be loaded, named as its records and messages will name it."""

    name: str
    distribution: str
    version: str
    value: str
    label: str
    require_declaration: bool
    strict: bool = False
    """An ``extra`` plugin: not loading it is an error, not a record."""


@attrs.define
class _Loaded:
    """A plugin that passed the checks and is registered with pluggy."""

    candidate: _Candidate
    plugin: object
    pm_name: str
    hooks: tuple[str, ...]


@attrs.define
class Loader:
    """Loads plugins into ``pm`` one by one; :meth:`finish` builds the :class:`Plugins`."""

    pm: pluggy.PluginManager
    trace: bool
    infos: list[PluginInfo] = attrs.field(factory=list)
    loaded: list[_Loaded] = attrs.field(factory=list)
    entry_point_names: dict[str, str] = attrs.field(factory=dict)
    strict_problems: list[tuple[str, str]] = attrs.field(factory=list)
    """``(label, reason)`` of each ``extra`` plugin that did not load."""

    def record(self, candidate: _Candidate, status: PluginStatus, error: str) -> None:
        if candidate.strict and status in ("failed", "refused"):
            self.strict_problems.append((candidate.label, f"{status}: {error}"))
        elif status in ("failed", "refused"):
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

    def add_builtins(self) -> None:
        """Load the kernel's own plugin, which registers through the same hooks as any other."""
        from .._version import __version__
        from . import _builtins

        self.add_loaded(
            _Candidate(
                name=BUILTIN,
                distribution="cadenza",
                version=__version__,
                value=_builtins.__name__,
                label=BUILTIN,
                require_declaration=True,
            ),
            _builtins,
            own=True,
        )

    def discover(self, *, only: Collection[str] | None, only_source: str) -> None:
        found: list[FoundEntryPoint] = sorted(
            entry_points(ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value)
        )
        for ep in found:
            distribution, version = ep.distribution, ep.version
            candidate = _Candidate(
                name=ep.name,
                distribution=distribution,
                version=version,
                value=ep.value,
                label=plugin_label(ep.name, distribution, version),
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
                plugin = call_plugin(ep.load)
            except Exception as exc:
                self.record(
                    candidate,
                    "failed",
                    f"{candidate.label}: could not import entry point "
                    f"{ep.name} = {ep.value}: {_describe(exc, importing=True)}",
                )
                continue
            self.add_loaded(candidate, plugin)
        if only is not None:
            self._report_unknown_names(only, only_source)

    def _report_unknown_names(self, only: Collection[str], only_source: str) -> None:
        known = sorted(self.entry_point_names)
        for name in sorted(set(only) - set(known)):
            hint = did_you_mean(name, known)
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
        label = object_label(plugin)
        candidate = _Candidate(
            name=label,
            distribution="",
            version="",
            value=label,
            label=label,
            require_declaration=False,
            strict=True,
        )
        self.add_loaded(candidate, plugin)

    def add_loaded(self, candidate: _Candidate, plugin: object, *, own: bool = False) -> None:
        """Admit ``plugin`` if it passes the checks; ``own``: the kernel's built-in plugin,
        whose hook API range is this kernel's by construction (tests check it), so its
        fence check (and the import of packaging it needs) is skipped."""
        problem = (
            ""
            if own
            else check_fence(
                plugin,
                label=candidate.label,
                distribution=candidate.distribution,
                require_declaration=candidate.require_declaration,
            )
        )
        if problem:
            self.record(candidate, "refused", problem)
            return
        pm_name = self._unique_pm_name(candidate.name)
        try:
            self.pm.register(plugin, name=pm_name)
        except pluggy.PluginValidationError as exc:
            explained = explain_argnames(self.pm, plugin, label=candidate.label)
            raw = "; ".join(str(exc).splitlines())
            self.record(candidate, "refused", explained or f"{candidate.label}: {raw}")
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
        problems = check_hookimpls(
            self.pm, plugin, impls, label=candidate.label, value=candidate.value
        )
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
                    default_executors=tuple(
                        (reg.name, reg.default_executor) for reg in regs if reg.default_executor
                    ),
                )
            )
            if self.trace:
                log.debug("plugin_loaded", plugin=c.label, hooks=item.hooks)
        plugins.registrations = tables
        # Loaded plugins first, in load order (the built-in one leads), then the rest.
        plugins.infos = loaded_infos + self.infos
        if self.strict_problems:
            raise PluginError(
                "".join(f"extra plugin {label} was {why}\n" for label, why in self.strict_problems)
                + "A plugin passed in extra= must load: fix what the message says, or leave "
                "it out of extra=.",
                plugin=self.strict_problems[0][0],
            )
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
                returned = call_impl(
                    impl, hook_name, label, {"register": register}, trace=self.trace
                )
            finally:
                register.closed = True
            if problem := check_hook_result(hook_name, returned, label=label):
                raise PluginError(problem, plugin=label)
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
        default_executor: str | None = None,
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
        if default_executor is not None and (
            not isinstance(default_executor, str) or not default_executor
        ):
            raise self._bad(
                f"register({name!r}, ..., default_executor={default_executor!r}): name an "
                f"executor with a non-empty string (default_executor='process'), or leave it "
                f"out for 'local'."
            )
        self._add(
            Registration(
                hook=self.hook,
                name=name,
                obj=factory,
                plugin=self.plugin,
                options=options,
                capabilities=frozenset(capabilities),
                default_executor=default_executor,
            )
        )

    def _named(self, name: str, factory: Callable[..., Any]) -> None:
        name = self._check_name(name, factory)
        self._add(Registration(hook=self.hook, name=name, obj=factory, plugin=self.plugin))


def _own_hookimpls(pm: pluggy.PluginManager, plugin: object) -> list[tuple[str, pluggy.HookImpl]]:
    """``(hook name, implementation)`` for every hook implementation of ``plugin``."""
    impls: list[tuple[str, pluggy.HookImpl]] = []
    for caller in pm.get_hookcallers(plugin) or ():
        impls.extend(
            (caller.name, impl) for impl in caller.get_hookimpls() if impl.plugin is plugin
        )
    return impls


def _registration_failure(item: _Loaded, exc: Exception) -> str:
    if isinstance(exc, PluginError) and not isinstance(exc, PluginExitError):
        return f"{exc} Its registrations were discarded."
    return (
        f"{item.candidate.label}: a registration hook raised {_describe(exc)}. "
        "Its registrations were discarded."
    )


def _describe(exc: Exception, *, importing: bool = False) -> str:
    """``"ValueError: message"``, or what a plugin that tried to exit raised, where, and why not."""
    if isinstance(exc, PluginExitError):
        where = "while importing" if importing else f"in {exc.function}"
        return (
            f"{exc.raised!r} {where} (plugin code must raise an exception, "
            "never exit or interrupt the process)"
        )
    return f"{type(exc).__name__}: {exc}"
