"""Plugin loading: discovery, the hook API fence, refusals, failures, duplicates, observers."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import structlog
from structlog.testing import capture_logs

import cadenza
from cadenza import _events as ev
from cadenza._plugins._registry import BUILTIN, PluginInfo, Plugins, load_plugins
from cadenza.hookspecs import Register, RegisterAgentKind, RegisterCommand

from .plugin_helpers import Site, clear_plugin_env, open_site

AGENT_KIND_PLUGIN = """
def make(config):
    raise NotImplementedError

@cadenza.hookimpl
def cadenza_agent_kinds(register):
    register("{kind}", make)
"""


@pytest.fixture(autouse=True)
def _plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_plugin_env(monkeypatch)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    yield from open_site(tmp_path, monkeypatch)


def load(**kwargs: Any) -> Plugins:
    """Load with nothing but what the test asks for (no built-ins unless requested)."""
    kwargs.setdefault("builtins", False)
    return load_plugins(**kwargs)


def info(plugins: Plugins, name: str) -> PluginInfo:
    (found,) = [i for i in plugins.infos if i.name == name]
    return found


def make_agent(config: cadenza.AgentConfig) -> cadenza.Agent:
    """A factory to register; these tests never build agents."""
    raise AssertionError("not called")


def finished(run_id: str = "r1") -> ev.Event:
    return ev.RunFinished(
        run_id=run_id, seq=0, at=0.0, status="succeeded", duration=1.0, counts={"succeeded": 1}
    )


# -- discovery -----------------------------------------------------------------


def test_builtin_plugin_is_listed_first() -> None:
    """The kernel's own plugin loads through the hooks and leads ``infos``."""
    plugins = load_plugins(entry_points=False)
    first = plugins.infos[0]
    assert first.name == BUILTIN == "cadenza (built-in)"
    assert first.status == "loaded"
    assert first.distribution == "cadenza"
    assert first.version == cadenza.__version__
    assert first.hooks == (
        "cadenza_agent_kinds",
        "cadenza_aggregators",
        "cadenza_executors",
        "cadenza_fallbacks",
        "cadenza_routers",
        "cadenza_stores",
        "cadenza_validators",
    )
    assert ("cadenza_stores", "sqlite") in first.registrations
    assert ("cadenza_agent_kinds", "http") in first.registrations
    assert ("cadenza_executors", "process") in first.registrations
    assert plugins.agent_kinds["http"].plugin == BUILTIN


def test_builtins_load_even_when_no_plugin_is_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty CADENZA_LOAD_PLUGINS still loads the built-in agent kinds."""
    monkeypatch.setenv("CADENZA_LOAD_PLUGINS", "")
    plugins = load_plugins()
    assert {"http", "python", "template"} <= set(plugins.agent_kinds)


def test_entry_point_plugin_is_found_and_recorded(site: Site) -> None:
    """A distribution with a ``cadenza`` entry point is imported, checked and recorded."""
    name = site.add_plugin("cadenza-foo", "0.3", AGENT_KIND_PLUGIN.format(kind="foo"))
    plugins = load(only=[name])
    assert info(plugins, "foo") == PluginInfo(
        name="foo",
        status="loaded",
        distribution="cadenza-foo",
        version="0.3",
        value="cadenza_foo",
        hooks=("cadenza_agent_kinds",),
        registrations=(("cadenza_agent_kinds", "foo"),),
    )
    assert plugins.agent_kinds["foo"].plugin == "cadenza-foo 0.3"
    assert plugins.labels["foo"] == "cadenza-foo 0.3"


def test_entry_point_may_name_an_object(site: Site) -> None:
    """``module:Object`` entry points load the object; the fence is read from its module."""
    site.add_dist(
        "cadenza-obj",
        "1.2",
        {"obj": "cadenza_obj:Plugin"},
        {
            "cadenza_obj": """
                import cadenza
                CADENZA_HOOK_API = ">=1.0,<2"

                class Plugin:
                    @staticmethod
                    @cadenza.hookimpl
                    def cadenza_routers(register):
                        register("round-robin", dict)
            """
        },
    )
    plugins = load(only=["obj"])
    assert info(plugins, "obj").status == "loaded"
    assert info(plugins, "obj").value == "cadenza_obj:Plugin"
    assert plugins.registered("cadenza_routers")["round-robin"].obj is dict


def test_registration_options_and_capabilities_are_kept() -> None:
    """``register(name, factory, options=..., capabilities=...)`` is recorded as given."""
    import attrs

    @attrs.frozen
    class Options:
        size: int = 1

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
            register("sized", make_agent, options=Options, capabilities=["vision", "text"])

    plugins = load(entry_points=False, extra=[Plugin])
    reg = plugins.agent_kinds["sized"]
    assert reg.options is Options
    assert reg.capabilities == frozenset({"vision", "text"})
    assert plugins.known_capabilities == frozenset({"vision", "text"})


def test_commands_are_collected_by_name() -> None:
    """``cadenza_commands`` registrations are keyed by the click command's name."""

    @click.command("hello")
    def hello() -> None:
        click.echo("hi")

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_commands(register: RegisterCommand) -> None:
            register(hello)

    plugins = load(entry_points=False, extra=[Plugin])
    assert plugins.registered("cadenza_commands")["hello"].obj is hello


