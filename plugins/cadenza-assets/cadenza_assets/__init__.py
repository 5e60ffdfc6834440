"""cadenza-assets: the ``assets`` agent kind, which optimizes game assets for a platform.

Textures (PNG, JPEG, WebP, BMP, TGA, GIF, TIFF) are downscaled, stripped of
metadata and re-encoded in whichever allowed format is smallest; WAV files
are downmixed and resampled. Presets ``mobile``, ``desktop`` and ``web``
set the targets. The step's output is a report measured on the written
files. See README.md for the options and the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cadenza

from ._agent import AssetsAgent
from ._options import AssetsOptions

__version__ = "0.1.0"

CADENZA_HOOK_API = ">=1.0,<2"

CAPABILITIES = ("asset_optimization", "textures", "audio")
"""What every ``assets`` agent serves (steps may ``uses:`` any of them)."""


@cadenza.hookimpl
def cadenza_agent_kinds(register: Callable[..., Any]) -> None:
    """Register the ``assets`` agent kind."""
    register("assets", AssetsAgent.from_config, options=AssetsOptions, capabilities=CAPABILITIES)


__all__ = ["CADENZA_HOOK_API", "CAPABILITIES", "__version__", "cadenza_agent_kinds"]
