"""cadenza-assets: the ``assets`` agent kind, which optimizes game assets for a platform.

Textures (PNG, JPEG, WebP, BMP, TGA, GIF, TIFF) are downscaled, stripped of
metadata and re-encoded in whichever allowed format is smallest; WAV files
are downmixed and resampled. Presets ``mobile``, ``desktop`` and ``web``
set the targets. The step's output is a report measured on the written
files. See README.md for the options and the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cadenza.hookspecs import hookimpl

if TYPE_CHECKING:
    from ._agent import AssetsAgent as AssetsAgent
    from ._options import AssetsOptions as AssetsOptions

__version__ = "0.1.0"

CADENZA_HOOK_API = ">=1.1,<2"  # executor_for and default_executor are hook API 1.1

CAPABILITIES = ("asset_optimization", "textures", "audio")
"""What every ``assets`` agent serves (steps may ``uses:`` any of them)."""


@hookimpl
def cadenza_agent_kinds(register: Callable[..., Any]) -> None:
    """Register the ``assets`` agent kind, on the ``process`` executor unless told otherwise."""
    from ._agent import DEFAULT_EXECUTOR, AssetsAgent
    from ._options import AssetsOptions

    register(
        "assets",
        AssetsAgent.from_config,
        options=AssetsOptions,
        capabilities=CAPABILITIES,
        default_executor=DEFAULT_EXECUTOR,
    )


__all__ = ["CADENZA_HOOK_API", "CAPABILITIES", "__version__", "cadenza_agent_kinds"]


def __getattr__(name: str) -> Any:
    """``AssetsAgent`` and ``AssetsOptions``, imported on first use.

    Importing this package stays cheap: a worker process that runs a job
    (``cadenza_assets._jobs.run_job``) imports the package first, and needs
    neither the agent nor trio.
    """
    if name == "AssetsAgent":
        from ._agent import AssetsAgent

        return AssetsAgent
    if name == "AssetsOptions":
        from ._options import AssetsOptions

        return AssetsOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