def test_extra_plugins_with_the_same_class_name_do_not_clash() -> None:
    """Two ad-hoc plugin classes both called ``Plugin`` load side by side."""

    def make(kind: str) -> type:
        class Plugin:
            @staticmethod
            @cadenza.hookimpl
            def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
                register(kind, make_agent)

        return Plugin

    plugins = load(entry_points=False, extra=[make("a"), make("b")])
    assert set(plugins.agent_kinds) == {"a", "b"}
    assert [i.status for i in plugins.infos] == ["loaded", "loaded"]


def test_the_same_plugin_object_twice_is_refused_once() -> None:
    """Passing one plugin object twice raises, saying the second is already loaded."""

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
            register("once", make_agent)

    with pytest.raises(cadenza.plugins.PluginError, match="already loaded"):
        load(entry_points=False, extra=[Plugin, Plugin])


# -- the fence -----------------------------------------------------------------


def test_compatible_hook_api_loads(site: Site) -> None:
    """A plugin whose range contains this kernel's hook API version loads."""
    site.add_plugin("cadenza-ok", "1.0", AGENT_KIND_PLUGIN.format(kind="ok"), hook_api='"~=1.0"')
    assert info(load(only=["ok"]), "ok").status == "loaded"


def test_incompatible_hook_api_is_refused_with_the_versions_that_work(site: Site) -> None:
    """A plugin for an older hook API is refused, naming its range and this kernel's version."""
    site.add_plugin("cadenza-foo", "0.3", AGENT_KIND_PLUGIN.format(kind="foo"), hook_api='"<1.0"')
    plugins = load(only=["foo"])
    refused = info(plugins, "foo")
    assert refused.status == "refused"
    assert refused.error == (
        "cadenza-foo 0.3 supports hook API <1.0; this cadenza implements 1.1. "
        "Upgrade cadenza-foo, or install a cadenza that implements a version in its range."
    )
    assert "foo" not in plugins.agent_kinds
    assert not plugins.pm.has_plugin("foo")


def test_plugin_for_a_newer_hook_api_says_to_upgrade_cadenza(site: Site) -> None:
    """A plugin that needs a newer kernel is told which kernel to install."""
    site.add_plugin("cadenza-new", "3.0", AGENT_KIND_PLUGIN.format(kind="n"), hook_api='">=2.1"')
    refused = info(load(only=["new"]), "new")
    assert refused.status == "refused"
    assert refused.error == (
        "cadenza-new 3.0 supports hook API >=2.1; this cadenza implements 1.1. "
        "Upgrade cadenza to a release that implements a version in >=2.1, "
        "or install an older cadenza-new that supports 1.1."
    )


def test_missing_hook_api_declaration_is_refused(site: Site) -> None:
    """An installed plugin must declare CADENZA_HOOK_API; the message shows the line to add."""
    site.add_plugin("cadenza-bare", "0.1", AGENT_KIND_PLUGIN.format(kind="b"), hook_api=None)
    refused = info(load(only=["bare"]), "bare")
    assert refused.status == "refused"
    assert refused.error is not None
    assert refused.error.startswith("cadenza-bare 0.1 does not declare which hook API versions")
    assert 'CADENZA_HOOK_API = ">=1.1,<2"' in refused.error
    assert "cadenza_bare" in refused.error


