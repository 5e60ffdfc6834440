"""The plugin is found through its entry point and shown by `cadenza plugins`."""

from __future__ import annotations

import importlib.metadata

import cadenza
import cadenza.testing
import cadenza_openai

REGISTRATIONS = (("cadenza_agent_kinds", "openai"), ("cadenza_fallbacks", "openai_template"))


def test_entry_point_loads_the_plugin() -> None:
    """load_plugins() with entry points finds cadenza-openai and what it registers."""
    plugins = cadenza.plugins.load_plugins(only=["openai"])
    (info,) = [i for i in plugins.infos if i.name == "openai"]
    assert info.status == "loaded", info.error
    assert info.distribution == "cadenza-openai"
    assert info.version == cadenza_openai.__version__
    assert info.value == "cadenza_openai"
    assert info.registrations == REGISTRATIONS
    kind = plugins.agent_kinds["openai"]
    assert kind.capabilities == frozenset({"code", "documentation", "tests", "testing"})
    assert "openai_template" in plugins.registered("cadenza_fallbacks")


def test_cadenza_plugins_command_shows_it() -> None:
    """`cadenza plugins --json` lists the plugin as loaded, with its registrations."""
    listed = cadenza.testing.listed_plugins("openai")
    assert listed["openai"]["status"] == "loaded"
    assert listed["openai"]["distribution"] == "cadenza-openai"
    registered = [(r["hook"], r["name"]) for r in listed["openai"]["registrations"]]
    assert registered == list(REGISTRATIONS)


def test_version_matches_the_distribution() -> None:
    """__version__ is the installed distribution's version."""
    assert cadenza_openai.__version__ == importlib.metadata.version("cadenza-openai")


def test_declares_the_hook_api_it_supports() -> None:
    """The hook API range includes this kernel's version."""
    assert cadenza_openai.CADENZA_HOOK_API == ">=1.0,<2"
    assert cadenza.plugins.HOOK_API_VERSION.startswith("1.")
