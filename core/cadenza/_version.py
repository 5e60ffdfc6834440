"""Version numbers, in a module of their own so any module can import them without cycles."""

from __future__ import annotations

__version__ = "0.2.0.dev0"

HOOK_API_VERSION = "1.1"
"""The version of the hook API this kernel implements (see cadenza.hookspecs)."""