def test_malformed_hook_api_declaration_is_refused(site: Site) -> None:
    """A declaration that is not a PEP 440 specifier is refused with an example."""
    site.add_plugin("cadenza-odd", "0.1", AGENT_KIND_PLUGIN.format(kind="o"), hook_api='"1.x"')
    refused = info(load(only=["odd"]), "odd")
    assert refused.status == "refused"
    assert "'1.x', which is not a PEP 440 version specifier" in (refused.error or "")


def test_extra_plugins_may_omit_the_declaration_but_not_break_it() -> None:
    """Ad-hoc plugins need no declaration, yet one that declares a wrong range is refused."""

    class Undeclared:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Register) -> None:
            register("a", dict)

    class TooOld:
        CADENZA_HOOK_API = "<1"

        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Register) -> None:
            register("b", dict)

    plugins = load(entry_points=False, extra=[Undeclared])
    assert [i.status for i in plugins.infos] == ["loaded"]
    assert set(plugins.registered("cadenza_routers")) == {"a"}
    with pytest.raises(cadenza.plugins.PluginError, match="supports hook API <1;"):
        load(entry_points=False, extra=[TooOld])


# -- failures and refusals --------------------------------------------------------


def test_import_failure_is_recorded_and_the_rest_still_load(site: Site) -> None:
    """A plugin that raises on import is ``failed`` with the exception; others are unaffected."""
    site.add_plugin("cadenza-broken", "0.2", "import cadenza_no_such_dependency\n")
    site.add_plugin("cadenza-fine", "1.0", AGENT_KIND_PLUGIN.format(kind="fine"))
    plugins = load(only=["broken", "fine"])
    broken = info(plugins, "broken")
    assert broken.status == "failed"
    assert broken.error == (
        "cadenza-broken 0.2: could not import entry point broken = cadenza_broken: "
        "ModuleNotFoundError: No module named 'cadenza_no_such_dependency'"
    )
    assert info(plugins, "fine").status == "loaded"
    assert "fine" in plugins.agent_kinds


def test_plugins_not_loaded_are_logged_as_warnings(site: Site) -> None:
    """Each failed or refused plugin logs one ``plugin_not_loaded`` warning; disabled ones don't."""
    site.add_plugin("cadenza-broken", "0.2", "raise ImportError('needs libfoo')\n")
    site.add_plugin("cadenza-old", "0.3", "", hook_api='"<1.0"')
    site.add_plugin("cadenza-off", "0.1", AGENT_KIND_PLUGIN.format(kind="off"))
    with capture_logs() as logs:
        load(only=["broken", "old"])
    assert [(e["event"], e["log_level"], e["plugin"], e["status"]) for e in logs] == [
        ("plugin_not_loaded", "warning", "cadenza-broken 0.2", "failed"),
        ("plugin_not_loaded", "warning", "cadenza-old 0.3", "refused"),
    ]


def test_async_hookimpl_is_refused_with_the_right_form(site: Site) -> None:
    """An ``async def`` registration hook is refused, showing the sync form and Agent.run."""
    site.add_plugin(
        "cadenza-aio",
        "0.1",
        """
        @cadenza.hookimpl
        async def cadenza_agent_kinds(register):
            register("aio", dict)
        """,
    )
    plugins = load(only=["aio"])
    refused = info(plugins, "aio")
    assert refused.status == "refused"
    error = refused.error or ""
    assert "cadenza-aio 0.1: cadenza_agent_kinds is an 'async def' hook implementation" in error
    assert "Wrong:\n    @cadenza.hookimpl\n    async def cadenza_agent_kinds(register):" in error
    assert "Right:\n    @cadenza.hookimpl\n    def cadenza_agent_kinds(register):" in error
    assert "async def run(self, request):  # await here" in error
    assert "aio" not in plugins.agent_kinds
    assert not plugins.pm.has_plugin("aio")


def test_async_observer_is_refused_with_a_channel_example() -> None:
    """An ``async def cadenza_on_event`` is told to hand events to a task it owns."""

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        async def cadenza_on_event(event: ev.Event) -> None:
            raise AssertionError("never awaited")

    with pytest.raises(cadenza.plugins.PluginError, match="was refused") as caught:
        load(entry_points=False, extra=[Plugin])
    error = str(caught.value)
    assert "async def cadenza_on_event(event):" in error
    assert "send_channel.send_nowait(event)" in error


