"""The plugin is found through its entry point and registers the ``docgen`` kind."""

from __future__ import annotations

import cadenza
import cadenza.testing
import cadenza_docgen
from cadenza_docgen import DocgenAgent, DocgenOptions


def test_entry_point_loads_the_docgen_kind() -> None:
    """``load_plugins()`` finds distribution cadenza-docgen and its registration."""
    plugins = cadenza.plugins.load_plugins(only=["docgen"])
    info = next(i for i in plugins.infos if i.name == "docgen")
    assert info.status == "loaded", info.error
    assert (info.distribution, info.version) == ("cadenza-docgen", cadenza_docgen.__version__)
    assert info.value == "cadenza_docgen"
    assert info.hooks == ("cadenza_agent_kinds",)
    assert info.registrations == (("cadenza_agent_kinds", "docgen"),)
    kind = plugins.agent_kinds["docgen"]
    assert kind.obj == DocgenAgent.from_config
    assert kind.options is DocgenOptions
    assert kind.capabilities == frozenset({"documentation"})


def test_cadenza_plugins_shows_it() -> None:
    """``cadenza plugins --json`` lists the plugin as loaded, with what it registers."""
    entry = cadenza.testing.listed_plugins("docgen")["docgen"]
    assert entry["distribution"] == "cadenza-docgen"
    assert entry["status"] == "loaded"
    assert entry["registrations"] == [{"hook": "cadenza_agent_kinds", "name": "docgen"}]


def test_agents_have_the_documentation_capability() -> None:
    """A step can say ``uses: documentation`` instead of naming the agent."""
    config = cadenza.AgentConfig(name="docs", kind="docgen", options=DocgenOptions())
    agent = DocgenAgent.from_config(config)
    assert isinstance(agent, cadenza.Agent)
    assert agent.capabilities == frozenset({"documentation"})


def test_public_names() -> None:
    """The package's public API is exactly this (everything else is private)."""
    assert sorted(cadenza_docgen.__all__) == [
        "CADENZA_HOOK_API",
        "DocgenAgent",
        "DocgenOptions",
        "__version__",
        "cadenza_agent_kinds",
    ]
    assert DocgenAgent.__module__ == "cadenza_docgen"
