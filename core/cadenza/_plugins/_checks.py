"""The checks that decide whether a plugin that imported may load.

They are kept apart from the loader because they are its policy, not its
mechanics: each one looks at a single plugin and returns the reasons to refuse
it (empty when there are none), so the loader can record a plugin as
``refused`` without stopping the others. That is also where the messages
live, and a refusal message has to say what is wrong and how to fix it:

- :func:`check_fence`: the plugin's ``CADENZA_HOOK_API`` must be a PEP 440
  specifier containing :data:`cadenza.plugins.HOOK_API_VERSION`; a refusal says
  which side (kernel or plugin) to upgrade.
- :func:`check_hookimpls`: every hook implementation must name a kernel hook
  (``check_pending`` semantics, per plugin, with a did-you-mean), be a plain
  ``def`` (``async def`` is refused with the wrong and the right form) and not
  be a wrapper (the kernel calls registration hooks and observers one by one).
- :func:`explain_argnames`: a hook implementation taking a parameter its hook
  does not pass is refused with the parameter names the hook does pass.
- :func:`check_hook_result`: a registration hook must call ``register`` and
  return None; one that returns its registrations instead is failed with the fix.
- :func:`check_made`: what a registered factory returns (an agent, router,
  aggregator, validator or fallback) must have the members the kernel calls;
  the loader and the scheduler ask when they call the factory, so a factory
  returning None is reported there, not later as an AttributeError (stores:
  :func:`cadenza._journal._store.open_store` checks its own).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs
import pluggy

from ._registry import HOOK_API_ATTRIBUTE, OBSERVER_HOOK, object_label

if TYPE_CHECKING:  # packaging is imported by the fence check of a plugin that needs one
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

__all__ = [
    "check_fence",
    "check_hook_result",
    "check_hookimpls",
    "check_made",
    "describe_returned",
    "did_you_mean",
    "explain_argnames",
]


# -- the hook API version fence ------------------------------------------------


def check_fence(plugin: object, *, label: str, distribution: str, require_declaration: bool) -> str:
    """Return why ``plugin``'s declared hook API range excludes this kernel, or ``""``.

    ``label`` names the plugin in the message and ``distribution`` is what to
    upgrade; without ``require_declaration`` a plugin that declares no range passes.
    """
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import Version

    declared = _declared_range(plugin)
    current = _kernel_hook_api()
    if declared is None:
        if not require_declaration:
            return ""
        return (
            f"{label} does not declare which hook API versions it supports; this cadenza "
            f"implements {current}. Its module {_module_name(plugin)} needs a line like "
            f'{HOOK_API_ATTRIBUTE} = ">={current},<{Version(current).major + 1}". '
            f"Upgrade {distribution or label}, or ask its author to add it."
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
    dist = distribution or label
    if _needs_newer_kernel(spec, Version(current)):
        advice = (
            f"Upgrade cadenza to a release that implements a version in {spec}, "
            f"or install an older {dist} that supports {current}."
        )
    else:
        advice = f"Upgrade {dist}, or install a cadenza that implements a version in its range."
    return f"{label} supports hook API {spec}; this cadenza implements {current}. {advice}"


def _declared_range(plugin: object) -> object:
    """The plugin's ``CADENZA_HOOK_API``: on the object itself, else on its module."""
    missing = object()
    value = getattr(plugin, HOOK_API_ATTRIBUTE, missing)
    if value is missing:
        module = inspect.getmodule(plugin)
        value = getattr(module, HOOK_API_ATTRIBUTE, None) if module is not None else None
    return None if value is missing else value


def _kernel_hook_api() -> str:
    from .._version import HOOK_API_VERSION

    return HOOK_API_VERSION


def _needs_newer_kernel(spec: SpecifierSet, current: Version) -> bool:
    """Whether ``spec`` only admits hook API versions newer than ``current``."""
    from packaging.version import InvalidVersion, Version

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


# -- hook implementations ------------------------------------------------------