def test_misspelt_hook_is_refused_with_did_you_mean(site: Site) -> None:
    """An unknown hook refuses its plugin only, suggesting the hook that was meant."""
    site.add_plugin(
        "cadenza-typo",
        "0.1",
        """
        @cadenza.hookimpl
        def cadenza_agent_kind(register):
            register("typo", dict)
        """,
    )
    site.add_plugin("cadenza-fine", "1.0", AGENT_KIND_PLUGIN.format(kind="fine"))
    plugins = load(only=["typo", "fine"])
    refused = info(plugins, "typo")
    assert refused.status == "refused"
    assert refused.error is not None
    assert refused.error.startswith(
        "cadenza-typo 0.1: unknown hook 'cadenza_agent_kind' in cadenza_typo. "
        "Did you mean 'cadenza_agent_kinds'?"
    )
    assert info(plugins, "fine").status == "loaded"
    plugins.pm.check_pending()  # nothing unverified is left behind


def test_optional_unknown_hook_is_allowed() -> None:
    """``optionalhook=True`` implementations of unknown hooks are accepted, as in pluggy."""

    class Plugin:
        @staticmethod
        @cadenza.hookimpl(optionalhook=True)
        def cadenza_someone_elses_hook() -> None:
            raise AssertionError("never called")

        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Register) -> None:
            register("r", dict)

    plugins = load(entry_points=False, extra=[Plugin])
    assert plugins.infos[0].status == "loaded"


def test_hookimpl_with_an_unknown_argument_is_refused() -> None:
    """pluggy's own validation (arguments not in the spec) refuses the plugin, naming them."""

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Register, extra: int) -> None:
            raise AssertionError("never called")

    with pytest.raises(cadenza.plugins.PluginError, match="was refused") as caught:
        load(entry_points=False, extra=[Plugin])
    assert "takes 'extra', which cadenza_routers does not pass" in str(caught.value)


def test_wrapper_hookimpl_is_refused() -> None:
    """Kernel hooks are called one implementation at a time, so wrappers are refused."""

    class Plugin:
        @staticmethod
        @cadenza.hookimpl(wrapper=True)
        def cadenza_on_event(event: ev.Event) -> Any:
            return (yield)

    with pytest.raises(cadenza.plugins.PluginError, match="wrappers are not supported"):
        load(entry_points=False, extra=[Plugin])


def test_plugin_without_hooks_is_refused(site: Site) -> None:
    """An entry point whose module has no ``@cadenza.hookimpl`` is refused, not silently empty."""
    site.add_plugin("cadenza-empty", "0.1", "def cadenza_agent_kinds(register):\n    pass\n")
    refused = info(load(only=["empty"]), "empty")
    assert refused.status == "refused"
    assert "implements no Cadenza hook" in (refused.error or "")


def test_raising_registration_hook_discards_partial_registrations(site: Site) -> None:
    """A plugin whose registration hook raises is ``failed`` and none of its names remain."""
    site.add_plugin(
        "cadenza-half",
        "0.1",
        AGENT_KIND_PLUGIN.format(kind="half")
        + """
seen = []

@cadenza.hookimpl
def cadenza_routers(register):
    raise RuntimeError("config file missing")

@cadenza.hookimpl
def cadenza_on_event(event):
    seen.append(event)
""",
    )
    plugins = load(only=["half"])
    failed = info(plugins, "half")
    assert failed.status == "failed"
    assert "RuntimeError: config file missing" in (failed.error or "")
    assert "registrations were discarded" in (failed.error or "")
    assert "half" not in plugins.agent_kinds
    plugins.emit(finished())
    assert sys.modules["cadenza_half"].seen == []  # its observer went with it


def test_bad_register_call_fails_the_plugin() -> None:
    """``capabilities="vision"`` (a string, not a collection) fails with the fix in the message."""

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
            register("v", make_agent, capabilities="vision")

    with pytest.raises(cadenza.plugins.PluginError, match="was failed") as caught:
        load(entry_points=False, extra=[Plugin])
    assert "write capabilities=('vision',)" in str(caught.value)


def test_registering_one_name_twice_fails_the_plugin() -> None:
    """A plugin registering the same name twice for one hook is ``failed``, not a duplicate."""

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Register) -> None:
            register("twice", dict)
            register("twice", dict)

    with pytest.raises(cadenza.plugins.PluginError, match="registers 'twice' twice"):
        load(entry_points=False, extra=[Plugin])


