"""Fixtures: a fresh plugin manager with this plugin, and a fake OpenAI server per test."""

from __future__ import annotations

import pytest
import trio

import cadenza
import cadenza_openai
from cadenza_openai.testing import FakeOpenAI


@pytest.fixture
def plugins() -> cadenza.plugins.Plugins:
    """The built-ins plus this plugin, loaded as an extra (installed plugins are left out)."""
    return cadenza.plugins.load_plugins(extra=[cadenza_openai], entry_points=False)


@pytest.fixture
async def server(nursery: trio.Nursery) -> FakeOpenAI:
    """A fake OpenAI-compatible server on 127.0.0.1, stopped when the test ends."""
    started: FakeOpenAI = await nursery.start(FakeOpenAI().serve)
    return started
