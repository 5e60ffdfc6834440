"""cadenza-docgen: the ``docgen`` agent kind writes Markdown API docs from C# and Python sources.

C# (Unity scripts included) is parsed with tree-sitter, Python with ``ast``;
nothing is compiled, imported or run. Undocumented public API can be
summarised by an LLM agent of the same run (``enrich_with``), always marked
as generated. See the README for inputs, options and the output.
"""

from __future__ import annotations

import cadenza
from cadenza.hookspecs import RegisterAgentKind

from ._agent import CAPABILITY, DocgenAgent
from ._options import DocgenOptions

__version__ = "0.1.0"

CADENZA_HOOK_API = ">=1.0,<2"

__all__ = ["CADENZA_HOOK_API", "DocgenAgent", "DocgenOptions", "__version__", "cadenza_agent_kinds"]

for _cls in (DocgenAgent, DocgenOptions):
    _cls.__module__ = __name__  # tracebacks and reprs say cadenza_docgen.DocgenAgent
del _cls


@cadenza.hookimpl
def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
    """Register the ``docgen`` agent kind (capability ``documentation``)."""
    register("docgen", DocgenAgent.from_config, options=DocgenOptions, capabilities=(CAPABILITY,))