def test_register_after_the_hook_returned_is_an_error() -> None:
    """Keeping ``register`` and calling it later raises instead of registering silently."""
    kept: list[Register] = []

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Register) -> None:
            kept.append(register)

    plugins = load(entry_points=False, extra=[Plugin])
    with pytest.raises(cadenza.plugins.PluginError, match="after the hook returned"):
        kept[0]("late", dict)
    assert "late" not in plugins.registered("cadenza_routers")


# -- duplicates ------------------------------------------------------------------


def test_duplicate_names_across_two_plugins_name_both_distributions(site: Site) -> None:
    """Two distributions registering one agent kind raise, naming both."""
    site.add_plugin("cadenza-one", "1.0", AGENT_KIND_PLUGIN.format(kind="same"))
    site.add_plugin("cadenza-two", "2.0", AGENT_KIND_PLUGIN.format(kind="same"))
    with pytest.raises(cadenza.plugins.DuplicateRegistrationError) as info_:
        load(only=["one", "two"])
    exc = info_.value
    assert (exc.hook, exc.name, exc.first, exc.second) == (
        "cadenza_agent_kinds",
        "same",
        "cadenza-one 1.0",
        "cadenza-two 2.0",
    )
    assert str(exc).startswith(
        "cadenza_agent_kinds: 'same' is registered by both cadenza-one 1.0 and cadenza-two 2.0."
    )


def test_plugin_reusing_a_builtin_name_is_a_duplicate(site: Site) -> None:
    """Registering the built-in ``http`` kind again names the built-in plugin too."""
    site.add_plugin("cadenza-http2", "0.1", AGENT_KIND_PLUGIN.format(kind="http"))
    with pytest.raises(cadenza.plugins.DuplicateRegistrationError, match=r"cadenza \(built-in\)"):
        load_plugins(only=["http2"])


def test_duplicate_entry_point_names_raise(site: Site) -> None:
    """Two distributions claiming one entry-point name are a duplicate, too."""
    site.add_plugin("cadenza-a", "1.0", AGENT_KIND_PLUGIN.format(kind="a"), entry_point="x")
    site.add_dist("cadenza-b", "1.0", {"x": "cadenza_x"})
    with pytest.raises(
        cadenza.plugins.DuplicateRegistrationError, match="entry point group 'cadenza'"
    ):
        load(only=["x"])


# -- CADENZA_LOAD_PLUGINS --------------------------------------------------------


@pytest.fixture
def two_plugins(site: Site) -> Site:
    site.add_plugin("cadenza-alpha", "1.0", AGENT_KIND_PLUGIN.format(kind="alpha"))
    site.add_plugin("cadenza-beta", "1.0", AGENT_KIND_PLUGIN.format(kind="beta"))
    return site


def test_load_plugins_unset_loads_every_plugin(two_plugins: Site) -> None:
    """Without CADENZA_LOAD_PLUGINS every installed plugin loads."""
    plugins = load()
    assert {"alpha", "beta"} <= set(plugins.agent_kinds)


