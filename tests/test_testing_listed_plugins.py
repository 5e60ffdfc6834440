"""cadenza.testing.listed_plugins: what `cadenza plugins --json` shows, run as a user runs it."""

from __future__ import annotations

import pytest

from cadenza.testing import listed_plugins


@pytest.mark.slow
def test_listed_plugins_shows_the_built_ins_and_a_missing_plugin_by_name() -> None:
    """Entries are keyed by name; a plugin asked for but not installed is listed as failed."""
    listed = listed_plugins("no_such_plugin")
    builtins = listed["cadenza (built-in)"]
    assert builtins["status"] == "loaded"
    assert {"hook": "cadenza_agent_kinds", "name": "http"} in builtins["registrations"]
    missing = listed["no_such_plugin"]
    assert missing["status"] == "failed"
    assert "no installed distribution" in missing["error"]


@pytest.mark.slow
def test_listed_plugins_loads_only_the_plugins_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's CADENZA_LOAD_PLUGINS is replaced: with no names, no installed plugin loads."""
    monkeypatch.setenv("CADENZA_LOAD_PLUGINS", "no_such_plugin")
    listed = listed_plugins()
    assert "no_such_plugin" not in listed
    assert all(
        entry["status"] != "loaded" for name, entry in listed.items() if "built-in" not in name
    )
