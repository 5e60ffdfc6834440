"""Fixtures: a plugin manager holding only the kernel and this plugin."""

from __future__ import annotations

import pytest

import cadenza
import cadenza_assets


@pytest.fixture
def plugins() -> cadenza.plugins.Plugins:
    """Built-ins plus cadenza_assets, without scanning entry points (tests see only these)."""
    return cadenza.plugins.load_plugins(entry_points=False, extra=[cadenza_assets])
