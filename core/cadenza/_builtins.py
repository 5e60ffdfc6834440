"""The kernel's own plugin: built-in agent kinds, registered like any plugin's."""

from __future__ import annotations

from ._agents._http import HttpAgent, HttpOptions
from ._agents._python import PythonAgent, PythonOptions
from ._agents._template import TemplateAgent, TemplateOptions
from .hookspecs import RegisterAgentKind, hookimpl

CADENZA_HOOK_API = ">=1.0,<2"


@hookimpl
def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
    register("http", HttpAgent.from_config, options=HttpOptions)
    register("python", PythonAgent.from_config, options=PythonOptions)
    register("template", TemplateAgent.from_config, options=TemplateOptions)