def test_load_plugins_empty_loads_none_and_imports_none(
    two_plugins: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty CADENZA_LOAD_PLUGINS disables every plugin without importing it."""
    monkeypatch.setenv("CADENZA_LOAD_PLUGINS", "")
    plugins = load()
    assert info(plugins, "alpha").status == "disabled"
    assert info(plugins, "beta").status == "disabled"
    assert info(plugins, "alpha").distribution == "cadenza-alpha"
    assert "cadenza_alpha" not in sys.modules
    assert not {"alpha", "beta"} & set(plugins.agent_kinds)


def test_load_plugins_list_loads_only_those(
    two_plugins: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CADENZA_LOAD_PLUGINS=beta loads beta and disables alpha."""
    monkeypatch.setenv("CADENZA_LOAD_PLUGINS", " beta ,")
    plugins = load()
    assert info(plugins, "beta").status == "loaded"
    assert info(plugins, "alpha").status == "disabled"
    assert "alpha" not in plugins.agent_kinds


def test_only_argument_wins_over_the_environment(
    two_plugins: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An explicit ``only=`` ignores CADENZA_LOAD_PLUGINS."""
    monkeypatch.setenv("CADENZA_LOAD_PLUGINS", "beta")
    plugins = load(only=["alpha"])
    assert "alpha" in plugins.agent_kinds
    assert "beta" not in plugins.agent_kinds


def test_unknown_name_in_load_plugins_is_reported(
    two_plugins: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelt CADENZA_LOAD_PLUGINS name is listed as failed with a did-you-mean."""
    monkeypatch.setenv("CADENZA_LOAD_PLUGINS", "alpah")
    plugins = load()
    missing = info(plugins, "alpah")
    assert missing.status == "failed"
    assert missing.error is not None
    assert missing.error.startswith("CADENZA_LOAD_PLUGINS asks for plugin 'alpah'")
    assert "Did you mean 'alpha'?" in missing.error


def test_entry_points_false_skips_discovery(two_plugins: Site) -> None:
    """``entry_points=False`` loads no installed plugin at all."""
    plugins = load(entry_points=False)
    assert plugins.infos == []


# -- observers and tracing ---------------------------------------------------------


def test_observers_receive_emitted_events() -> None:
    """Every ``cadenza_on_event`` implementation receives each emitted event."""
    seen: list[tuple[str, ev.Event]] = []

    def observer(tag: str) -> type:
        class Plugin:
            @staticmethod
            @cadenza.hookimpl
            def cadenza_on_event(event: ev.Event) -> None:
                seen.append((tag, event))

        return Plugin

    plugins = load(entry_points=False, extra=[observer("a"), observer("b")])
    event = finished()
    plugins.emit(event)
    assert sorted(seen, key=lambda item: item[0]) == [("a", event), ("b", event)]
    assert [label for label, _ in plugins.observers()] == [
        plugins.infos[1].name,
        plugins.infos[0].name,
    ]  # pluggy order: last registered first


def test_failing_observer_is_logged_once_and_disabled() -> None:
    """An observer that raises is logged and skipped afterwards; the others keep receiving."""
    calls: list[str] = []

    class Bad:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_on_event(event: ev.Event) -> None:
            calls.append("bad")
            raise ValueError("boom")

    class Good:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_on_event(event: ev.Event) -> None:
            calls.append("good")

    plugins = load(entry_points=False, extra=[Bad, Good])
    with capture_logs() as logs:
        plugins.emit(finished())
        plugins.emit(finished())
    assert sorted(calls) == ["bad", "good", "good"]
    failures = [entry for entry in logs if entry["event"] == "observer_failed"]
    assert len(failures) == 1
    assert failures[0]["plugin"].endswith("Bad")
    assert failures[0]["event_kind"] == "run_finished"


def test_trace_hooks_logs_every_hook_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """CADENZA_TRACE_HOOKS=1 logs registration calls, observer calls and pluggy's own trace."""
    monkeypatch.setenv("CADENZA_TRACE_HOOKS", "1")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_routers(register: Register) -> None:
            register("r", dict)

        @staticmethod
        @cadenza.hookimpl
        def cadenza_on_event(event: ev.Event) -> None:
            pass

    with capture_logs() as logs:
        plugins = load(entry_points=False, extra=[Plugin])
        plugins.emit(finished())
        plugins.pm.hook.cadenza_on_event(event=finished())
    called = [(e["hook"], e["log_level"]) for e in logs if e["event"] == "hook_called"]
    assert ("cadenza_routers", "debug") in called
    assert ("cadenza_on_event", "debug") in called
    assert any(e["event"] == "hook_trace" and "cadenza_on_event" in e["message"] for e in logs)


def test_no_hook_logs_without_tracing() -> None:
    """Without CADENZA_TRACE_HOOKS, loading and emitting log nothing, not even at debug level."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))

    class Plugin:
        @staticmethod
        @cadenza.hookimpl
        def cadenza_on_event(event: ev.Event) -> None:
            pass

    with capture_logs() as logs:
        plugins = load(entry_points=False, extra=[Plugin])
        plugins.emit(finished())
    assert logs == []


def test_plugin_info_to_dict_is_json_ready() -> None:
    """``PluginInfo.to_dict`` gives what ``cadenza plugins --json`` prints."""
    record = PluginInfo(
        name="foo",
        status="loaded",
        distribution="cadenza-foo",
        version="0.3",
        value="cadenza_foo",
        hooks=("cadenza_agent_kinds",),
        registrations=(("cadenza_agent_kinds", "foo"),),
    )
    assert record.to_dict() == {
        "name": "foo",
        "distribution": "cadenza-foo",
        "version": "0.3",
        "entry_point": "cadenza_foo",
        "status": "loaded",
        "hooks": ["cadenza_agent_kinds"],
        "registrations": [{"hook": "cadenza_agent_kinds", "name": "foo"}],
        "error": None,
    }
    assert record.label == "cadenza-foo 0.3"


# -- hints for what no plugin registered ---------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def kind_hint(plugins: Plugins, kind: str) -> str:
    """The hint of the one problem loading a workflow whose agent has ``kind``."""
    text = f"agents: {{a: {{kind: {kind}}}}}\nsteps: {{s: {{uses: a}}}}\n"
    with pytest.raises(cadenza.WorkflowError) as caught:
        cadenza.load_workflow_text(text, plugins=plugins)
    (problem,) = caught.value.problems
    assert problem.message == f"unknown agent kind {kind!r}"
    return problem.hint or ""


def test_misspelt_kind_gets_did_you_mean_and_no_package_to_install() -> None:
    """``kind: templat`` suggests 'template' and never ``pip install cadenza-templat``."""
    hint = kind_hint(load_plugins(entry_points=False), "templat")
    assert hint == "Did you mean 'template'? Known kinds: http, python, template."


def test_missing_first_party_kind_names_its_plugin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``kind: openai`` without its plugin says ``pip install cadenza-openai``."""
    monkeypatch.chdir(tmp_path)
    hint = kind_hint(load_plugins(entry_points=False), "openai")
    assert "The first-party plugin cadenza-openai provides it: pip install cadenza-openai" in hint


def test_missing_first_party_kind_in_a_checkout_gives_the_editable_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From a source checkout, the hint also gives ``pip install -e plugins/cadenza-<name>``."""
    if not (REPO / "plugins" / "cadenza-docgen" / "pyproject.toml").is_file():
        pytest.skip("not running from a checkout with plugins/")
    monkeypatch.chdir(REPO)
    hint = kind_hint(load_plugins(entry_points=False), "docgen")
    assert hint.endswith(
        "pip install cadenza-docgen (from this checkout: pip install -e plugins/cadenza-docgen)."
    )


def test_refused_plugin_named_like_the_kind_gives_its_reason(site: Site) -> None:
    """An installed but refused ``cadenza-openai``: its refusal, not a ``pip install`` hint."""
    site.add_plugin("cadenza-openai", "0.3", "", hook_api='"<1.0"')
    hint = kind_hint(load_plugins(only=["openai"]), "openai")
    assert hint.startswith(
        "Known kinds: http, python, template. The installed plugin cadenza-openai 0.3 may "
        "provide it, but it was refused: cadenza-openai 0.3 supports hook API <1.0; "
    )
    assert hint.endswith("(see `cadenza plugins`).")
    assert "pip install" not in hint


def test_disabled_plugin_named_like_the_kind_says_how_to_enable_it(site: Site) -> None:
    """A plugin left out by CADENZA_LOAD_PLUGINS is named, with how to load it."""
    site.add_plugin("cadenza-shout", "1.0", AGENT_KIND_PLUGIN.format(kind="shout"))
    hint = kind_hint(load_plugins(only=[]), "shout")
    assert hint.endswith(
        "The installed plugin cadenza-shout 1.0 may provide it, but CADENZA_LOAD_PLUGINS "
        "leaves it out: add shout to CADENZA_LOAD_PLUGINS."
    )


def test_unknown_strategy_names_the_plugins_that_did_not_load(site: Site) -> None:
    """An unknown router, with a plugin that failed to import: that plugin is named."""
    site.add_plugin("cadenza-routing", "2.0", "raise ImportError('needs libfoo')\n")
    plugins = load_plugins(only=["routing"])
    text = "agents: {a: {kind: template}}\nroute: smart\nsteps: {s: {uses: a}}\n"
    with pytest.raises(cadenza.WorkflowError) as caught:
        cadenza.load_workflow_text(text, plugins=plugins)
    (problem,) = caught.value.problems
    assert problem.message == "unknown routing strategy 'smart'"
    assert (problem.hint or "").endswith(
        "Installed plugins that did not load may provide it: cadenza-routing 2.0 (failed); "
        "see `cadenza plugins`."
    )


def test_the_builtin_plugin_declares_a_range_this_kernel_is_in() -> None:
    """The loader skips the built-in plugin's fence check, so check it here."""
    from cadenza._plugins import _builtins
    from cadenza._plugins._checks import check_fence

    assert _builtins.CADENZA_HOOK_API
    assert (
        check_fence(_builtins, label="builtin", distribution="cadenza", require_declaration=True)
        == ""
    )
