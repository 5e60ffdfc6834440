"""Every hook the Cadenza kernel calls, grouped by lifecycle phase.

Plugins implement these with :data:`cadenza.hookimpl`. Registration hooks all
follow one pattern: the kernel calls ``cadenza_<things>(register)`` once, after
every plugin is loaded, and the plugin calls ``register(name, factory, ...)``
for each thing it provides. Hooks are synchronous and cheap; async work lives
on the registered objects (``Agent.run``, ``Agent.aclose``) and is awaited by
the kernel inside the run's nursery. ``async def`` hook implementations are
refused at load time.

The hook API version is :data:`cadenza.plugins.HOOK_API_VERSION`. A plugin module
declares the range it supports as ``CADENZA_HOOK_API = ">=1.0,<2"`` (a PEP 440
specifier); plugins outside the range are refused with the versions that work.
``versionadded``/``versionchanged`` notes below name hook API versions, never
package versions (docs/hooks.md, "Hook API versions").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import click

    from ._agents._contract import AgentFactory
    from ._events import Event

PROJECT_NAME = "cadenza"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterAgentKind(Protocol):
    """``register(name, factory, *, options=None, capabilities=(), default_executor=None)``.

    ``factory(config)`` returns an :class:`~cadenza.Agent`. ``options`` is an
    attrs class the kernel's converter structures the agent's ``options:``
    mapping into (unknown keys and wrong types are reported with file:line);
    without it the factory receives a plain dict. ``capabilities`` are the
    capabilities every agent of this kind has, added to the ones its config
    lists. ``default_executor`` names the executor the kind's agents run
    their work on when the workflow gives an agent no ``executor:`` (CPU-bound
    kinds say ``"process"``); ``None`` means ``"local"``.
    """

    def __call__(
        self,
        name: str,
        factory: AgentFactory,
        *,
        options: type[Any] | None = None,
        capabilities: Iterable[str] = (),
        default_executor: str | None = None,
    ) -> None: ...


class Register(Protocol):
    """``register(name, factory)``: offer one named thing."""

    def __call__(self, name: str, factory: Callable[..., Any]) -> None: ...


class RegisterPluginConfig(Protocol):
    """``register(name, options)``: declare the plugin's configuration class.

    ``name`` is the key users write under ``plugins:`` (use the plugin's
    entry-point name); ``options`` is an attrs class the kernel's converter
    structures the configuration into, as it does agent options.
    """

    def __call__(self, name: str, options: type[Any], /) -> None: ...


class RegisterCommand(Protocol):
    """``register(command)``: add a click command to the ``cadenza`` CLI."""

    def __call__(self, command: click.Command) -> None: ...


# -- Phase 1: registration (called once per process, after every plugin is loaded) --


@hookspec
def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
    """Offer agent kinds, selectable with ``kind:`` in a workflow file.

    Called once, after all plugins are loaded. Call ``register(name, factory,
    options=OptionsClass, capabilities=(...))`` once per kind; ``factory(config)``
    receives the :class:`~cadenza.AgentConfig` and returns an
    :class:`~cadenza.Agent`. The factory runs once per agent per run, outside
    any async context: do not do I/O in it; open clients lazily or in ``run``.
    It also runs once when the workflow loads (``cadenza validate`` included),
    and that agent is dropped unused: raise for a configuration it cannot
    serve, and the loader reports it at the agent's file:line.
    Return value ignored.

    .. versionadded:: 1.0

    .. versionchanged:: 1.1
       ``AgentRequest.output_dir``, ``report_progress`` and ``ask``;
       ``AgentConfig.options_as``; ``register(..., default_executor=...)``; the
       factory also runs when the workflow loads.
    """


@hookspec
def cadenza_routers(register: Register) -> None:
    """Offer routing strategies, selectable with ``route:`` in a workflow file.

    Called once, after all plugins are loaded. Call ``register(name, factory)``
    per strategy. ``factory(options)`` receives the ``route:`` mapping without
    its ``strategy`` key (``{}`` for ``route: NAME``) and returns a
    :class:`~cadenza.strategies.Router`: an object with ``choose(candidates, request) ->
    Route``, called synchronously on the trio thread once per call that more
    than one agent could take, which returns a :class:`~cadenza.strategies.Route` naming
    one of the :class:`~cadenza.strategies.Candidate` agents. The factory runs when the
    workflow loads: raise ``ValueError`` for bad options and the loader reports
    the message with file:line. Return value ignored.

    .. versionadded:: 1.0

    .. versionchanged:: 1.1
       Routers are used: ``route:`` on a step, or at the top of the workflow,
       selects one. ``factory(options)`` returns an object with ``choose``.
    """


@hookspec
def cadenza_aggregators(register: Register) -> None:
    """Offer aggregation strategies that combine several agents' results.

    Called once, after all plugins are loaded. Call ``register(name, factory)``
    per strategy; multi-agent steps (``agents: 3``) select one with
    ``aggregate:``. ``factory(options)`` receives that mapping without its
    ``strategy`` key and returns a :class:`~cadenza.strategies.Aggregator`: an object
    with ``combine(answers, *, pending) -> Verdict | None``, called
    synchronously after each :class:`~cadenza.strategies.Answer` arrives, which returns
    None to wait for more or a :class:`~cadenza.strategies.Verdict` (always one when
    ``pending`` is 0). The factory runs when the workflow loads: raise
    ``ValueError`` for bad options and the loader reports the message with
    file:line. Return value ignored.

    .. versionadded:: 1.0

    .. versionchanged:: 1.1
       Aggregators are used by multi-agent steps. ``factory(options)`` returns
       an object with ``combine``.
    """


@hookspec
def cadenza_fallbacks(register: Register) -> None:
    """Offer fallback strategies, for steps whose agents all failed.

    Called once, after all plugins are loaded. Call ``register(name, factory)``
    per strategy; steps name it in ``fallback:``. ``factory(options)`` gets the
    entry's options (``{strategy: NAME, ...options}``; raise ``ValueError``
    for bad ones, reported when the file loads) and returns an object with
    ``async run(request, *, context) -> AgentResult`` (``context.step``,
    ``context.error``, ``context.store``). The kernel marks whatever it returns
    degraded, with the strategy as its source. Return value ignored.

    .. versionadded:: 1.0
    """


@hookspec
def cadenza_validators(register: Register) -> None:
    """Offer result validators and quality scorers.

    Called once, after all plugins are loaded. Call ``register(name, factory)``
    per validator; steps list validators in ``validate:``. ``factory(options)``
    receives an item's mapping without its ``validator`` key (``{}`` for a bare
    name) and returns a :class:`~cadenza.strategies.Validator`: an object with ``async
    validate(output, *, context) -> Quality``, awaited inside each attempt,
    whose score in [0, 1] fails the attempt (retryably) when it is below the
    step's ``min_quality``. The factory runs when the workflow loads: raise
    ``ValueError`` for bad options and the loader reports the message with
    file:line. ``validate`` may raise :class:`~cadenza.PermanentError` for a
    configuration problem (the attempt fails without retry); any other
    exception is a bug in the validator. Return value ignored.

    .. versionadded:: 1.0

    .. versionchanged:: 1.1
       Validators are used: ``validate:`` and ``min_quality:`` on a step.
       ``factory(options)`` returns an object with ``validate``.
    """


@hookspec
def cadenza_stores(register: Register) -> None:
    """Offer journal backends, selected by URL scheme.

    Called once, after all plugins are loaded. Call ``register(scheme,
    factory)``; ``factory(url)`` returns a :class:`~cadenza.store.Store`. The journal
    picks the store by the scheme of ``--store URL`` (``sqlite`` is built in);
    check a store with ``cadenza.testing.StoreConformance``. Return value
    ignored.

    .. versionadded:: 1.0
    """


@hookspec
def cadenza_executors(register: Register) -> None:
    """Offer executors: places where CPU-heavy agent work runs.

    Called once, after all plugins are loaded. Call ``register(kind,
    factory)``; ``factory(options)`` receives the ``options:`` mapping of a
    workflow's ``executors:`` entry and returns a
    :class:`cadenza.plugins.Executor` (``async run(fn, *args)``, ``async
    aclose()``). The factory must check its options (raise ValueError with a
    message) and start nothing: the loader calls it once to check a file. A
    run calls it once per executor its agents use, and awaits ``aclose()``
    when it ends. ``local`` and ``process`` are built in. Return value ignored.

    .. versionadded:: 1.0

    .. versionchanged:: 1.1
       Executors are used: ``executors:`` and an agent's ``executor:`` in a
       workflow; agents get theirs with :func:`cadenza.plugins.executor_for`.
    """


@hookspec
def cadenza_plugin_config(register: RegisterPluginConfig) -> None:
    """Declare the plugin's configuration, set under ``plugins:`` or in the project file.

    Called once, after all plugins are loaded. Call ``register(name,
    OptionsClass)`` once, with the plugin's entry-point name and an attrs
    class: a workflow's ``plugins: {name: {...}}`` section and the project
    file (``cadenza.toml`` ``[plugins.name]`` or pyproject.toml
    ``[tool.cadenza.plugins.name]``) are structured into it when the workflow
    loads, with file:line errors like agent options; the workflow file wins
    key by key. The plugin reads it as ``config.plugin_config`` in its agent
    factories and with :func:`cadenza.plugins.plugin_config` anywhere during a
    load or a run (strategy factories, observers); commands read the project
    file with :func:`cadenza.plugins.project_config`. Return value ignored.

    .. versionadded:: 1.1
    """


@hookspec
def cadenza_commands(register: RegisterCommand) -> None:
    """Add commands to the ``cadenza`` command line.

    Called once when the CLI starts, after all plugins are loaded. Call
    ``register(command)`` with a :class:`click.Command`; its name must not
    clash with a built-in command or another plugin's. Return value ignored.

    .. versionadded:: 1.0
    """


@hookspec
def cadenza_observers(register: Register) -> None:
    """Offer run observers, awaited when each run starts and before it ends.

    Called once, after all plugins are loaded. Call ``register(name, factory)``
    per observer; ``factory()`` is called once per run, before the run starts
    (read the plugin's configuration there), and returns an object with any of
    ``async run_started(event)`` (the ``run_started`` or ``run_resumed``
    event), ``async run_finished(result)`` (the :class:`~cadenza.RunResult`),
    a synchronous ``on_event(event)`` (every event, in order, as
    ``cadenza_on_event`` gets it) and ``time_limit`` (seconds per call, default
    10). ``run_started`` runs beside the first steps, in the run's nursery;
    ``run_finished`` is awaited after the last step and before the
    ``run_finished`` event, shielded from cancellation, so the command exits
    only after it returned or ran out of time. A call that raises or overruns
    is cancelled and reported as an ``observer_failed`` event; the run's
    result is unchanged. Return value ignored.

    .. versionadded:: 1.1
    """


# -- Phase 2: running (called many times per run) --


@hookspec
def cadenza_on_event(event: Event) -> None:
    """Observe a run event (see the event reference).

    Called synchronously for every event of every run, in order, on the trio
    thread: keep it cheap and never block. To do I/O, hand the event to your own
    task or thread (for example through a ``trio`` memory channel you own). An
    exception raised here is logged and the observer is disabled for the rest of
    the run; the run itself goes on. Return value ignored.

    .. versionadded:: 1.0
    """
