"""A tiny Cadenza plugin: the ``tiny`` agent kind counts the words of a text input."""

from __future__ import annotations

import attrs

import cadenza
from cadenza.hookspecs import RegisterAgentKind

CADENZA_HOOK_API = ">=1.0,<2"


@attrs.frozen(kw_only=True)
class TinyOptions:
    """Options of a ``tiny`` agent: ``field`` names the input that holds the text."""

    field: str = "text"


@attrs.define(eq=False)
class TinyAgent:
    """Counts the words (whitespace-separated) of one input of each request."""

    name: str
    field: str = "text"
    capabilities: frozenset[str] = frozenset({"count-words"})

    @classmethod
    def from_config(cls, config: cadenza.AgentConfig) -> TinyAgent:
        options = config.options
        field = options.field if isinstance(options, TinyOptions) else options.get("field", "text")
        return cls(
            name=config.name,
            field=field,
            capabilities=frozenset({"count-words"}) | config.capabilities,
        )

    async def run(self, request: cadenza.AgentRequest) -> cadenza.AgentResult:
        text = request.inputs.get(self.field)
        if not isinstance(text, str):
            raise cadenza.PermanentError(
                f"tiny agent {self.name!r}: input {self.field!r} must be a string, "
                f"got {type(text).__name__}",
                agent=self.name,
                step_id=request.step_id,
            )
        return cadenza.AgentResult(output={"words": len(text.split())})

    async def aclose(self) -> None:
        return None


@cadenza.hookimpl
def cadenza_agent_kinds(register: RegisterAgentKind) -> None:
    register("tiny", TinyAgent.from_config, options=TinyOptions, capabilities=("count-words",))
