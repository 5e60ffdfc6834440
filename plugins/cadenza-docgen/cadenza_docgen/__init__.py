"""cadenza-docgen: the ``docgen`` agent kind writes Markdown API docs from C# and Python sources.

C# (Unity scripts included) is parsed with tree-sitter, Python with ``ast``;
nothing is compiled, imported or run. Undocumented public API can be
summarised by an LLM agent of the same run (``enrich_with``), always marked
as generated. See the README for inputs, options and the output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cadenza.hookspecs import RegisterAgentKind, hookimpl

if TYPE_CHECKING:
    from ._agent import DocgenAgent as DocgenAgent
    from ._options import DocgenOptions as DocgenOptions

__version__ = "0.1.0"

CADENZA_HOOK_API = ">=1.1,<2"  # options_as and executor_for are hook API 1.1

__all__ = ["CADENZA_HOOK_API", "DocgenAgent", "DocgenOptions", "__version__", "cadenza_agent_kinds"]


def __getattr__(name: str) -> Any:
    """``DocgenAgent`` and ``DocgenOptions``, imported on first use.

    Importing this package stays cheap: a worker process parsing a chunk
    (``cadenza_docgen._parse.parse_chunk``) imports the package first, and
    needs neither the agent nor trio.
    """
    if name == "DocgenAgent":
        from ._agent import DocgenAgent

        return DocgenAgent
    if name == "DocgenOptions":
        from ._options import DocgenOptions

        return DocgenOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@hookimpl
def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
    """Register the ``docgen`` agent kind (capability ``documentation``)."""
    from ._agent import CAPABILITY, DocgenAgent
    from ._options import DocgenOptions

    register("docgen", DocgenAgent.from_config, options=DocgenOptions, capabilities=(CAPABILITY,))