def check_hookimpls(
    pm: pluggy.PluginManager,
    plugin: object,
    impls: Sequence[tuple[str, pluggy.HookImpl]],
    *,
    label: str,
    value: str,
) -> list[str]:
    """Per-plugin ``check_pending`` plus Cadenza's rules (no async, no wrappers).

    ``impls`` are ``plugin``'s own ``(hook name, implementation)`` pairs,
    ``label`` names it in messages and ``value`` is its entry-point target.
    """
    known = _known_hooks(pm)
    problems: list[str] = []
    if not impls:
        problems.append(
            f"{label}: {value} implements no Cadenza hook: decorate its hook "
            f"functions with @cadenza.hookimpl (known hooks: {', '.join(known)})."
        )
    for hook_name, impl in impls:
        if hook_name not in known:
            if not impl.optionalhook:
                problems.append(
                    f"{label}: unknown hook {hook_name!r} in {_module_name(plugin)}."
                    f"{did_you_mean(hook_name, known)} Known hooks: {', '.join(known)}."
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


def _known_hooks(pm: pluggy.PluginManager) -> list[str]:
    return sorted(
        name
        for name, caller in vars(pm.hook).items()
        if not name.startswith("_") and isinstance(caller, pluggy.HookCaller) and caller.has_spec()
    )


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


def explain_argnames(pm: pluggy.PluginManager, plugin: object, *, label: str) -> str:
    """Why pluggy refused ``plugin``: the parameters its hooks do not pass, and those they do.

    pluggy's own message spans several lines and names no fix; ``""`` when no
    implementation of ``plugin`` takes a parameter its hook does not pass.
    """
    problems: list[str] = []
    for attr in sorted(dir(plugin)):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        caller = getattr(pm.hook, attr, None) if opts is not None else None
        if opts is None or not isinstance(caller, pluggy.HookCaller) or caller.spec is None:
            continue
        impl = pluggy.HookImpl(plugin, label, getattr(plugin, attr), opts)
        passed = (*caller.spec.argnames, *caller.spec.kwargnames)
        wrong = [name for name in impl.argnames if name not in passed]
        if not wrong:
            continue
        names = ", ".join(repr(name) for name in wrong)
        hints = "".join(did_you_mean(name, passed) for name in wrong)
        offered = ", ".join(passed) if passed else "nothing"
        problems.append(
            f"{label}: {attr}({', '.join(impl.argnames)}) takes {names}, which {attr} does "
            f"not pass.{hints} {attr} passes: {offered}. Rename the parameter; an "
            "implementation may take any of these, by name, and leave out the others."
        )
    return "\n".join(problems)


def check_hook_result(hook_name: str, result: object, *, label: str) -> str:
    """Why what a registration hook returned is a mistake (it did not register), or ``""``."""
    if result is None:
        return ""
    example = (
        "register(my_command)"
        if hook_name == "cadenza_commands"
        else 'register("myname", MyThing.from_options)'
    )
    return (
        f"{label}: {hook_name} returned {describe_returned(result)} instead of calling "
        f"register(); the kernel ignores what registration hooks return, so nothing was "
        f"registered. Call register(name, factory) once per thing and return None:\n"
        f"    @cadenza.hookimpl\n    def {hook_name}(register):\n        {example}"
    )


@attrs.frozen
class _Contract:
    """What a registration hook's factories must return: a noun and the members called."""

    noun: str
    attributes: tuple[str, ...]
    methods: tuple[str, ...]
    doc: str


_CONTRACTS = {
    "cadenza_agent_kinds": _Contract(
        "an agent", ("name",), ("run", "aclose"), "docs/agents.md (the agent protocol)"
    ),
    "cadenza_routers": _Contract("a Router", (), ("choose",), "docs/routing.md"),
    "cadenza_aggregators": _Contract("an Aggregator", (), ("combine",), "docs/aggregation.md"),
    "cadenza_validators": _Contract("a Validator", (), ("validate",), "docs/validation.md"),
    "cadenza_fallbacks": _Contract("a fallback strategy", (), ("run",), "docs/resilience.md"),
}


def check_made(made: object, *, hook: str, name: str, plugin: str, factory: object) -> str:
    """Why ``made``, returned by ``factory`` (``name`` of ``hook``), cannot serve; else ``""``.

    ``""`` when it has every member the kernel uses; else a message naming the
    plugin, what was returned, what is missing and how to fix it.
    """
    contract = _CONTRACTS.get(hook)
    if contract is None:
        return ""
    missing = [a for a in contract.attributes if not hasattr(made, a)]
    missing += [m for m in contract.methods if not callable(getattr(made, m, None))]
    if not missing:
        return ""
    members = ", ".join([*contract.attributes, *(f"{m}()" for m in contract.methods)])
    if made is None:
        fix = "Make the factory `return` the object it built (without a return it gives None)."
    else:
        absent = ", ".join(m if m in contract.attributes else f"{m}()" for m in missing)
        fix = f"It lacks {absent}: return the object itself, not a description of it."
    return (
        f"{plugin}: the factory {_callable_name(factory)} registered as {name!r} through "
        f"{hook} returned {describe_returned(made)}, but it must return {contract.noun}: "
        f"an object with {members}. {fix} See {contract.doc}."
    )


def describe_returned(value: object, limit: int = 80) -> str:
    """``None``, else ``"a set {1, 2}"``: the type and a clipped repr, for messages."""
    if value is None:
        return "None"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    kind = type(value).__name__
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    return f"{article} {kind} {text}"


def _callable_name(fn: object) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return object_label(fn)


# -- message helpers -------------------------------------------------------------


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest of ``known`` to ``name``, else ``""``."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


def _module_name(plugin: object) -> str:
    module = inspect.getmodule(plugin)
    return module.__name__ if module is not None else object_label(plugin)
